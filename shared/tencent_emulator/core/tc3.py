"""The API 3.0 layer shared by VOD, STS and SCF: TC3-HMAC-SHA256 verification and JSON envelopes.

Source: tencentcloud-sdk-python ``common/abstract_client.py`` (``_build_req_with_tc3_signature``)
and ``common/sign.py``; the error envelope and common codes from the API 3.0 "返回结果" page. Errors
are HTTP 200 with ``Content-Type: application/json`` exactly: the SDK only parses an error body
when the header is exactly that (``_check_error``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl

from tencent_emulator.core.http import Request, Response
from tencent_emulator.core.iam import AuthError, KeyRecord
from tencent_emulator.core.regions import API_REGIONS, UNSUPPORTED_REGION

AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<sid>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>[0-9a-f]{64})$"
)
SIGNATURE_WINDOW_S = 300
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class ApiError(Exception):
    """An API 3.0 error: rendered as ``{"Response": {"Error": {...}, "RequestId"}}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class CallContext:
    """Who is calling and where: handed to every action."""

    key: KeyRecord
    region: Optional[str]
    request_id: str
    request: Request
    action: str


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    k_date = _hmac256(("TC3" + secret_key).encode("utf-8"), date)
    k_service = _hmac256(k_date, service)
    k_signing = _hmac256(k_service, "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def envelope(payload: Mapping[str, Any], request_id: str) -> Response:
    body = {"Response": {**payload, "RequestId": request_id}}
    return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode("utf-8"))


def error_envelope(code: str, message: str, request_id: str) -> Response:
    return envelope({"Error": {"Code": code, "Message": message}}, request_id)


class Tc3Front:
    """Base of the API 3.0 fronts. Subclasses set ``service``/``version`` and define ``action_<Name>``."""

    service: str = ""
    version: str = ""
    actions_needing_region: frozenset[str] = frozenset()
    # How the common ``Region`` parameter is treated. "regional": a region outside ``regions`` is refused with
    # ``UnsupportedRegion`` before the action runs (VOD, SCF, STS). "global": the API takes no region
    # and ignores one ("本接口不需要传递此参数"; the common-parameters page: "even if passed in, it will not take
    # effect"), so any value or none is accepted (CAM).
    region_scope: str = "regional"
    regions: frozenset[str] = API_REGIONS

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    # -- routing ---------------------------------------------------------------------------
    def match(self, req: Request) -> bool:
        host = req.host
        if host in (f"{self.service}.tencentcloudapi.com", f"{self.service}.intl.tencentcloudapi.com"):
            return True
        if host.startswith(f"{self.service}.") and host.endswith(".tencentcloudapi.com"):
            return True
        if host in LOOPBACK:  # server mode with an endpoint override: route by the credential scope
            m = AUTH_RE.match(req.headers.get("Authorization", ""))
            return bool(m and m.group("service") == self.service)
        return False

    def classify(self, req: Request) -> str:
        return req.headers.get("X-TC-Action") or req.params.get("Action") or "Unknown"

    # -- handling --------------------------------------------------------------------------
    def handle(self, req: Request, action: str) -> Response:
        request_id = str(uuid.uuid4())
        try:
            key = self.authenticate(req)
            version = req.headers.get("X-TC-Version") or req.params.get("Version")
            if version != self.version:
                raise ApiError("NoSuchVersion", f"The API version `{version}` does not exist for {self.service}.")
            region = self.request_region(req)
            method: Optional[Callable[[dict[str, Any], CallContext], Mapping[str, Any]]] = getattr(
                self, f"action_{action}", None
            )
            if method is None:
                raise ApiError("InvalidAction", f"The action `{action}` does not exist.")
            if not key.allows(self.service, action):
                raise ApiError(
                    "AuthFailure.UnauthorizedOperation",
                    f"The request is not authorized: {key.principal} may not call {self.service}:{action}.",
                )
            params = self.parse_params(req)
            if action in self.actions_needing_region and not region:
                raise ApiError("MissingParameter", "The request is missing a required parameter `Region`.")
            ctx = CallContext(key=key, region=region, request_id=request_id, request=req, action=action)
            return envelope(method(params, ctx), request_id)
        except ApiError as exc:
            return error_envelope(exc.code, exc.message, request_id)

    def request_region(self, req: Request) -> Optional[str]:
        """The request's ``X-TC-Region`` (or ``Region`` parameter), checked against the API 3.0 region list."""
        region = req.headers.get("X-TC-Region") or req.params.get("Region") or None
        if self.region_scope == "global":
            return region
        if region is not None and region not in self.regions:
            raise ApiError(UNSUPPORTED_REGION, f"API does not support the passed region `{region}`.")
        return region

    def parse_params(self, req: Request) -> dict[str, Any]:
        if req.method == "GET":
            return dict(req.query)
        raw = req.read_body()
        if not raw:
            return {}
        ctype = req.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        try:
            params = json.loads(raw)
        except ValueError as exc:
            raise ApiError("InvalidParameter", f"The request body is not valid JSON: {exc}") from None
        if not isinstance(params, dict):
            raise ApiError("InvalidParameter", "The request body must be a JSON object.")
        return params

    def authenticate(self, req: Request) -> KeyRecord:
        auth = req.headers.get("Authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            raise ApiError("AuthFailure.SignatureFailure", "The Authorization header is missing or malformed.")
        try:
            key = self.cloud.iam.authenticate(m.group("sid"), req.headers.get("X-TC-Token"))
        except AuthError as exc:
            code = "AuthFailure.SecretIdNotFound" if exc.reason == "not_found" else "AuthFailure.TokenFailure"
            raise ApiError(code, exc.message) from None
        ts_raw = req.headers.get("X-TC-Timestamp", "")
        if not ts_raw.isdigit():
            raise ApiError("MissingParameter", "The request is missing a required parameter `Timestamp`.")
        ts = int(ts_raw)
        if abs(self.cloud.clock.wall() - ts) > SIGNATURE_WINDOW_S:
            raise ApiError(
                "AuthFailure.SignatureExpire",
                "Signature expired. Timestamp and server time cannot differ by more than 5 minutes.",
            )
        date = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")
        if m.group("date") != date or m.group("service") != self.service:
            raise ApiError("AuthFailure.SignatureFailure", "The credential scope does not match the request.")
        signed = m.group("signed").split(";")
        canonical_headers = "".join(f"{h}:{req.headers.get(h, '').strip()}\n" for h in signed)
        if req.headers.get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD":
            payload_hash = hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest()
        else:
            payload_hash = hashlib.sha256(req.read_body() if req.method != "GET" else b"").hexdigest()
        canonical = "\n".join(
            [
                req.method,
                req.path,
                req.raw_query if req.method == "GET" else "",
                canonical_headers,
                ";".join(signed),
                payload_hash,
            ]
        )
        string_to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                ts_raw,
                f"{date}/{self.service}/tc3_request",
                hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            ]
        )
        expected = tc3_signature(key.secret_key, date, self.service, string_to_sign)
        if not hmac.compare_digest(expected, m.group("sig")):
            raise ApiError(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )
        return key

    def render_error(
        self, req: Request, action: str, code: str, status: int, message: Optional[str], *, as_200: bool = False
    ) -> Response:
        if status == 200 or as_200:
            return error_envelope(code, message or f"Injected fault: {code}", str(uuid.uuid4()))
        # A non-200 from the API gateway layer: the SDK reports ServerNetworkError without a RequestId.
        return Response(status, {"Content-Type": "text/plain"}, (message or f"{status} {code}").encode("utf-8"))
