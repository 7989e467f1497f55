"""The function URL front: an ``http`` trigger answers on its own hosts, and the request becomes the event.

Hosts (doc 583/96099 zh, 583/69491 intl): ``<appid>-<url-id>.<region>.tencentscf.com`` and the older
``<appid>-<url-id>-<region>.scf.tencentcs.com`` (private network: ``.in.<region>.tencentscf.com`` /
``-<region>-in.scf.tencentcs.com``). Server mode also answers ``http://127.0.0.1:PORT/_function-url/<url-id>/...``
(emulator-only, no proxy needed; the prefix is not part of the event's ``path``).

Event (doc 583/96099, "compatible with the apigw protocol, without headerParameters, isBase64Encoded,
pathParameters, queryStringParameters, requestContext"): ``{"body", "headers", "httpMethod", "path",
"queryString"}``, header names lower-case, ``x-scf-remote-addr`` the client's IP. Response (same page):
``{"statusCode", "headers", "body", "isBase64Encoded"?}`` becomes the reply; any other valid JSON return
is sent with 200 and ``application/json``. CORS from the trigger's ``CorsConfig`` (doc 583/100227).
Choices are in FIDELITY.md (## Function URL).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any, Optional
from urllib.parse import unquote, unquote_plus

from tencent_emulator.core.http import Request, Response
from tencent_emulator.core.tc3 import LOOPBACK
from tencent_emulator.scf.models import LOCAL_URL_PREFIX, SYNC_EVENT_LIMIT, HttpTrigger, ScfModel

HOST_FORMS = (
    re.compile(r"^(?P<appid>\d+)-(?P<id>[a-z0-9]+)\.(?P<in>in\.)?(?P<region>[a-z]+-[a-z0-9-]+)\.tencentscf\.com$"),
    re.compile(r"^(?P<appid>\d+)-(?P<id>[a-z0-9]+)-(?P<region>[a-z]+-[a-z0-9-]+?)(?P<in>-in)?\.scf\.tencentcs\.com$"),
)
LOCAL_PATH = re.compile(r"^" + re.escape(LOCAL_URL_PREFIX) + r"(?P<id>[a-z0-9]+)(?P<rest>/.*)?$")
DROPPED_HEADERS = {"host"}  # neither documented event carries a host header (doc 583/96099; a user's real event)


def parse_query(raw: str) -> dict[str, Any]:
    """``queryString``: a string per key, a list for a repeated key, ``True`` for a key without ``=``
    (the apigw rules the function URL event is compatible with; tencent-scf.md §2.2)."""
    out: dict[str, Any] = {}
    for part in raw.split("&"):
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            value: Any = unquote_plus(v)
        else:
            k, value = part, True
        key = unquote_plus(k)
        if key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


def json_reply(status: int, payload: Any, request_id: str, extra: Optional[dict[str, str]] = None) -> Response:
    headers = {"Content-Type": "application/json", "X-Scf-Request-Id": request_id, **(extra or {})}
    return Response(status, headers, json.dumps(payload).encode("utf-8"))


def platform_error(status: int, code: str, message: str, request_id: str) -> Response:
    """⚠ The platform's own refusals (no route, CAM, CORS, size): shape guessed."""
    return json_reply(status, {"errorCode": code, "errorMessage": message, "requestId": request_id}, request_id)


