"""After the commit: VOD's task flow (the Procedure) followed to ``processed`` or ``processing_failed``.

A FileId is not yet a playable video: VOD runs the media's Procedure (transcodes, snapshots, sprites,
adaptive streaming) and reports it through its events (:mod:`vodflow.pipeline.vod_events`):

- ``NewFileUpload`` (``FileUploadEvent.ProcedureTaskId``): the task flow started → ``processing.json``;
- ``ProcedureStateChanged`` with ``Status: FINISH``: every task's result → ``processed.json`` (the
  outputs) or ``processing-failed.json`` (the first failing task: its type, definition, code, message).

Every record is create-once and the outcome is decided once (``processing-end.lock``, taken by the
task that ends it or by the deadline), so an event handled twice (a poller killed before it confirmed,
two pollers, a PUSH retried) changes nothing the second time. A job without a Procedure ends at
``committed``. A job whose Procedure has not ended ``VODFLOW_PROCESSING_DEADLINE_S`` after its commit
is ``processing_failed`` (``FailedOperation.ProcessingDeadline``); before that, the sweeper asks
``DescribeTaskDetail`` for a flow whose end event is late.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Optional

from tencentcloud.vod.v20180717 import models as vod_models

from vodflow.errors import VodClientException, VodServiceError
from vodflow.pipeline import followups, records, webhook
from vodflow.pipeline.jobs import JobStore
from vodflow.pipeline.lifecycle import Job, load_job
from vodflow.pipeline.runtime import Runtime

FILE_ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
LATE_EVENT_S = 300  # a flow started this long ago with no end event: the sweeper asks DescribeTaskDetail
DEADLINE_HOLDER = "deadline"


class NotYetRecorded(VodServiceError):
    """An event that arrived before the commit it follows was recorded: handled again later (retryable)."""

    def __init__(self, job_id: str) -> None:
        super().__init__("ResourceUnavailable.NotYetCommitted", f"job {job_id} is not recorded as committed yet")


def expects_processing(job: Job) -> bool:
    """Whether the job's media runs a Procedure (chosen in its options, or the function default)."""
    return bool((job.spec.options.get("apply_fields") or {}).get("Procedure"))


def file_key(store: JobStore, file_id: str) -> str:
    return f"{store.prefix}{records.file_job(file_id)}"


def remember_file(job: Job, file_id: str) -> None:
    """FileId → job, create-once, written right after CommitUpload answers and before ``result.json``.

    VOD's events name FileIds only. Safe to repeat (create-once); a finalize killed before it still
    finds the media again (``find_committed_media``) and writes it then. With a Procedure and events
    followed, the job joins the processing set (the sweeper's deadline) in the same step.
    """
    if file_id and FILE_ID_RE.match(file_id):
        job.store.create_key_once(file_key(job.store, file_id), {"job_id": job.job_id, "at": job.rt.clock()})
    if expects_processing(job) and job.rt.config.events_mode != "off":
        followups.mark(job.store, records.PROCESSING_DIR, job.job_id)


def job_for_file(rt: Runtime, store: JobStore, file_id: str) -> Optional[Job]:
    """The job that committed ``file_id``, or None (media vodflow did not ingest)."""
    if not isinstance(file_id, str) or not FILE_ID_RE.match(file_id):
        return None
    doc = store.read_key(file_key(store, file_id))
    if doc is None:
        return None
    return load_job(rt, str(doc.get("job_id") or ""), store)


def start_processing(job: Job, task_id: str, file_id: str) -> bool:
    """``processing.json`` (create-once). True if this call wrote it."""
    if not job.listing.has(records.RESULT):
        raise NotYetRecorded(job.job_id)
    if job.listing.has(records.PROCESSING):
        return False
    webhook.expect(job)  # before the record: a kill right after it still leaves the webhook to the sweeper
    followups.mark(job.store, records.PROCESSING_DIR, job.job_id)
    doc = {"task_id": task_id, "file_id": file_id, "at": job.rt.clock()}
    written = job.store.create_once(job.job_id, records.PROCESSING, doc)
    job.note(records.PROCESSING)
    if written:
        job.rt.log("processing", job.job_id, task_id=task_id)
    return written


