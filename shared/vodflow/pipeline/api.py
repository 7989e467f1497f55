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
import math
import posixpath
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional

from vodflow import __version__
from vodflow.errors import VodClientException, VodValidationError, http_status_for
from vodflow.pipeline import records
from vodflow.pipeline.events import HttpRequest, parse_http_event
from vodflow.pipeline.finalize import missing_work
from vodflow.pipeline.ingest import start_or_restart
from vodflow.pipeline.jobs import RecordDamaged, derive_state
from vodflow.pipeline.lifecycle import Job, load_job
from vodflow.pipeline.messages import JOB_ID_RE
from vodflow.pipeline.openapi import openapi_document
from vodflow.pipeline.page import Asset, page_asset
from vodflow.pipeline.pull_import import start_import
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.states import JobKind, JobState
from vodflow.pipeline.uploads import (
    UploadRefused,
    cancel_upload,
    create_upload,
    parse_upload_request,
    text_field,
    upload_status,
)
from vodflow.pipeline.vod_events import on_push

MAX_BODY = 64 * 1024
MAX_DEPTH = 32  # JSON nesting; our bodies are 2 deep
MAX_NUMBER_CHARS = 40  # a size up to 48.8 TiB has 14 digits
log = logging.getLogger("vodflow.api")


def access_log(event: Any, answer: Mapping[str, Any], started: float) -> None:
    """One line per request: method, path (never the query: presigned parameters and tokens live there),
    status, milliseconds, the error code of a refusal; 5xx at ERROR. Headers are never logged."""
    ev = event if isinstance(event, Mapping) else {}
    status = int(answer.get("statusCode") or 0)
    fields: dict[str, Any] = {
        "method": str(ev.get("httpMethod") or ev.get("method") or "?").upper(),
        "path": str(ev.get("path") or "/").split("?", 1)[0][:300],
        "status": status,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }
    if status >= 400:
        try:
            fields["code"] = json.loads(str(answer.get("body") or "{}")).get("code")
        except (ValueError, AttributeError):
            pass
    log.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra=fields)


class _BadNumber:
    """A JSON number the API will not read (non-ASCII digits, too long, not finite): refused by field."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return repr(self.text[:40])


def _int(text: str) -> Any:
    return int(text) if text.isascii() and len(text) <= MAX_NUMBER_CHARS else _BadNumber(text)


def _float(text: str) -> Any:
    if not text.isascii() or len(text) > MAX_NUMBER_CHARS:
        return _BadNumber(text)
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


def _depth_ok(text: str) -> bool:
    """Whether brackets nest at most MAX_DEPTH deep (checked before json.loads can recurse)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


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
        "body": _json_text(body),
    }


