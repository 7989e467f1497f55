"""API Gateway's front: an HTTP request to a service becomes the documented APIGW event, the
function's integrated response becomes the HTTP reply.

Event shape: reference/events/apigw-request.json and tencent-scf.md §2.1-2.2; response rules and
the invalid-format error: §2.3; the no-route reply is the one users pasted from the real gateway
(``{"message":"There is no api match uri ..."}``). Choices are listed in FIDELITY.md (## API Gateway).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from typing import Any, Optional
from urllib.parse import unquote, unquote_plus

from tencent_emulator.apigw.models import ApigwModel, ApiService, Route
from tencent_emulator.core.http import Request, Response
from tencent_emulator.core.tc3 import AUTH_RE, LOOPBACK

INVALID_FORMAT = {"errno": 403, "error": "Invalid scf response format. please check your scf response format."}
HOST_SUFFIX = ".apigw.tencentcs.com"


def json_response(status: int, payload: Any, request_id: str) -> Response:
    return Response(
        status,
        {"Content-Type": "application/json", "X-Api-RequestId": request_id},
        json.dumps(payload).encode("utf-8"),
    )


def parse_query(raw: str) -> dict[str, Any]:
    """``queryString``: a string per key, a list for a repeated key, ``True`` for a key without ``=``."""
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


def valid_integrated(reply: Any) -> bool:
    """The integrated response shape: all four fields, with their JSON types (tencent-scf.md §2.3)."""
    if not isinstance(reply, dict):
        return False
    if not isinstance(reply.get("isBase64Encoded"), bool):
        return False
    status = reply.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return False
    headers = reply.get("headers")
    if not isinstance(headers, dict):
        return False
    for v in headers.values():
        if not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
            return False
    return isinstance(reply.get("body"), str)


class ApigwFront:
    service = "apigw"

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    @property
    def model(self) -> ApigwModel:
        model: ApigwModel = self.cloud.apigw
        return model

    def match(self, req: Request) -> bool:
        if req.host.endswith(HOST_SUFFIX):
            return True
        if req.host in LOOPBACK and not AUTH_RE.match(req.headers.get("Authorization", "")):
            return self.model.service_for_stage_path(req.path) is not None
        return False

    def classify(self, req: Request) -> str:
        return "Request"

    def _service(self, req: Request) -> Optional[ApiService]:
        if req.host.endswith(HOST_SUFFIX):
            return self.model.service_for_host(req.host)
        return self.model.service_for_stage_path(req.path)

    def handle(self, req: Request, action: str) -> Response:
        request_id = uuid.uuid4().hex
        svc = self._service(req)
        stage_prefix = f"/{svc.stage}" if svc else ""
        path = unquote(req.path)
        if svc is None or not (path == stage_prefix or path.startswith(stage_prefix + "/")):
            return self._no_match(path, req.host, request_id)
        api_path = path[len(stage_prefix) :] or "/"
        found = svc.route(req.method, api_path)
        if found is None:
            return self._no_match(api_path, req.host, request_id)
        route, params = found
        body = req.read_body()
        if len(body) > self.model.max_body:
            return json_response(413, {"message": "Request Entity Too Large"}, request_id)
        event = self.event(req, svc, route, params, api_path, body, request_id)
        return self._invoke(route, event, request_id)

    @staticmethod
    def _no_match(path: str, host: str, request_id: str) -> Response:
        return json_response(404, {"message": f"There is no api match uri '{path}' host '{host}'"}, request_id)

    def event(
        self,
        req: Request,
        svc: ApiService,
        route: Route,
        params: dict[str, str],
        api_path: str,
        body: bytes,
        request_id: str,
    ) -> dict[str, Any]:
        """The integration request event (reference/events/apigw-request.json)."""
        headers = {k: v for k, v in req.headers.lower_items()}
        headers.update(
            {
                "x-api-requestid": request_id,
                "x-b3-traceid": request_id,
                "x-qualifier": "$DEFAULT",
                "requestsource": "APIGW",
                "x-api-scheme": req.scheme,
            }
        )
        event: dict[str, Any] = {
            "requestContext": {
                "serviceId": svc.service_id,
                "path": route.path,
                "httpMethod": route.method,
                "requestId": request_id,
                "identity": {},
                "sourceIp": req.client,
                "stage": svc.stage,
            },
            "headers": headers,
            "body": "",
            "pathParameters": {k: unquote(v) for k, v in params.items()},
            "queryStringParameters": {},
            "headerParameters": {},
            "stageVariables": {"stage": svc.stage},
            "path": api_path,
            "queryString": parse_query(req.raw_query),
            "httpMethod": req.method,
        }
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = "true"  # a string, as in the gateway's own sample
        return event

    def _invoke(self, route: Route, event: dict[str, Any], request_id: str) -> Response:
        scf = self.cloud.scf
        fn = scf.functions.get(route.function)
        if fn is None:
            return json_response(502, {"message": "The backend function does not exist"}, request_id)
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["result"] = scf.invoke(fn.name, event, source="apigw", namespace=fn.namespace)
            finally:
                done.set()

        threading.Thread(target=run, name=f"apigw:{route.path}", daemon=True).start()
        if not done.wait(route.service_timeout_s) or "result" not in box:
            return json_response(504, {"message": "Gateway Timeout: the backend did not answer in time"}, request_id)
        _, outcome = box["result"]
        if outcome.status != "ok":
            # The gateway passes SCF's error JSON through with 200 (as documented for SCF timeouts).
            return json_response(200, outcome.error, request_id)
        reply = outcome.result
        if not route.integrated:
            text = reply if isinstance(reply, str) else json.dumps(reply)
            return Response(
                200, {"Content-Type": "application/json", "X-Api-RequestId": request_id}, text.encode("utf-8")
            )
        if not valid_integrated(reply):
            return json_response(403, INVALID_FORMAT, request_id)
        try:
            data = (
                base64.b64decode(reply["body"], validate=True) if reply["isBase64Encoded"] else reply["body"].encode()
            )
        except (binascii.Error, ValueError):
            return json_response(403, INVALID_FORMAT, request_id)
        headers = {str(k): v if isinstance(v, str) else ", ".join(v) for k, v in reply["headers"].items()}
        headers["X-Api-RequestId"] = request_id
        return Response(int(reply["statusCode"]), headers, data)

    def render_error(
        self, req: Request, action: str, code: str, status: int, message: Optional[str], *, as_200: bool = False
    ) -> Response:
        return json_response(200 if as_200 else status, {"message": message or code}, uuid.uuid4().hex)