def on_new_file(job: Job, upload_event: Mapping[str, Any]) -> str:
    """``NewFileUpload``: a ProcedureTaskId means the task flow started; none: ``committed`` is final."""
    task_id = str(upload_event.get("ProcedureTaskId") or "")
    if not task_id:
        return "no procedure"
    start_processing(job, task_id, str(upload_event.get("FileId") or ""))
    webhook.deliver(job)
    return "processing"


def on_procedure_state(job: Job, task: Mapping[str, Any]) -> str:
    """``ProcedureStateChanged`` (or DescribeTaskDetail's ProcedureTask): started, or ended with its results."""
    task_id = str(task.get("TaskId") or "")
    # Written even if NewFileUpload was missed (it arrived before the FileId was recorded): the state
    # and its notification are never skipped.
    start_processing(job, task_id, str(task.get("FileId") or ""))
    if str(task.get("Status") or "") != "FINISH":
        webhook.deliver(job)
        return "processing"
    failing = failing_task(task)
    if failing is not None:
        end_processing(job, f"task:{task_id}", records.PROCESSING_FAILED, {"task_id": task_id, **failing})
        return "processing_failed"
    end_processing(job, f"task:{task_id}", records.PROCESSED, {"task_id": task_id, "results": results_of(task)})
    return "processed"


def end_processing(job: Job, holder: str, rel: str, doc: dict[str, Any]) -> bool:
    """Record the one outcome. False if another holder (the deadline, another flow) already decided.

    Safe to repeat: the same holder (the same TaskId's event handled again) may go on and rewrites
    nothing (create-once); the webhook delivery is itself repeatable.
    """
    if not job.store.create_once(job.job_id, records.PROCESSING_END, {"holder": holder, "at": job.rt.clock()}):
        lock = job.read(records.PROCESSING_END) or {}
        if lock.get("holder") != holder:
            job.rt.log("processing already ended", job.job_id, holder=lock.get("holder"))
            return False
    webhook.expect(job)
    if job.store.create_once(job.job_id, rel, {**doc, "at": job.rt.clock()}):
        job.rt.log("processing ended", job.job_id, outcome=rel, code=doc.get("code"))
    followups.clear(job.store, records.PROCESSING_DIR, job.job_id)
    job.refresh()
    webhook.deliver(job)
    return True