def _json_text(body: Any) -> str:
    """JSON text that encodes as UTF-8 (a lone surrogate echoed in a message is escaped, not a crash)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return text


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
    Route("/", {"GET": "page"}, public=True),  # the upload page (it asks for the token itself)
    Route("/static/{name}", {"GET": "asset"}, public=True),
    Route("/uploads", {"POST": "create_upload"}),
    Route("/uploads/{upload_id}", {"GET": "get_upload", "DELETE": "delete_upload"}),
    Route("/jobs", {"GET": "list_jobs", "POST": "start_job"}),
    Route("/jobs/{job_id}", {"GET": "get_job"}),
    # VOD's event callback (VODFLOW_EVENTS_MODE=push): VOD sends no bearer token; its Sign is checked instead.
    Route("/vod/events", {"POST": "vod_event"}, public=True),
)


@dataclass
class Api:
    """The routes. ``runtime`` builds the invocation's Runtime lazily (public routes need none)."""

    runtime: Callable[[], Runtime]
    token_sha256: Optional[str]

    def handle(self, event: Any, request_id: str = "") -> dict[str, Any]:
        """One request: route, check, act, reply, and one access-log line. Nothing a caller sends can make it raise."""
        started = time.monotonic()
        answer = self._handle(event, request_id)
        access_log(event, answer, started)
        return answer

    def _handle(self, event: Any, request_id: str = "") -> dict[str, Any]:
        request_id = request_id or str(uuid.uuid4())
        try:
            req = parse_http_event(event)
            request_id = req.request_id or request_id
            return self.route(req, request_id)
        except ApiError as exc:
            return error_reply(exc.status, exc.code, exc.message, request_id, exc.headers)
        except UploadRefused as exc:
            return error_reply(exc.status, exc.code, exc.message, request_id)
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
            if isinstance(body, Asset):
                return body.reply(status, request_id)
            return reply(status, body, request_id)
        raise ApiError(404, "ResourceNotFound.Route", f"no route {path}; see /openapi.json")

    # -- routes: each returns (status, body) -------------------------------------------------
    def page(self, req: HttpRequest) -> tuple[int, Any]:
        return 200, page_asset("index.html")

    def asset(self, req: HttpRequest, name: str) -> tuple[int, Any]:
        found = page_asset(name) if name != "index.html" else None
        if found is None:
            raise ApiError(404, "ResourceNotFound.Route", f"no asset {name!r}")
        return 200, found

    def health(self, req: HttpRequest) -> tuple[int, Any]:
        return 200, {"status": "ok", "version": __version__}

    def openapi(self, req: HttpRequest) -> tuple[int, Any]:
        return 200, openapi_document()

    def create_upload(self, req: HttpRequest) -> tuple[int, Any]:
        body = self.body(req)
        rt = self.runtime()
        return 201, create_upload(rt, parse_upload_request(body, rt.config))

    def get_upload(self, req: HttpRequest, upload_id: str) -> tuple[int, Any]:
        return 200, upload_status(self.runtime(), upload_id)

    def delete_upload(self, req: HttpRequest, upload_id: str) -> tuple[int, Any]:
        return 200, cancel_upload(self.runtime(), upload_id)

    def start_job(self, req: HttpRequest) -> tuple[int, Any]:
        """202 with the job's id when this request started an attempt or one is running; 200 saying so when
        the object's job had already ended."""
        result = self.start(self.body(req))
        state = str(getattr(result.get("state"), "value", result.get("state")) or "")
        if result.get("status") == "exists" and state in FINISHED_STATES:
            result["status"] = "already committed" if state != JobState.FAILED.value else "already failed"
            return 200, result
        if result.get("status") == "exists":
            result["status"] = "started"  # running: the same job, nothing started twice
        return 202, result

    def list_jobs(self, req: HttpRequest) -> tuple[int, Any]:
        return 200, self.recent_jobs(req.query)

    def get_job(self, req: HttpRequest, job_id: str) -> tuple[int, Any]:
        return 200, self.job(job_id)

    def vod_event(self, req: HttpRequest) -> tuple[int, Any]:
        """A PUSH callback: Sign/T checked (AuthFailure.* → 401 before anything is read), then recorded."""
        rt = self.runtime()
        if rt.config.events_mode != "push":
            raise ApiError(404, "ResourceNotFound.Route", "VOD event callbacks are off (VODFLOW_EVENTS_MODE)")
        body = self.body(req)
        try:
            return 200, on_push(rt, body, req.query)
        except VodValidationError as exc:
            if exc.code.startswith("AuthFailure"):
                raise ApiError(401, exc.code, exc.message.split(":", 1)[-1].strip() or exc.code) from None
            raise

    # -- checks ----------------------------------------------------------------------------------
    def authenticate(self, req: HttpRequest) -> None:
        header = req.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if self.token_sha256 is None:
            raise ApiError(503, "UnauthorizedOperation.NoToken", "the API has no token configured (VODFLOW_API_TOKEN)")
        given = hashlib.sha256(token.strip().encode("utf-8", "surrogatepass")).hexdigest()
        ok = hmac.compare_digest(given, self.token_sha256)
        if scheme.lower() != "bearer" or not token or not ok:
            raise ApiError(401, "AuthFailure.Token", "missing or wrong bearer token")

    @staticmethod
    def body(req: HttpRequest) -> dict[str, Any]:
        if len(req.body.encode("utf-8", "surrogatepass")) > MAX_BODY:
            raise ApiError(413, "InvalidParameter.BodyTooLarge", f"the body is over {MAX_BODY} bytes")
        if not _depth_ok(req.body):
            raise ApiError(400, "InvalidParameter.Body", f"the body nests deeper than {MAX_DEPTH} levels")
        try:
            body = json.loads(req.body or "{}", parse_int=_int, parse_float=_float, parse_constant=_BadNumber)
        except json.JSONDecodeError as exc:
            raise ApiError(400, "InvalidParameter.Body", f"the body is not JSON: {exc.msg}") from None
        except (ValueError, RecursionError):  # belt and braces: the checks above should make these unreachable
            raise ApiError(400, "InvalidParameter.Body", "the body is not JSON the API can read") from None
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidParameter.Body", "the body must be a JSON object")
        return body

    # -- what the routes do ---------------------------------------------------------------------
    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("url") is not None:
            if body.get("key") is not None:
                raise VodValidationError("InvalidParameter", "url", None, "give either key or url, not both")
            return start_import(self.runtime(), body["url"], body.get("options"))
        if body.get("key") is None:
            raise VodValidationError("MissingParameter", "key", None, "is required")
        key = text_field("key", body["key"], max_len=850)
        if not key or key.startswith("/") or any(p in (".", "..") for p in key.split("/")):
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
        if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3) or not 1 <= int(raw_limit) <= 100:
            raise VodValidationError("InvalidParameterValue", "limit", raw_limit, "must be an integer in 1..100")
        marker = text_field("marker", query.get("marker", ""), max_len=1024)
        rt = self.runtime()
        store = rt.store()
        if marker and not marker.startswith(store.index_prefix):
            raise VodValidationError("InvalidParameterValue", "marker", marker, "not a marker this API gave out")
        ids, next_marker = store.recent(int(raw_limit), marker)
        jobs = [view for view in (listed_view(rt, store, i) for i in ids) if view is not None]
        return {"jobs": jobs, "next_marker": next_marker}


