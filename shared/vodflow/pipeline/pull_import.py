"""Import from a URL: VOD pulls the media itself (``PullUpload``); no byte passes through a function.

``POST /jobs {"url": ..., "options": {...}}`` (and ``vodflow import URL``):

1. the URL is checked before any call: HTTP(S) only, a host, no DASH manifest (PullUpload does not take
   DASH; HLS ``.m3u8`` is fine); the options are the ``vod-*`` options of a staged object (same names,
   same checks, same error codes), without ``cover``;
2. the job id is a hash of the URL and the options, so the same import asked twice is the same job;
3. ``PullUpload`` with ``SessionId`` = the job id (VOD pulls one SessionId once within 3 days, so a
   retried or doubled request never makes a second media) → ``pull.json`` (the TaskId), create-once;
4. ``PullComplete`` (the event; or ``DescribeTaskDetail`` from the sweeper when it is late) → ``result.json``
   and the FileId → job fact (then the same post-commit states as a staged job), or ``failed`` with VOD's
   ErrCode (40000: the URL cannot be fetched...) and message.

The URL's query string and credentials are secrets (presigned URLs, tokens): only its redacted form
(``scheme://host/path``) is recorded, logged or replied. The full URL exists only in the request that
calls PullUpload; a job whose PullUpload never went through is failed by the sweeper (import again).
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from tencentcloud.vod.v20180717 import models as vod_models

from vodflow.errors import VodClientException, VodValidationError
from vodflow.pipeline import followups, processing, records, webhook
from vodflow.pipeline.jobs import JobSpec, SourceObject, options_digest
from vodflow.pipeline.lifecycle import Job, fail_job, load_job, take_commit_lock
from vodflow.pipeline.options import META_PREFIX, parse_options
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.states import JobKind, JobState
from vodflow.retry import is_retryable

MAX_URL = 4096
DASH_SUFFIXES = (".mpd",)
PULL_FIELDS = ("Procedure", "ClassId", "SubAppId", "MediaName", "ExpireTime", "StorageRegion", "SourceContext")
NOT_STARTED_GRACE_S = 300  # a job.json with no pull.json this old: its PullUpload never went through
LATE_PULL_S = 60  # no PullComplete this long after the PullUpload: the sweeper asks DescribeTaskDetail


def redact(url: str) -> str:
    """``scheme://host[:port]/path``: no credentials, no query string, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(raw: Any) -> str:
    """The URL, refused (naming the field, never echoing the query string) unless PullUpload can take it."""
    if not isinstance(raw, str) or not raw.strip():
        raise VodValidationError("MissingParameter", "url", None, "is required")
    url = raw.strip()
    if len(url) > MAX_URL or any(ord(c) < 33 or c == "\x7f" for c in url):
        raise VodValidationError("InvalidParameterValue.MediaUrl", "url", None, "not a URL (spaces, controls, length)")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise VodValidationError("InvalidParameterValue.MediaUrl", "url", None, "not a URL") from None
    shown = redact(url) if parts.scheme in ("http", "https") else parts.scheme + ":..."
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise VodValidationError("InvalidParameterValue.MediaUrl", "url", shown, "only http(s) URLs with a host")
    if unquote(parts.path).lower().endswith(DASH_SUFFIXES):
        raise VodValidationError(
            "InvalidParameterValue.MediaUrl", "url", shown, "PullUpload does not take DASH manifests (HLS is fine)"
        )
    return url


