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
- finished longer than the retention ago → its records removed.

Everything it starts is idempotent, so two sweepers overlapping, or a sweeper overlapping a slow
worker, cost duplicate work at worst, never a duplicate media.
"""

from __future__ import annotations

from typing import Any, Optional

from vodflow.errors import VodClientException
from vodflow.flow import DEFAULT_CERT_MARGIN_S
from vodflow.pipeline.dispatch import dispatch_batch, dispatch_pending
from vodflow.pipeline.finalize import missing_work
from vodflow.pipeline.lifecycle import (
    Job,
    abort_generation,
    ensure_session,
    ensure_upload,
    fail_job,
    find_committed_media,
    load_job,
    record_result,
)
from vodflow.pipeline.runtime import Runtime

MAX_BATCH_ATTEMPTS = 5
MAX_GENERATIONS = 5


def sweep(rt: Runtime, now: Optional[float] = None, limit: Optional[int] = None) -> dict[str, int]:
    """One pass over the jobs; returns what it did, by kind."""
    now = rt.clock() if now is None else now
    store = rt.store()
    counts: dict[str, int] = {}
    for i, job_id in enumerate(list(store.all_job_ids())):
        if limit is not None and i >= limit:
            break
        try:
            action = sweep_job(rt, job_id, now)
        except VodClientException as exc:
            rt.log("sweep failed for job", job_id, code=exc.code)
            action = "error"
        counts[action] = counts.get(action, 0) + 1
    rt.log("swept", None, counts=counts)
    return counts


def sweep_job(rt: Runtime, job_id: str, now: float) -> str:
    job = load_job(rt, job_id)
    if job is None:
        return "no record"
    state = job.state
    cfg = rt.config
    if state in ("committed", "failed"):
        finished = _finished_at(job)
        if finished is not None and now - finished > cfg.job_retention_s:
            job.store.delete_job(job_id)
            job.store.cos.delete_object(Bucket=job.store.bucket, Key=job.store.index_key(job_id, job.spec.created))
            return "removed"
        return "finished"
    if now > job.spec.deadline:
        # A commit whose result was never recorded (its finalize died after CommitUpload) is not a failure.
        session_now = job.session(job.generation) if job.generation else None
        found = find_committed_media(job, session_now) if session_now is not None else None
        if found is not None and session_now is not None:
            record_result(job, found, session_now)
            return "committed (found at deadline)"
        if fail_job(job, "FailedOperation.Deadline", f"not committed within {cfg.job_deadline_s} s of its start"):
            return "failed: deadline"
    if state == "completing":
        lock = job.read("commit.lock") or {}
        if now - float(lock.get("at", now)) > cfg.lease_s:
            payload = {"job_id": job_id, "generation": job.generation, "takeover": lock.get("holder")}
            rt.invoke(cfg.finalize_function, payload)
            return "finalize restarted"
        return "completing"
    gen = job.generation
    session = job.session(gen)
    if session is None:
        if now - job.spec.created > min(cfg.lease_s, 120):
            rt.invoke(cfg.ingest_function, {"vodflow": "advance", "job_id": job_id})
            return "advanced"
        return "planned"
    missing = missing_work(job, gen)
    if not missing:
        if job.spec.kind == "multipart" or now - job.spec.created > min(cfg.lease_s, 120):
            rt.invoke(cfg.finalize_function, {"job_id": job_id, "generation": gen})
            return "finalize started"
        return "copying"
    cert = session.certificate
    if cert is not None and cert.expired_time and cert.expired_time - now < DEFAULT_CERT_MARGIN_S:
        return _new_generation(job, gen, now)
    if job.spec.kind == "inline" or (job.spec.kind == "package" and not job.listing.dispatches(gen)):
        if now - job.spec.created > min(cfg.lease_s, 120):
            rt.invoke(cfg.ingest_function, {"vodflow": "advance", "job_id": job_id})
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
        record = job.read(f"g{gen}/dispatch/{batch:05d}-{attempt:03d}.json") or {}
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
    if job.store.create_once(job.job_id, f"g{nxt}/restart.json", {"reason": "certificate expiring", "at": now}):
        job.rt.log("new generation: certificate expiring", job.job_id, generation=nxt)
    abort_generation(job, gen)
    session = ensure_session(job, nxt)
    if job.spec.kind == "multipart":
        ensure_upload(job, nxt, session)
    if job.spec.kind == "multipart" or (job.spec.kind == "package" and job.listing.dispatches(gen)):
        job.refresh()
        dispatch_pending(job, nxt)
    else:
        job.rt.invoke(job.rt.config.ingest_function, {"vodflow": "advance", "job_id": job.job_id})
    return "restarted"


def _finished_at(job: Job) -> Optional[float]:
    for rel, key in (("result.json", "committed_at"), ("failed.json", "at")):
        doc: Optional[dict[str, Any]] = job.read(rel) if job.listing.has(rel) else None
        if doc is not None:
            return float(doc.get(key, job.spec.created))
    return None