def _task_member(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``<Kind>Task`` member of a MediaProcessTaskResult item that is set."""
    for name, value in item.items():
        if name.endswith("Task") and isinstance(value, Mapping):
            return value
    return {}


def failing_task(task: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The first failed task of a ProcedureTask (type, definition, code, message), or None if all succeeded."""
    for item in task.get("MediaProcessResultSet") or []:
        if not isinstance(item, Mapping):
            continue
        sub = _task_member(item)
        status = str(sub.get("Status") or "")
        err = sub.get("ErrCode")
        if status == "FAIL" or (isinstance(err, int) and err != 0):
            definition = (sub.get("Input") or {}).get("Definition") if isinstance(sub.get("Input"), Mapping) else None
            return {
                "task": str(item.get("Type") or ""),
                "definition": definition,
                "code": str(sub.get("ErrCodeExt") or err or "FailedOperation"),
                "err_code": err,
                "message": str(sub.get("Message") or ""),
            }
    err = task.get("ErrCode")
    if isinstance(err, int) and err != 0:
        return {
            "task": "Procedure",
            "definition": None,
            "code": str(err),
            "err_code": err,
            "message": str(task.get("Message") or ""),
        }
    return None


def _pick(src: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    src = src if isinstance(src, Mapping) else {}
    return {ours: src.get(theirs) for ours, theirs in fields.items()}


TRANSCODE_FIELDS = {
    "definition": "Definition",
    "url": "Url",
    "size": "Size",
    "bitrate": "Bitrate",
    "width": "Width",
    "height": "Height",
    "duration": "Duration",
    "container": "Container",
}


def results_of(task: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What the API lists: each output of the flow, field by field (VOD's public media URLs only)."""
    out: dict[str, list[dict[str, Any]]] = {"transcodes": [], "snapshots": [], "sprites": [], "adaptive_streaming": []}
    for item in task.get("MediaProcessResultSet") or []:
        if not isinstance(item, Mapping):
            continue
        kind = str(item.get("Type") or "")
        sub = _task_member(item)
        raw_output = sub.get("Output")
        output: Mapping[str, Any] = raw_output if isinstance(raw_output, Mapping) else {}
        definition = (sub.get("Input") or {}).get("Definition") if isinstance(sub.get("Input"), Mapping) else None
        if kind == "Transcode":
            out["transcodes"].append(_pick(output, TRANSCODE_FIELDS))
        elif kind in ("SnapshotByTimeOffset", "SampleSnapshot", "CoverBySnapshot", "AnimatedGraphics"):
            urls = [p.get("Url") for p in output.get("PicInfoSet") or [] if isinstance(p, Mapping)]
            urls += list(output.get("ImageUrlSet") or [])
            urls += [output[k] for k in ("CoverUrl", "Url") if output.get(k)]
            out["snapshots"].append({"type": kind, "definition": output.get("Definition", definition), "urls": urls})
        elif kind == "ImageSprites":
            out["sprites"].append(
                {
                    "definition": output.get("Definition", definition),
                    "urls": list(output.get("ImageUrlSet") or []),
                    "webvtt_url": output.get("WebVttUrl"),
                }
            )
        elif kind == "AdaptiveDynamicStreaming":
            out["adaptive_streaming"].append(
                _pick(output, {"definition": "Definition", "package": "Package", "url": "Url", "size": "Size"})
            )
    return {k: v for k, v in out.items() if v or k == "transcodes"}


def sweep_processing(rt: Runtime, now: float) -> list[str]:
    """The processing set: past the deadline → processing_failed; an end event late → DescribeTaskDetail."""
    store = rt.store()
    out: list[str] = []
    for job_id in list(followups.members(store, records.PROCESSING_DIR)):
        try:
            out.append(_sweep_one(rt, store, job_id, now))
        except VodClientException as exc:
            rt.log("processing sweep failed for job; next pass", job_id, code=exc.code)
            out.append("error")
    return [o for o in out if o]


def _sweep_one(rt: Runtime, store: JobStore, job_id: str, now: float) -> str:
    job = load_job(rt, job_id, store)
    if job is None or job.state.ended or not job.listing.has(records.RESULT):
        if job is None or job.state.ended:
            followups.clear(store, records.PROCESSING_DIR, job_id)
        return ""
    result = job.read(records.RESULT) or {}
    committed_at = float(result.get("committed_at") or job.spec.created)
    started = job.read(records.PROCESSING) if job.listing.has(records.PROCESSING) else None
    if started and started.get("task_id") and now - float(started.get("at", now)) > LATE_EVENT_S:
        task = describe_procedure(rt, str(started["task_id"]))
        if task is not None and str(task.get("Status") or "") == "FINISH":
            return f"processing {on_procedure_state(job, task)} (DescribeTaskDetail)"
    if now - committed_at > rt.config.processing_deadline_s:
        reason = f"the Procedure did not end within {rt.config.processing_deadline_s} s of the commit"
        doc = {"task": "Procedure", "definition": None, "code": "FailedOperation.ProcessingDeadline", "message": reason}
        if end_processing(job, DEADLINE_HOLDER, records.PROCESSING_FAILED, doc):
            return "processing failed: deadline"
    return ""


def describe_task(rt: Runtime, task_id: str, kind: str, sub_app_id: Any = None) -> Optional[dict[str, Any]]:
    """DescribeTaskDetail's ``kind`` part (``ProcedureTask``, ``PullUploadTask``) as a dict, with the task's
    overall ``Status``; None when the task is unknown or of another kind."""
    req = vod_models.DescribeTaskDetailRequest()
    req.TaskId = task_id
    sub_app = sub_app_id or rt.config.sub_app_id
    if sub_app:
        req.SubAppId = int(sub_app)
    vod = rt.vod()
    resp = rt.retry.call(lambda: vod.DescribeTaskDetail(req), service="vod", action="DescribeTaskDetail")
    task = getattr(resp, kind, None)
    if task is None:
        return None
    doc: dict[str, Any] = json.loads(task.to_json_string())
    doc["Status"] = resp.Status or doc.get("Status")
    return doc


def describe_procedure(rt: Runtime, task_id: str) -> Optional[dict[str, Any]]:
    """DescribeTaskDetail's ProcedureTask as a dict (None: unknown or not a procedure)."""
    return describe_task(rt, task_id, "ProcedureTask")