def import_options(url: str, raw: Any, rt: Runtime) -> tuple[dict[str, str], Any]:
    """The ``vod-*`` options (``{"procedure": ...}`` or ``{"vod-procedure": ...}``) checked as for a staged object."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise VodValidationError("InvalidParameter", "options", None, "must be an object")
    metadata: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise VodValidationError("InvalidParameterValue", f"options.{name}", None, "must be a string or an integer")
        suffix = str(name).lower().removeprefix("vod-").replace("_", "-")  # sub_app_id as sub-app-id
        if suffix == "cover":
            raise VodValidationError("UnknownParameter", "options.cover", None, "an import takes no cover")
        metadata[META_PREFIX + suffix] = str(value)
    name = posixpath.basename(unquote(urlsplit(url).path)) or "media"
    parsed = parse_options(name, metadata, rt.config, now=rt.clock)
    return metadata, parsed


MAX_ATTEMPTS = 20  # fresh attempts of one URL with the same options


def import_job_id(url: str, digest: str) -> str:
    """The same URL with the same options → the same job (and the same PullUpload SessionId)."""
    return hashlib.sha256(f"pull\n{url}\n{digest}".encode()).hexdigest()[:32]


def start_import(rt: Runtime, raw_url: Any, raw_options: Any) -> dict[str, Any]:
    """``POST /jobs {"url"}``: create the job once, PullUpload once. Safe to repeat (see the module)."""
    url = check_url(raw_url)
    metadata, parsed = import_options(url, raw_options, rt)
    digest = options_digest(metadata)
    base = import_job_id(url, digest)
    store = rt.store()
    shown = redact(url)
    # A failed import is not final for the user: importing again starts a fresh attempt (<id>-r<N>, its own
    # SessionId, so VOD pulls again); a job in any other state is the one to follow (a repeat finds it).
    for attempt in range(MAX_ATTEMPTS):
        job_id = base if attempt == 0 else f"{base}-r{attempt}"
        job = load_job(rt, job_id, store)
        if job is None or job.state != JobState.FAILED:
            break
    if job is None:
        now = rt.clock()
        source = SourceObject("", shown, "", 0, None, rt.config.region)
        options = {**parsed.to_dict(), "url": shown}
        spec = JobSpec(job_id, source, JobKind.IMPORT, options, now, now + rt.config.job_deadline_s)
        spec = JobSpec(**{**spec.__dict__, "options_digest": digest})
        # Intent first: in the imports set before job.json, so the sweeper ends a job whose PullUpload never ran.
        followups.mark(store, records.IMPORTS_DIR, job_id)
        if store.create_once(job_id, records.JOB, spec.to_dict()):
            rt.log("import job created", job_id, url=shown)
        store.add_to_index(job_id, now)
        job = load_job(rt, job_id, store)
        assert job is not None
    if not job.listing.has(records.PULL) and not job.state.final:
        fields = {k: v for k, v in (parsed.apply_fields or {}).items() if k in PULL_FIELDS}
        try:
            task_id: Optional[str] = pull_upload(rt, url, fields, job_id)
        except VodClientException as exc:
            if "SessionId" in exc.code:
                # VOD already took this SessionId (this job's own earlier or concurrent request): nothing is
                # pulled twice. Its PullComplete names the job (SessionId), so the job goes on without the TaskId.
                task_id = None
            elif is_retryable(exc):
                raise  # the caller retries POST /jobs: the same job, the same SessionId
            else:
                fail_job(job, exc.code, exc.message)
                followups.clear(store, records.IMPORTS_DIR, job_id)
                return {"job_id": job_id, "status": "failed", "state": job.state.value, "url": shown}
        doc = {"task_id": task_id, "sub_app_id": fields.get("SubAppId") or rt.config.sub_app_id, "at": rt.clock()}
        store.create_once(job_id, records.PULL, doc)
        rt.log("pull started", job_id, task_id=task_id)
        job.refresh()
    return {"job_id": job_id, "status": "started", "state": job.state.value, "url": shown}


def pull_upload(rt: Runtime, url: str, fields: Mapping[str, Any], job_id: str) -> str:
    """PullUpload with SessionId = the job id: repeating it within 3 days pulls nothing twice."""
    req = vod_models.PullUploadRequest()
    req.MediaUrl = url
    for name, value in fields.items():
        setattr(req, name, value)
    if getattr(req, "SubAppId", None) is None and rt.config.sub_app_id:
        req.SubAppId = rt.config.sub_app_id
    req.SessionId = job_id
    req.SessionContext = job_id
    vod = rt.vod()
    resp = rt.retry.call(lambda: vod.PullUpload(req), service="vod", action="PullUpload")
    return str(resp.TaskId)


def on_pull_complete(job: Job, task: Mapping[str, Any]) -> str:
    """``PullComplete`` (or DescribeTaskDetail's PullUploadTask): committed, or failed with VOD's ErrCode."""
    if job.state.final:
        followups.clear(job.store, records.IMPORTS_DIR, job.job_id)
        return "already recorded"
    task_id = str(task.get("TaskId") or "")
    holder = f"pull:{task_id}"
    if not take_commit_lock(job, holder):
        return "locked"  # the deadline ended it
    err = task.get("ErrCode")
    if (isinstance(err, int) and err != 0) or not task.get("FileId"):
        fail_job(
            job, f"FailedOperation.PullUpload.{err}", str(task.get("Message") or "PullUpload failed"), holding_lock=True
        )
        followups.clear(job.store, records.IMPORTS_DIR, job.job_id)
        return "failed"
    file_id = str(task["FileId"])
    raw_basic = task.get("MediaBasicInfo")
    basic: Mapping[str, Any] = raw_basic if isinstance(raw_basic, Mapping) else {}
    processing.remember_file(job, file_id)
    doc = {
        "file_id": file_id,
        "media_url": task.get("FileUrl") or basic.get("MediaUrl"),
        "cover_url": basic.get("CoverUrl") or None,
        "task_id": task_id,
        "committed_at": job.rt.clock(),
    }
    webhook.expect(job)  # before result.json: a kill right after it still leaves the webhook to the sweeper
    job.store.create_once(job.job_id, records.RESULT, doc)
    job.note(records.RESULT)
    job.rt.log("committed (imported)", job.job_id, file_id=file_id)
    followups.clear(job.store, records.IMPORTS_DIR, job.job_id)
    procedure_task = str(task.get("ProcedureTaskId") or "")
    if procedure_task:
        processing.start_processing(job, procedure_task, file_id)
    job.refresh()
    webhook.deliver(job)
    return "committed"


def sweep_imports(rt: Runtime, now: float) -> list[str]:
    """Imports not yet ended: a late PullComplete → DescribeTaskDetail; past the deadline → failed."""
    store = rt.store()
    out: list[str] = []
    for job_id in list(followups.members(store, records.IMPORTS_DIR)):
        try:
            out.append(_sweep_one(rt, job_id, now))
        except VodClientException as exc:
            rt.log("import sweep failed for job; next pass", job_id, code=exc.code)
            out.append("error")
    return [o for o in out if o]


def _sweep_one(rt: Runtime, job_id: str, now: float) -> str:
    store = rt.store()
    job = load_job(rt, job_id, store)
    if job is None:
        if not _fresh(rt, job_id, now):  # the request died before job.json: nothing to follow
            followups.clear(store, records.IMPORTS_DIR, job_id)
        return ""
    if job.state.final:
        followups.clear(store, records.IMPORTS_DIR, job_id)
        return ""
    pull = job.read(records.PULL) if job.listing.has(records.PULL) else None
    if pull is None:
        if now - job.spec.created > NOT_STARTED_GRACE_S:
            fail_job(job, "FailedOperation.ImportNotStarted", "PullUpload never went through; import the URL again")
            followups.clear(store, records.IMPORTS_DIR, job_id)
            return "import failed: not started"
        return ""
    if pull.get("task_id") and now - float(pull.get("at", now)) > LATE_PULL_S:
        task = describe_pull(rt, str(pull.get("task_id")), pull.get("sub_app_id"))
        if task is not None and str(task.get("Status") or "") == "FINISH":
            return f"import {on_pull_complete(job, task)} (DescribeTaskDetail)"
    if now > job.spec.deadline:
        if fail_job(job, "FailedOperation.Deadline", f"not imported within {rt.config.job_deadline_s} s of its start"):
            followups.clear(store, records.IMPORTS_DIR, job_id)
            return "import failed: deadline"
    return ""


def _fresh(rt: Runtime, job_id: str, now: float) -> bool:
    store = rt.store()
    doc = store.read_key(f"{store.prefix}{records.IMPORTS_DIR}{job_id}")
    return doc is not None and now - float(doc.get("at", 0)) < NOT_STARTED_GRACE_S


def describe_pull(rt: Runtime, task_id: str, sub_app_id: Any) -> Optional[dict[str, Any]]:
    """DescribeTaskDetail's PullUploadTask as a dict (None: unknown, or older than VOD keeps tasks)."""
    return processing.describe_task(rt, task_id, "PullUploadTask", sub_app_id)
