"""The emulator's admin endpoint: set up the account the way its owner would in the console.

A server started with ``python -m tencent_emulator serve`` has one account. What its owner would create
in the console (or through the management APIs the emulator does not model) is added here: buckets,
VOD sub-applications, task-flow procedures and storage regions. Nothing else can be changed: no keys,
no objects, no media, no clock. ``serve --bucket/--sub-app/--procedure/--storage-region`` and
``make dev`` use the same calls.

HTTP, on the server's own address (``http://127.0.0.1:PORT``), authenticated with the account's
SecretKey as a bearer token (it is printed by ``serve``)::

    GET  /_emulator/account                                  what is set up (never a key)
    POST /_emulator/buckets          {"name": "media-1250000000", "region": "ap-guangzhou"}
    POST /_emulator/sub-apps         {"sub_app_id": 1500000001, "name": "shop"}
    POST /_emulator/procedures       {"name": "LongVideoPreset", "sub_app_id": 1500000001}
    POST /_emulator/storage-regions  {"region": "ap-chongqing"}

Each POST answers 201 with what exists afterwards (adding what exists already is not an error); a bad
body answers 400 ``{"code", "message"}``, a wrong or missing token 401.
"""

from __future__ import annotations

import hmac
import json
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from tencent_emulator.core.http import Request, Response

PREFIX = "/_emulator/"
KINDS = ("buckets", "sub-apps", "procedures", "storage-regions")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class AdminError(ValueError):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def is_admin(req: Request) -> bool:
    """A request for the admin endpoint: the server's own host (not a service host) and the prefix."""
    return req.path.startswith(PREFIX) and req.host in LOCAL_HOSTS


# -- what can be added -----------------------------------------------------------------------------
def add_bucket(cloud: Any, name: str, region: Optional[str] = None) -> dict[str, Any]:
    """``name`` with or without ``-<appid>`` (the account's is appended when missing)."""
    name = str(name or "").strip()
    if not name:
        raise AdminError("InvalidParameter", "a bucket needs a name")
    if not name.endswith(f"-{cloud.app_id}"):
        name = f"{name}-{cloud.app_id}"
    try:
        bucket = cloud.cos.create_bucket(name, region or None)
    except Exception as exc:  # CosError: invalid name, taken in another region
        raise AdminError(str(getattr(exc, "code", "InvalidBucketName")), str(exc) or repr(exc)) from exc
    return {"name": name, "region": str(getattr(bucket, "region", region or cloud.region))}


def add_sub_app(cloud: Any, sub_app_id: Any, name: Optional[str] = None) -> dict[str, Any]:
    try:
        app_id = int(sub_app_id)
    except (TypeError, ValueError):
        raise AdminError("InvalidParameter", f"sub_app_id must be an integer, not {sub_app_id!r}") from None
    if app_id <= 0:
        raise AdminError("InvalidParameter", "sub_app_id must be positive")
    existing = cloud.vod.sub_apps.get(app_id)
    app = existing or cloud.vod.add_sub_app(app_id, name or None)
    return {"sub_app_id": app.sub_app_id, "name": app.name}


def add_procedure(cloud: Any, name: str, sub_app_id: Any = None) -> dict[str, Any]:
    name = str(name or "").strip()
    if not name:
        raise AdminError("InvalidParameter", "a procedure needs a name")
    app: Optional[int] = None
    if sub_app_id not in (None, "", 0):
        try:
            app = int(sub_app_id)
        except (TypeError, ValueError):
            raise AdminError("InvalidParameter", f"sub_app_id must be an integer, not {sub_app_id!r}") from None
        if app not in cloud.vod.sub_apps:
            raise AdminError("InvalidParameterValue.SubAppId", f"no sub-application {app}: add it first")
    cloud.vod.add_procedure(name, sub_app_id=app)
    return {"name": name, "sub_app_id": app}


def add_storage_region(cloud: Any, region: str) -> dict[str, Any]:
    try:
        cloud.vod.add_storage_region(str(region or ""))
    except ValueError as exc:
        raise AdminError("InvalidParameterValue.StorageRegion", str(exc)) from exc
    return {"region": region}