def listed_view(rt: Runtime, store: Any, job_id: str) -> Optional[dict[str, Any]]:
    """One job of a listing; a job whose records are damaged is listed as failed with the reason, so one bad
    record never hides the other jobs of the page."""
    try:
        job = load_job(rt, job_id, store)
        return job_view(job) if job is not None else None
    except RecordDamaged as exc:
        return {"id": job_id, "state": JobState.FAILED.value, "error": {"code": exc.code, "message": exc.message}}


FINISHED_STATES = frozenset(s.value for s in JobState if s.final)


def iso(epoch: Any) -> Optional[str]:
    """An epoch in seconds as ISO 8601 UTC (``2026-01-02T03:04:05.678Z``), shown beside it."""
    if not isinstance(epoch, (int, float)) or isinstance(epoch, bool):
        return None
    when = time.gmtime(float(epoch))
    return time.strftime("%Y-%m-%dT%H:%M:%S", when) + f".{int(float(epoch) % 1 * 1000):03d}Z"


def job_view(job: Job) -> dict[str, Any]:
    """What the API shows of a job: state, progress, result, error. Built field by field: no secrets."""
    spec = job.spec
    gen = job.generation
    total = (
        spec.part_count if spec.kind == JobKind.MULTIPART else (len(spec.files) if spec.kind == JobKind.PACKAGE else 1)
    )
    state = derive_state(job.listing)
    if not job.listing.generation:
        missing = list(range(total))
    else:
        if state.final:
            job.listed.setdefault(gen, {})  # its upload is closed: no ListParts (a committed job shows every part)
        try:
            missing = missing_work(job, gen)
        except VodClientException:  # VOD's storage did not answer now: the progress its records show
            job.listed[gen] = {}
            missing = missing_work(job, gen)
    done = total - len(missing)
    if spec.kind == JobKind.MULTIPART:
        bytes_done = sum(spec.part_range(n)[1] for n in range(1, spec.part_count + 1) if n not in set(missing))
    else:
        bytes_done = spec.source.size if done == total and total else 0
    committed = state.final and state != JobState.FAILED  # committed, and every state after it
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
        "parts_done": done if not committed else total,
        "parts_total": total,
        "bytes_done": bytes_done if not committed else spec.source.size,
        "bytes_total": spec.source.size,
        "created_at": spec.created,
        "file_id": None,
        "media_url": None,
        "cover_url": None,
        "error": None,
    }
    if spec.kind == JobKind.IMPORT:
        view["url"] = spec.options.get("url")  # recorded redacted: no query string, no credentials
    # The Procedure VOD runs after the commit (None: `committed` is the job's last state).
    view["procedure"] = (spec.options.get("apply_fields") or {}).get("Procedure")
    if committed:
        result = job.read(records.RESULT) or {}
        view.update(
            file_id=result.get("file_id"),
            media_url=result.get("media_url"),
            cover_url=result.get("cover_url"),
            committed_at=result.get("committed_at"),
        )
        view.update(processing_view(job, state))
    elif state == JobState.FAILED:
        failed = job.read(records.FAILED) or {}
        view["error"] = {"code": failed.get("code"), "message": failed.get("message")}
    for name in ("created_at", "committed_at"):
        if name in view:
            view[f"{name}_iso"] = iso(view[name])
    processing = view.get("processing")
    if isinstance(processing, dict):
        for name in ("started_at", "ended_at"):
            if name in processing:
                processing[f"{name}_iso"] = iso(processing[name])
    return view


def processing_view(job: Job, state: JobState) -> dict[str, Any]:
    """After the commit: the Procedure's task, its results (processed) or its failing task (processing_failed)."""
    out: dict[str, Any] = {"processing": None, "results": None}
    if state == JobState.COMMITTED:
        return out
    started = job.read(records.PROCESSING) or {}
    out["processing"] = {"task_id": started.get("task_id"), "started_at": started.get("at")}
    if state == JobState.PROCESSED:
        doc = job.read(records.PROCESSED) or {}
        out["processing"]["ended_at"] = doc.get("at")
        results = doc.get("results") or {}
        out["results"] = {
            kind: [dict(item) for item in results.get(kind) or [] if isinstance(item, Mapping)]
            for kind in ("transcodes", "snapshots", "sprites", "adaptive_streaming")
        }
    elif state == JobState.PROCESSING_FAILED:
        doc = job.read(records.PROCESSING_FAILED) or {}
        out["processing"]["ended_at"] = doc.get("at")
        out["error"] = {k: doc.get(k) for k in ("code", "message", "task", "definition")}
    return out