class FunctionUrlFront:
    """Routes function URL hosts (and the loopback alias) to their http trigger's function."""

    service = "scf"

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    @property
    def model(self) -> ScfModel:
        model: ScfModel = self.cloud.scf
        return model

    # -- routing -------------------------------------------------------------------------------
    def _target(self, req: Request) -> Optional[tuple[str, str, bool, str, Optional[str]]]:
        """(url id, path, intranet?, appid, region) from the host, or from the loopback alias."""
        for form in HOST_FORMS:
            m = form.match(req.host)
            if m:
                return m.group("id"), req.path or "/", bool(m.group("in")), m.group("appid"), m.group("region")
        if req.host in LOOPBACK:
            lm = LOCAL_PATH.match(req.path)
            if lm:
                return lm.group("id"), lm.group("rest") or "/", False, self.cloud.app_id, None
        return None

    def match(self, req: Request) -> bool:
        return self._target(req) is not None

    def classify(self, req: Request) -> str:
        return "InvokeFunctionUrl"

    # -- handling ------------------------------------------------------------------------------
    def handle(self, req: Request, action: str) -> Response:
        request_id = str(uuid.uuid4())
        target = self._target(req)
        assert target is not None
        url_id, raw_path, intranet, appid, region = target
        trig = self.model.http_trigger_for_url(url_id)
        if (
            trig is None
            or appid != self.cloud.app_id
            or (region is not None and region != trig.region)
            or (intranet and not trig.enable_intranet)
            or (not intranet and region is not None and not trig.enable_extranet)
        ):
            return platform_error(404, "ResourceNotFound.FunctionUrl", f"No function URL at {req.host}.", request_id)
        if not trig.enabled:
            return platform_error(404, "ResourceNotFound.FunctionUrl", "The function URL is disabled.", request_id)
        if trig.auth_type == "CAM":
            # The emulator does not verify CAM signatures for function URLs: it refuses what it cannot check.
            why = "unsigned request" if not req.headers.get("Authorization") else "CAM signatures are not modelled"
            return platform_error(403, "UnauthorizedOperation.CAM", f"CAM authentication failed: {why}.", request_id)
        cors = trig.cors if trig.cors and trig.cors.get("Enable", True) else None
        origin = req.headers.get("Origin")
        if cors is not None and req.method == "OPTIONS" and origin and req.headers.get("Access-Control-Request-Method"):
            return self._preflight(req, cors, origin, request_id)
        fn = self.model.functions.get(trig.function)
        if fn is not None:
            self.model.get(fn.name, fn.namespace)  # settles a Creating/Updating whose time has come
        if fn is None:
            return platform_error(404, "ResourceNotFound.Function", "The function does not exist.", request_id)
        if fn.status not in ("Active", "Updating", "UpdateFailed"):
            return platform_error(
                503, "FailedOperation.FunctionStatusError", f"The function is {fn.status}.", request_id
            )
        body = req.read_body()
        if len(body) > SYNC_EVENT_LIMIT:
            return platform_error(413, "InvalidParameter.RequestTooLarge", "The request body is over 6 MB.", request_id)
        event = self.event(req, raw_path, body, request_id)
        rec, outcome = self.model.invoke(fn.name, event, source="http", namespace=fn.namespace)
        cors_headers = self._cors_headers(cors, origin)
        if outcome.status == "throttled":
            return json_reply(432, outcome.error, rec.request_id, cors_headers)
        if outcome.status != "ok":
            status = 504 if outcome.status == "timeout" else 502
            return json_reply(status, outcome.error, rec.request_id, cors_headers)
        reply = self.reply(outcome.result, rec.request_id)
        reply.headers.update(cors_headers)
        return reply

    def event(self, req: Request, path: str, body: bytes, request_id: str) -> dict[str, Any]:
        """The documented event, keys in the documented order."""
        headers = {k: v for k, v in req.headers.lower_items() if k not in DROPPED_HEADERS}
        headers["x-scf-remote-addr"] = req.client
        headers["x-scf-request-id"] = request_id
        event: dict[str, Any] = {"body": "", "headers": headers, "httpMethod": req.method}
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")  # ⚠ binary bodies: base64, flagged
            event["isBase64Encoded"] = True
        event["path"] = unquote(path)
        event["queryString"] = parse_query(req.raw_query)
        return event

    @staticmethod
    def reply(result: Any, request_id: str) -> Response:
        """A return with ``statusCode`` is the HTTP reply; any other JSON value is a 200 ``application/json`` body."""
        if not isinstance(result, dict) or "statusCode" not in result:
            return json_reply(200, result, request_id)
        status = result.get("statusCode")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            return platform_error(502, "FailedOperation.InvalidResponse", "statusCode must be an integer.", request_id)
        raw_headers = result.get("headers") or {}
        if not isinstance(raw_headers, dict):
            return platform_error(502, "FailedOperation.InvalidResponse", "headers must be an object.", request_id)
        headers = {
            str(k): ", ".join(str(x) for x in v) if isinstance(v, list) else str(v) for k, v in raw_headers.items()
        }
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        body = result.get("body", "")
        if result.get("isBase64Encoded") is True:
            try:
                data = base64.b64decode(str(body), validate=True)
            except (binascii.Error, ValueError):
                return platform_error(502, "FailedOperation.InvalidResponse", "body is not base64.", request_id)
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        headers["X-Scf-Request-Id"] = request_id
        return Response(status, headers, data)

    # -- CORS (CorsConfig, doc 583/100227) ------------------------------------------------------
    @staticmethod
    def _origin_allowed(cors: dict[str, Any], origin: Optional[str]) -> bool:
        return bool(origin) and ("*" in cors["Origins"] or origin in cors["Origins"])

    def _allow_origin(self, cors: dict[str, Any], origin: str) -> str:
        return "*" if "*" in cors["Origins"] and not cors.get("Credentials") else origin

    def _preflight(self, req: Request, cors: dict[str, Any], origin: str, request_id: str) -> Response:
        """Answered by the platform, without invoking the function."""
        method = req.headers.get("Access-Control-Request-Method", "").upper()
        wanted = [
            h.strip().lower() for h in req.headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()
        ]
        allowed_headers = {h.lower() for h in cors["Headers"]}
        if (
            not self._origin_allowed(cors, origin)
            or not ("*" in cors["Methods"] or method in cors["Methods"])
            or not ("*" in allowed_headers or all(h in allowed_headers for h in wanted))
        ):
            return platform_error(403, "FailedOperation.CorsNotAllowed", "CORS preflight refused.", request_id)
        headers = {
            "Access-Control-Allow-Origin": self._allow_origin(cors, origin),
            "Access-Control-Allow-Methods": ", ".join(cors["Methods"]) if cors["Methods"] else method,
            "Vary": "Origin",
            "X-Scf-Request-Id": request_id,
        }
        if wanted:
            headers["Access-Control-Allow-Headers"] = ", ".join(cors["Headers"]) or ", ".join(wanted)
        if "MaxAge" in cors:
            headers["Access-Control-Max-Age"] = str(cors["MaxAge"])
        if cors.get("Credentials"):
            headers["Access-Control-Allow-Credentials"] = "true"
        return Response(200, headers, b"")

    def _cors_headers(self, cors: Optional[dict[str, Any]], origin: Optional[str]) -> dict[str, str]:
        if cors is None or not origin or not self._origin_allowed(cors, origin):
            return {}
        out = {"Access-Control-Allow-Origin": self._allow_origin(cors, origin), "Vary": "Origin"}
        if cors["ExposeHeaders"]:
            out["Access-Control-Expose-Headers"] = ", ".join(cors["ExposeHeaders"])
        if cors.get("Credentials"):
            out["Access-Control-Allow-Credentials"] = "true"
        return out

    def render_error(
        self, req: Request, action: str, code: str, status: int, message: Optional[str], *, as_200: bool = False
    ) -> Response:
        return platform_error(200 if as_200 else status, code, message or code, str(uuid.uuid4()))


__all__ = ["FunctionUrlFront", "HttpTrigger", "parse_query"]