def add(cloud: Any, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Add one thing of ``kind`` (one of :data:`KINDS`) described by ``body``."""
    if kind == "buckets":
        return add_bucket(cloud, body.get("name", ""), body.get("region"))
    if kind == "sub-apps":
        return add_sub_app(cloud, body.get("sub_app_id"), body.get("name"))
    if kind == "procedures":
        return add_procedure(cloud, body.get("name", ""), body.get("sub_app_id"))
    if kind == "storage-regions":
        return add_storage_region(cloud, body.get("region", ""))
    raise AdminError("ResourceNotFound", f"nothing to add at {PREFIX}{kind} (one of: {', '.join(KINDS)})", 404)


def account(cloud: Any) -> dict[str, Any]:
    """What is set up, never a key."""
    vod = cloud.vod
    return {
        "app_id": cloud.app_id,
        "region": cloud.region,
        "buckets": sorted(cloud.cos.buckets),
        "sub_apps": sorted(vod.sub_apps),
        "procedures": {str(app): sorted(names) for app, names in sorted(vod.procedures.items())},
        "storage_regions": sorted(vod.storage_regions),
    }


# -- command-line specs -----------------------------------------------------------------------------
def parse_spec(kind: str, spec: str) -> dict[str, Any]:
    """``serve``'s flags: ``--bucket NAME[@REGION]``, ``--sub-app ID[:NAME]``, ``--procedure NAME[@SUBAPPID]``,
    ``--storage-region REGION``."""
    if kind == "buckets":
        name, _, region = spec.partition("@")
        return {"name": name, "region": region or None}
    if kind == "sub-apps":
        app, _, name = spec.partition(":")
        return {"sub_app_id": app, "name": name or None}
    if kind == "procedures":
        name, _, app = spec.rpartition("@") if "@" in spec else (spec, "", "")
        return {"name": name, "sub_app_id": app or None}
    return {"region": spec}


def setup(cloud: Any, specs: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Apply ``(kind, body)`` pairs in order (sub-apps before the procedures that name them)."""
    order = {kind: i for i, kind in enumerate(("buckets", "storage-regions", "sub-apps", "procedures"))}
    return [add(cloud, kind, body) for kind, body in sorted(specs, key=lambda kv: order.get(kv[0], 9))]


# -- HTTP ------------------------------------------------------------------------------------------
def _json(status: int, body: Any) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def handle(cloud: Any, req: Request) -> Response:
    """Answer a request for which :func:`is_admin` is true."""
    auth = req.headers.get("Authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else ""
    if not token or not hmac.compare_digest(token.encode(), str(cloud.secret_key).encode()):
        return _json(401, {"code": "AuthFailure", "message": "send the account's SecretKey as a bearer token"})
    kind = req.path[len(PREFIX) :].strip("/")
    if req.method == "GET" and kind == "account":
        return _json(200, account(cloud))
    if req.method != "POST" or kind not in KINDS:
        return _json(404, {"code": "ResourceNotFound", "message": f"{req.method} {req.path} is not an admin call"})
    try:
        body = json.loads(req.read_body() or b"{}")
        if not isinstance(body, dict):
            raise AdminError("InvalidParameter", "the body must be a JSON object")
        return _json(201, add(cloud, kind, body))
    except json.JSONDecodeError:
        return _json(400, {"code": "InvalidParameter", "message": "the body must be JSON"})
    except AdminError as exc:
        return _json(exc.status, {"code": exc.code, "message": str(exc)})


def post(endpoint: str, secret_key: str, kind: str, body: Mapping[str, Any], timeout: float = 10) -> dict[str, Any]:
    """Client side of the endpoint (``make dev`` uses it): add one thing to a running server."""
    req = urllib.request.Request(  # noqa: S310 - the emulator's own http://127.0.0.1 URL
        f"{endpoint.rstrip('/')}{PREFIX}{kind}",
        data=json.dumps(dict(body)).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {secret_key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}")
        raise AdminError(str(detail.get("code", exc.code)), str(detail.get("message", exc)), exc.code) from None
