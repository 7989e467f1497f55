"""The sweeper (timer): keeps every job moving or ends it, and removes old records.

For each job in the index it looks at the facts and the clock:

- past its deadline → failed with the reason, its multipart upload aborted (through the commit
  lock, so a job being committed is never failed);
- a batch dispatched longer than the lease ago and still missing parts → dispatched again
  (its invocation died: killed, timed out, out of retries); too many attempts → failed;
- VOD's certificate about to expire with parts still missing → a new generation (a new session
  and upload; the old upload is aborted), since no part may start on an expiring certificate;
- every part in but no commit, or a commit lock older than the lease → finalize (again);
- created but never advanced (ingest died after ``job.json``) → ingest asked to advance it;
- finished longer than the retention ago → its records removed;
- a staged object with no job at all (its event was lost) → ingest asked to start one.

Only active jobs (not yet committed or failed) are read on every pass; the retention pass reads
the index's creation times and opens only jobs older than the retention.

Everything it starts is idempotent, so two sweepers overlapping, or a sweeper overlapping a slow
worker, cost duplicate work at worst, never a duplicate media.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Optional

from vodflow import flow
from vodflow.errors import VodClientException
from vodflow.flow import DEFAULT_CERT_MARGIN_S
from vodflow.pipeline import followups, processing, pull_import, records, vod_events, webhook
from vodflow.pipeline.dispatch import dispatch_batch, dispatch_pending
from vodflow.pipeline.finalize import missing_work
from vodflow.pipeline.jobs import job_id_for
from vodflow.pipeline.lifecycle import (
    Job,
    UploadGoneError,
    close_generation,
    ensure_session,
    ensure_upload,
    fail_job,
    find_committed_media,
    finish_uploads,
    generation_records,
    load_job,
    record_result,
)
from vodflow.pipeline.messages import AdvanceJob, FinalizeJob, StartStaged
from vodflow.pipeline.processing import remember_file
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.staging import ignore_reason
from vodflow.pipeline.states import JobKind, JobState
from vodflow.pipeline.uploads import sweep_uploads

MAX_BATCH_ATTEMPTS = 5
MAX_GENERATIONS = 5


def sweep(rt: Runtime, now: Optional[float] = None, limit: Optional[int] = None) -> dict[str, int]:
    """One pass over the jobs; returns what it did, by kind."""
    now = rt.clock() if now is None else now
    store = rt.store()
    counts: dict[str, int] = {}

    def count(action: str) -> None:
        counts[action] = counts.get(action, 0) + 1

    # Active jobs: read each one. Finished jobs cost nothing here (they left the active set).
    for i, job_id in enumerate(list(store.active_job_ids())):
        if limit is not None and i >= limit:
            break
        try:
            count(sweep_job(rt, job_id, now))
        except VodClientException as exc:
            rt.log("sweep failed for job", job_id, code=exc.code)
            count("error")
    # Work that outlives a job's end: uploads to close, webhooks to deliver (each set holds few jobs).
    for action in _close_uploads(rt, now):
        count(action)
    # After the commit: VOD's events (PULL mode: read the queue here), Procedures past their deadline,
    # imports whose PullComplete is late. Each step is idempotent (see vod_events, processing, pull_import).
    if rt.config.events_mode == "pull":
        try:
            for action, n in vod_events.poll(rt).items():
                counts[action] = counts.get(action, 0) + n
        except VodClientException as exc:
            rt.log("reading VOD's events failed; next pass", None, code=exc.code)
            count("error")
    for action in processing.sweep_processing(rt, now):
        count(action)
    for action in pull_import.sweep_imports(rt, now):
        count(action)
    for action in _redeliver_webhooks(rt, now):
        count(action)
    for _ in abort_abandoned_staging_uploads(rt, now):
        count("abandoned upload aborted")
    # Retention: the index gives every job's age without reading it; only old ones are read.
    for job_id, created in list(store.index_entries()):
        if now - created <= rt.config.job_retention_s:
            continue
        try:
            if _remove_if_expired(rt, job_id, created, now):
                count("removed")
        except VodClientException as exc:
            rt.log("retention failed for job", job_id, code=exc.code)
            count("error")
    if rt.config.reconcile_window_s:
        for _ in reconcile(rt, now):
            count("reconciled")
    # POST /uploads grants: abort multipart uploads left unfinished for days, drop old grants (safe to repeat).
    for action, n in sweep_uploads(rt, now).items():
        if n:
            counts[action] = counts.get(action, 0) + n
    rt.log("swept", None, counts=counts)
    return counts


RECONCILE_GRACE_S = 120  # the trigger (and its retries) normally start a job well within this


def reconcile(rt: Runtime, now: float) -> list[str]:
    """Start jobs for staged objects that have none: their event was lost (an ingest that died on
    every attempt before writing anything, or a trigger that never fired).

    One LIST page per 1000 staged objects; a HEAD of the job record only for objects staged within
    ``VODFLOW_RECONCILE_WINDOW_S`` and older than a grace period. Starting is an async ingest, so a
    job started twice (the event was only late) is the same job.
    """
    cfg = rt.config
    cos = rt.cos()
    store = rt.store()
    started: list[str] = []
    marker = ""
    while True:

        def page(m: str = marker) -> dict[str, Any]:
            return dict(cos.list_objects(Bucket=cfg.staging_bucket, Prefix=cfg.staging_prefix, Marker=m, MaxKeys=1000))

        resp = rt.retry.call(page, service="cos", action="GetBucket")
        for item in resp.get("Contents") or []:
            key = str(item["Key"])
            modified = _cos_time(str(item.get("LastModified") or ""))
            age = now - modified if modified is not None else None
            if age is None or not RECONCILE_GRACE_S < age <= cfg.reconcile_window_s:
                continue
            if key.endswith("/") or ignore_reason(cfg, key) is not None:
                continue
            job_id = job_id_for(cfg.staging_bucket, key, str(item.get("ETag") or ""))
            if store.exists(job_id):
                continue
            rt.log("no job for a staged object: starting one", job_id, key=key)
            rt.invoke(cfg.ingest_function, StartStaged(cfg.staging_bucket, key).to_payload())
            started.append(key)
        if str(resp.get("IsTruncated")).lower() != "true" or not resp.get("NextMarker"):
            return started
        marker = str(resp["NextMarker"])


def _cos_time(value: str) -> Optional[float]:
    """COS's ``LastModified`` (``2020-12-10T03:37:30.000Z``) or ListMultipartUploads' ``Initiated``
    (``Wed Jan  9 18:24:32 2019``, UTC) as epoch seconds; None for anything else."""
    iso = value.replace("Z", "+0000")
    for text, form in (
        (iso, "%Y-%m-%dT%H:%M:%S.%f%z"),
        (iso, "%Y-%m-%dT%H:%M:%S%z"),
        (value + " +0000", "%a %b %d %H:%M:%S %Y %z"),
    ):
        try:
            return datetime.strptime(" ".join(text.split()), form).timestamp()
        except ValueError:
            continue
    return None


def _remove_if_expired(rt: Runtime, job_id: str, created: float, now: float) -> bool:
    job = load_job(rt, job_id)
    if job is None:
        rt.store().remove_from_index(job_id, created)
        return True
    if not job.state.final:
        return False
    finished = _finished_at(job)
    if finished is None or now - finished <= rt.config.job_retention_s:
        return False
    result = job.read(records.RESULT) if job.listing.has(records.RESULT) else None
    if result and result.get("file_id"):
        # The FileId → job fact goes with the job (an event for it after this is foreign). Repeatable: a DELETE.
        key = processing.file_key(job.store, str(result["file_id"]))
        rt.retry.call(
            lambda: job.store.cos.delete_object(Bucket=job.store.bucket, Key=key), service="cos", action="DeleteObject"
        )
    job.store.delete_job(job_id)
    for set_dir in (records.ABORTS_DIR, records.WEBHOOKS_DIR, records.PROCESSING_DIR, records.IMPORTS_DIR):
        followups.clear(job.store, set_dir, job_id)  # nothing is left to do for a job whose records are gone
    job.store.remove_from_index(job_id, created)
    return True


def _visit_followups(rt: Runtime, folder: str, what: str, visit: Callable[[Job], list[str]]) -> list[str]:
    """Run ``visit`` on every job of a follow-up set; a job that no longer exists leaves the set, and a job whose
    visit failed stays for the next pass (the set is what makes the work never forgotten)."""
    store = rt.store()
    out: list[str] = []
    for job_id in list(followups.members(store, folder)):
        try:
            job = load_job(rt, job_id, store)
            if job is None:
                followups.clear(store, folder, job_id)
                continue
            out += visit(job)
        except VodClientException as exc:
            rt.log(f"{what} failed; next pass", job_id, code=exc.code)
            out.append("error")
    return out


def _close_uploads(rt: Runtime, now: float) -> list[str]:
    """Every job in the aborts set: finished → close all its generations' uploads; live → its superseded ones.

    Retried on every pass until each generation is recorded ``aborted`` (or ``abort-impossible``):
    an abort that failed (an outage, a kill right after ``failed.json``) is never forgotten.
    """

    def close(job: Job) -> list[str]:
        counts = finish_uploads(job, now)
        return [f"uploads {k}" for k, n in sorted(counts.items()) for _ in range(n)]

    return _visit_followups(rt, records.ABORTS_DIR, "closing uploads", close)


def _redeliver_webhooks(rt: Runtime, now: float) -> list[str]:
    """Every job in the webhooks set whose webhook is due: one more attempt (see :mod:`webhook`)."""

    def redeliver(job: Job) -> list[str]:
        result = webhook.deliver(job, now)
        return [f"webhook {result}"] if result in ("delivered", "retry", "undeliverable") else []

    return _visit_followups(rt, records.WEBHOOKS_DIR, "webhook redelivery", redeliver)


def abort_abandoned_staging_uploads(rt: Runtime, now: float) -> list[str]:
    """Abort staging multipart uploads (``POST /uploads``) initiated longer ago than ``VODFLOW_MAX_UPLOAD_AGE_S``.

    Their presigned URLs cannot outlive that age, so nobody can complete them any more; left alone
    they are billed for ever. Listed with the role's keys under the staging prefix (one request per
    1000 uploads); each abort is logged with its key. Safe to repeat: NoSuchUpload is not an error.
    """
    cfg = rt.config
    cos = rt.cos()
    aborted: list[str] = []
    key_marker, id_marker = "", ""
    while True:

        def page(k: str = key_marker, u: str = id_marker) -> dict[str, Any]:
            return dict(
                cos.list_multipart_uploads(
                    Bucket=cfg.staging_bucket, Prefix=cfg.staging_prefix, KeyMarker=k, UploadIdMarker=u, MaxUploads=1000
                )
            )

        resp = rt.retry.call(page, service="cos", action="ListMultipartUploads")
        for upload in resp.get("Upload") or []:
            key, upload_id = str(upload.get("Key") or ""), str(upload.get("UploadId") or "")
            initiated = _cos_time(str(upload.get("Initiated") or ""))
            if not key or not upload_id or initiated is None or now - initiated <= cfg.max_upload_age_s:
                continue
            flow.abort(cos, cfg.staging_bucket, key, upload_id, rt.retry)
            rt.log("abandoned staging upload aborted", None, key=key, age_s=int(now - initiated))
            aborted.append(key)
        if str(resp.get("IsTruncated")).lower() != "true":
            return aborted
        key_marker, id_marker = str(resp.get("NextKeyMarker") or ""), str(resp.get("NextUploadIdMarker") or "")
        if not key_marker:
            return aborted


def sweep_job(rt: Runtime, job_id: str, now: float) -> str:
    job = load_job(rt, job_id)
    if job is None:
        # An ingest died between marking the job active and writing job.json; its retry or the next
        # event recreates both. Cleared only once it is surely stale.
        if not _marker_fresh(rt, job_id, now):
            rt.store().clear_active(job_id)
            return "stale marker"
        return "no record"
    if now - job.spec.created < 2 * rt.config.lease_s:
        job.store.add_to_index(job_id, job.spec.created)  # repairs an index entry an ingest died before
    state = job.state
    cfg = rt.config
    if state.final:
        job.store.clear_active(job_id)  # its finisher died before clearing it
        return "finished"
    if now > job.spec.deadline:
        # A commit whose result was never recorded (its finalize died after CommitUpload) is not a failure.
        session_now = job.session(job.generation) if job.generation else None
        found = find_committed_media(job, session_now) if session_now is not None else None
        if found is not None and session_now is not None:
            remember_file(job, found.file_id)  # FileId → job (create-once) before result.json, as finalize does
            record_result(job, found, session_now)
            return "committed (found at deadline)"
        # A commit lock older than the lease has a dead holder (no invocation outlives it): the deadline
        # takes it over, so a job whose finalize keeps dying still ends. A fresh lock is left to its holder.
        lock = job.read(records.COMMIT_LOCK) if state == JobState.COMPLETING else None
        stale = lock is not None and now - float(lock.get("at", now)) > cfg.lease_s
        takeover = str(lock.get("holder")) if stale and lock and lock.get("holder") else None
        reason = f"not committed within {cfg.job_deadline_s} s of its start"
        if fail_job(job, "FailedOperation.Deadline", reason, takeover_from=takeover):
            return "failed: deadline"
    if state == JobState.COMPLETING:
        lock = job.read(records.COMMIT_LOCK) or {}
        if now - float(lock.get("at", now)) > cfg.lease_s:
            holder = lock.get("holder")
            message = FinalizeJob(job_id, job.generation, str(holder) if holder else None)
            rt.invoke(cfg.finalize_function, message.to_payload())
            return "finalize restarted"
        return "completing"
    gen = job.generation
    if gen > 1:
        finish_uploads(job, now)  # superseded generations whose abort did not go through yet
    session = job.session(gen) if job.listing.has(records.session(gen)) else None
    if session is None and generation_records(job, gen):
        # Work was done under a session whose record is gone: nothing can continue it (its certificate
        # is lost with it) and a new session would not match the open upload. It ends now.
        if fail_job(job, "FailedOperation.SessionLost", f"the VOD session record of generation {gen} is gone"):
            return "failed: session lost"
        return "completing"
    if session is None:
        if now - job.spec.created > min(cfg.lease_s, 120):
            rt.invoke(cfg.ingest_function, AdvanceJob(job_id).to_payload())
            return "advanced"
        return "planned"
    try:
        missing = missing_work(job, gen)
    except UploadGoneError as exc:  # aborted or expired from outside before its Complete: nothing can mend it
        if fail_job(job, exc.code, exc.message):
            return "failed: upload gone"
        return "completing"
    if not missing:
        if job.spec.kind == JobKind.MULTIPART or now - job.spec.created > min(cfg.lease_s, 120):
            rt.invoke(cfg.finalize_function, FinalizeJob(job_id, gen).to_payload())
            return "finalize started"
        return "copying"
    cert = session.certificate
    if cert is not None and cert.expired_time and cert.expired_time - now < DEFAULT_CERT_MARGIN_S:
        return _new_generation(job, gen, now)
    if job.spec.kind == JobKind.INLINE or (job.spec.kind == JobKind.PACKAGE and not job.listing.dispatches(gen)):
        if now - job.spec.created > min(cfg.lease_s, 120):
            rt.invoke(cfg.ingest_function, AdvanceJob(job_id).to_payload())
            return "advanced"
        return "copying"
    return _redispatch(job, gen, now)


def _redispatch(job: Job, gen: int, now: float) -> str:
    cfg = job.rt.config
    done = job.done(gen)
    redone = 0
    for batch, attempt in sorted(job.listing.dispatches(gen).items()):
        if all(n in done for n in job.spec.batch_members(batch)):
            continue
        record = job.read(records.dispatch(gen, batch, attempt)) or {}
        if now - float(record.get("at", now)) <= cfg.lease_s:
            continue
        if attempt >= MAX_BATCH_ATTEMPTS:
            fail_job(job, "FailedOperation.PartCopy", f"batch {batch} made no progress in {attempt} attempts")
            return "failed: batch attempts"
        dispatch_batch(job, gen, batch, attempt + 1)
        redone += 1
    job.refresh()
    started = dispatch_pending(job, gen)
    if redone or started:
        return "redispatched"
    return "copying"


def _new_generation(job: Job, gen: int, now: float) -> str:
    """Replace an expiring session: new ApplyUpload, new upload, every part again. Old upload aborted."""
    if gen >= MAX_GENERATIONS:
        fail_job(job, "FailedOperation.TempCertificateExpiring", f"the VOD certificate expired {gen} times")
        return "failed: certificate"
    nxt = gen + 1
    if job.store.create_once(job.job_id, records.restart(nxt), {"reason": "certificate expiring", "at": now}):
        job.rt.log("new generation: certificate expiring", job.job_id, generation=nxt)
    session = ensure_session(job, nxt)
    # After the new session exists, so a part_copy of the old generation that finds its upload gone
    # sees it superseded (not a job to fail). If the abort does not go through, the next passes retry it.
    job.refresh()
    close_generation(job, gen, now)
    if job.spec.kind == JobKind.MULTIPART:
        ensure_upload(job, nxt, session)
    if job.spec.kind == JobKind.MULTIPART or (job.spec.kind == JobKind.PACKAGE and job.listing.dispatches(gen)):
        job.refresh()
        dispatch_pending(job, nxt)
    else:
        job.rt.invoke(job.rt.config.ingest_function, AdvanceJob(job.job_id).to_payload())
    return "restarted"


def _marker_fresh(rt: Runtime, job_id: str, now: float) -> bool:
    doc = rt.store().read_key(rt.store().active_key(job_id))
    return doc is not None and now - float(doc.get("at", 0)) < rt.config.lease_s


def _finished_at(job: Job) -> Optional[float]:
    for rel, key in ((records.RESULT, "committed_at"), (records.FAILED, "at")):
        doc: Optional[dict[str, Any]] = job.read(rel) if job.listing.has(rel) else None
        if doc is not None:
            return float(doc.get(key, job.spec.created))
    return None
