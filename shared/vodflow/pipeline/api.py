"""The HTTP API behind the ``api`` function's URL: presigned uploads, starting jobs, job status, listing.

Requests arrive as function-URL events (one endpoint for every path, so :data:`ROUTES` routes them
here; an old API Gateway event is understood too) and leave as ``{statusCode, headers, body}``
(plus ``isBase64Encoded``, which both platforms read). An unknown path is our own JSON 404, a
known path with another method a 405 with ``Allow``. Every route but ``/health`` and
``/openapi.json`` needs ``Authorization: Bearer <VODFLOW_API_TOKEN>``; the token is compared as
SHA-256 digests in constant time. Errors are ``{code, message, request_id}`` with the status the
code maps to. Replies never carry a key, a token, a certificate or a session key: job views are
built field by field from the records (:func:`job_view`), never by dumping them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import posixpath
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import quote

from qcloud_cos import CosConfig, CosS3Client

from vodflow import __version__
from vodflow.errors import VodClientException, VodValidationError, http_status_for
from vodflow.pipeline import records
from vodflow.pipeline.events import HttpRequest, parse_http_event
from vodflow.pipeline.finalize import missing_work
from vodflow.pipeline.ingest import start_or_restart
from vodflow.pipeline.jobs import derive_state
from vodflow.pipeline.lifecycle import Job, load_job
from vodflow.pipeline.messages import JOB_ID_RE
from vodflow.pipeline.openapi import openapi_document
from vodflow.pipeline.options import FIELDS, META_PREFIX, parse_options
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.states import JobKind, JobState
from vodflow.planner import MiB

MAX_BODY = 64 * 1024
MULTIPART_THRESHOLD = 64 * MiB
MIN_PART = 16 * MiB
MAX_URL_PARTS = 1000
FILENAME_RE = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")
OPTION_NAMES = {s.replace("-", "_"): s for s in [*FIELDS, "cover"]}
log = logging.getLogger("vodflow.api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def reply(status: int, body: Any, request_id: str = "", headers: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    out_headers = {"Content-Type": "application/json", **(headers or {})}
    if request_id:
        out_headers["X-Request-Id"] = request_id
    return {
        "isBase64Encoded": False,
        "statusCode": status,
        "headers": out_headers,
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }


def error_reply(
    status: int, code: str, message: str, request_id: str, headers: Optional[Mapping[str, str]] = None
) -> dict[str, Any]:
    return reply(status, {"code": code, "message": message, "request_id": request_id}, request_id, headers)


@dataclass(frozen=True)
class Route:
    """A path (``{name}`` matches one segment) and the method of ``Api`` serving each HTTP method."""

    template: str
    methods: Mapping[str, str]
    public: bool = False

    def match(self, path: str) -> Optional[dict[str, str]]:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        m = re.fullmatch(pattern, path)
        return m.groupdict() if m else None

    @property
    def allow(self) -> str:
        return ", ".join(sorted({*self.methods, "OPTIONS"}))


ROUTES = (
    Route("/health", {"GET": "health"}, public=True),
    Route("/openapi.json", {"GET": "openapi"}, public=True),
    Route("/uploads", {"POST": "create_upload"}),
    Route("/jobs", {"GET": "list_jobs", "POST": "start_job"}),
    Route("/jobs/{job_id}", {"GET": "get_job"}),
)


@dataclass
class Api:
    """The routes. ``runtime`` builds the invocation's Runtime lazily (public routes need none)."""

    runtime: Callable[[], Runtime]
    token_sha256: Optional[str]

    def handle(self, event: Any, request_id: str = "") -> dict[str, Any]:
        """One request: route, check, act, reply. Nothing a caller sends can make it raise."""
        request_id = request_id or str(uuid.uuid4())
        try:
            req = parse_http_event(event)
            request_id = req.request_id or request_id
            return self.route(req, request_id)
        except ApiError as exc:
            return error_reply(exc.status, exc.code, exc.message, request_id, exc.headers)
        except VodValidationError as exc:
            status = 404 if exc.code.startswith("ResourceNotFound") else 400
            return error_reply(status, exc.code, exc.message, request_id)
        except VodClientException as exc:
            return error_reply(http_status_for(exc.code), exc.code, exc.message, request_id)
        except Exception:  # the detail goes to the log, never to the caller (no traceback, no path)
            log.exception("unexpected error", extra={"request_id": request_id})
            return error_reply(500, "InternalError", "an internal error occurred; quote the request_id", request_id)

    def route(self, req: HttpRequest, request_id: str) -> dict[str, Any]:
        path = "/" + req.path.strip("/")
        for route in ROUTES:
            params = route.match(path)
            if params is None:
                continue
            if req.method == "OPTIONS":  # the platform answers CORS preflights; a plain OPTIONS gets Allow
                return {"isBase64Encoded": False, "statusCode": 204, "headers": {"Allow": route.allow}, "body": ""}
            name = route.methods.get(req.method)
            if name is None:
                raise ApiError(
                    405,
                    "UnsupportedOperation.Method",
                    f"{req.method} is not allowed on {route.template}; use {' or '.join(sorted(route.methods))}",
                    {"Allow": route.allow},
                )
            if not route.public:
                self.authenticate(req)
            status, body = getattr(self, name)(req, **params)
            return reply(status, body, request_id)
        raise ApiError(404, "ResourceNotFound.Route", f"no route {path}; see /openapi.json")

    # -- routes: each returns (status, body) -------------------------------------------------
    def health(self, req: HttpRequest) -> tuple[int, Any]:
        return 200, {"status": "ok", "version": __version__}

    def openapi(self, req: HttpRequest) -> tuple[int, Any]:
        return 200, openapi_document()

    def create_upload(self, req: HttpRequest) -> tuple[int, Any]:
        return 201, self.new_upload(self.body(req))

    def start_job(self, req: HttpRequest) -> tuple[int, Any]:
        return 202, self.start(self.body(req))

    def list_jobs(self, req: HttpRequest) -> tuple[int, Any]:
        return 200, self.recent_jobs(req.query)

    def get_job(self, req: HttpRequest, job_id: str) -> tuple[int, Any]:
        return 200, self.job(job_id)

    # -- checks ----------------------------------------------------------------------------------
    def authenticate(self, req: HttpRequest) -> None:
        header = req.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if self.token_sha256 is None:
            raise ApiError(503, "UnauthorizedOperation.NoToken", "the API has no token configured (VODFLOW_API_TOKEN)")
        given = hashlib.sha256(token.strip().encode("utf-8")).hexdigest()
        ok = hmac.compare_digest(given, self.token_sha256)
        if scheme.lower() != "bearer" or not token or not ok:
            raise ApiError(401, "AuthFailure.Token", "missing or wrong bearer token")

    @staticmethod
    def body(req: HttpRequest) -> dict[str, Any]:
        if len(req.body.encode("utf-8")) > MAX_BODY:
            raise ApiError(413, "InvalidParameter.BodyTooLarge", f"the body is over {MAX_BODY} bytes")
        try:
            body = json.loads(req.body or "{}")
        except json.JSONDecodeError as exc:
            raise ApiError(400, "InvalidParameter.Body", f"the body is not JSON: {exc.msg}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidParameter.Body", "the body must be a JSON object")
        return body

    # -- what the routes do ---------------------------------------------------------------------
    def new_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        filename = _field(body, "filename", str)
        if not FILENAME_RE.match(filename) or filename in (".", ".."):
            raise VodValidationError("InvalidParameterValue", "filename", filename, "not a plain file name")
        size = _field(body, "size", int)
        if size < 0:
            raise VodValidationError("InvalidParameterValue", "size", size, "must be >= 0")
        expires_in = _field(body, "expires_in", int, required=False) or 3600
        if not 60 <= expires_in <= 7 * 24 * 3600:
            raise VodValidationError("InvalidParameterValue", "expires_in", expires_in, "must be in 60..604800 s")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise VodValidationError("InvalidParameter", "options", options, "expected an object")
        rt = self.runtime()
        cfg = rt.config
        key = f"{cfg.staging_prefix}{uuid.uuid4().hex}/{filename}"
        metadata: dict[str, str] = {}
        for name, value in options.items():
            suffix = OPTION_NAMES.get(str(name))
            if suffix is None:
                raise VodValidationError(
                    "UnknownParameter", f"options.{name}", value, f"not one of {sorted(OPTION_NAMES)}"
                )
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise VodValidationError("InvalidParameter", f"options.{name}", value, "expected a string or integer")
            metadata[META_PREFIX + suffix] = quote(str(value), safe="")
        parse_options(key, metadata, cfg)  # refuse bad options now, not after the upload
        cos = rt.cos()
        signer = presigner(rt)
        content_type = body.get("content_type")
        if content_type is not None and not isinstance(content_type, str):
            raise VodValidationError("InvalidParameter", "content_type", content_type, "expected a string")
        token_params = {"x-cos-security-token": rt.credentials.token} if rt.credentials.token else {}
        signed_headers = dict(metadata)
        if size <= MULTIPART_THRESHOLD:
            # The SDK writes its Authorization into the dicts it is given: hand it copies.
            url = signer.get_presigned_url(
                Bucket=cfg.staging_bucket,
                Key=key,
                Method="PUT",
                Expired=expires_in,
                Headers=dict(signed_headers),
                Params=dict(token_params),
            )
            return {
                "mode": "put",
                "bucket": cfg.staging_bucket,
                "key": key,
                "url": url,
                "headers": signed_headers,
                "expires_in": expires_in,
            }
        part_size = max(MIN_PART, -(-size // MAX_URL_PARTS))
        part_size = -(-part_size // MiB) * MiB
        count = -(-size // part_size)
        extra = {"ContentType": content_type} if content_type else {}
        init = rt.retry.call(
            lambda: cos.create_multipart_upload(Bucket=cfg.staging_bucket, Key=key, Metadata=metadata, **extra),
            service="cos",
            action="InitiateMultipartUpload",
        )
        upload_id = str(init["UploadId"])
        parts = []
        for n in range(1, count + 1):
            params = {"partNumber": str(n), "uploadId": upload_id, **token_params}
            parts.append(
                {
                    "number": n,
                    "url": signer.get_presigned_url(
                        Bucket=cfg.staging_bucket, Key=key, Method="PUT", Expired=expires_in, Params=params, Headers={}
                    ),
                }
            )
        complete = signer.get_presigned_url(
            Bucket=cfg.staging_bucket,
            Key=key,
            Method="POST",
            Expired=expires_in,
            Params={"uploadId": upload_id, **token_params},
            Headers={},
        )
        return {
            "mode": "multipart",
            "bucket": cfg.staging_bucket,
            "key": key,
            "upload_id": upload_id,
            "part_size": part_size,
            "parts": parts,
            "complete_url": complete,
            "expires_in": expires_in,
        }

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        key = _field(body, "key", str)
        if not key or key.startswith("/") or "\x00" in key or any(p in (".", "..") for p in key.split("/")):
            raise VodValidationError("InvalidParameterValue.Key", "key", key, "is not a plain object key (/, . or ..)")
        rt = self.runtime()
        return start_or_restart(rt, rt.config.staging_bucket, key)

    def job(self, job_id: str) -> dict[str, Any]:
        if not JOB_ID_RE.match(job_id):
            raise ApiError(404, "ResourceNotFound.Job", f"no job {job_id!r}")
        job = load_job(self.runtime(), job_id)
        if job is None:
            raise ApiError(404, "ResourceNotFound.Job", f"no job {job_id!r}")
        return job_view(job)

    def recent_jobs(self, query: Mapping[str, str]) -> dict[str, Any]:
        raw_limit = query.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise VodValidationError("InvalidParameterValue", "limit", raw_limit, "must be an integer in 1..100")
        marker = query.get("marker", "")
        rt = self.runtime()
        store = rt.store()
        if marker and not marker.startswith(store.index_prefix):
            raise VodValidationError("InvalidParameterValue", "marker", marker, "not a marker this API gave out")
        ids, next_marker = store.recent(int(raw_limit), marker)
        jobs = [job_view(j) for j in (load_job(rt, i, store) for i in ids) if j is not None]
        return {"jobs": jobs, "next_marker": next_marker}


def presigner(rt: Runtime) -> CosS3Client:
    """A COS client for presigning: URLs always name the bucket's own host, which is what COS signs.

    With the endpoint overridden (the local emulator), they are ``http://`` and reached through the
    emulator as an HTTP proxy (the CLI does so when ``VODFLOW_TENCENT_ENDPOINT`` is set).
    """
    creds = rt.credentials
    config = CosConfig(
        Region=rt.config.region,
        SecretId=creds.secret_id,
        SecretKey=creds.secret_key,
        Token=creds.token,
        Scheme=rt.endpoints.scheme,
    )
    return CosS3Client(config)


def _field(body: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    if name not in body or body[name] is None:
        if required:
            raise VodValidationError("MissingParameter", name, None, "is required")
        return None
    value = body[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise VodValidationError("InvalidParameter", name, value, f"expected {kind.__name__}")
    return value


def job_view(job: Job) -> dict[str, Any]:
    """What the API shows of a job: state, progress, result, error. Built field by field: no secrets."""
    spec = job.spec
    gen = job.generation
    total = (
        spec.part_count if spec.kind == JobKind.MULTIPART else (len(spec.files) if spec.kind == JobKind.PACKAGE else 1)
    )
    missing = missing_work(job, gen) if job.listing.generation else list(range(total))
    done = total - len(missing)
    if spec.kind == JobKind.MULTIPART:
        bytes_done = sum(spec.part_range(n)[1] for n in range(1, spec.part_count + 1) if n not in set(missing))
    else:
        bytes_done = spec.source.size if done == total and total else 0
    state = derive_state(job.listing)
    view: dict[str, Any] = {
        "id": spec.job_id,
        "state": state.value,
        "source": {
            "bucket": spec.source.bucket,
            "key": spec.source.key,
            "size": spec.source.size,
            "name": posixpath.basename(spec.source.key),
        },
        "kind": spec.kind.value,
        "generation": gen,
        "parts_done": done if state != JobState.COMMITTED else total,
        "parts_total": total,
        "bytes_done": bytes_done if state != JobState.COMMITTED else spec.source.size,
        "bytes_total": spec.source.size,
        "created_at": spec.created,
        "file_id": None,
        "media_url": None,
        "cover_url": None,
        "error": None,
    }
    if state == JobState.COMMITTED:
        result = job.read(records.RESULT) or {}
        view.update(
            file_id=result.get("file_id"),
            media_url=result.get("media_url"),
            cover_url=result.get("cover_url"),
            committed_at=result.get("committed_at"),
        )
    elif state == JobState.FAILED:
        failed = job.read(records.FAILED) or {}
        view["error"] = {"code": failed.get("code"), "message": failed.get("message")}
    return view
