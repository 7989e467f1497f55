"""Ingest: a COS ObjectCreated event (or an API request) starts, or finds, the job of each object.

Every record of the event is handled on its own: a bad record is reported and the others go on.
The job id is a hash of (bucket, key, ETag), so a duplicate event, a retried invocation or an API
restart of the same version all find the same job; a new version of the key is a new job.
"""

from __future__ import annotations

import posixpath
from concurrent.futures import Executor, Future
from typing import Any, Optional

from vodflow import flow
from vodflow.crc64 import parse_cos_crc
from vodflow.errors import (
    CertificateExpiringError,
    IntegrityError,
    SourceChangedError,
    VodClientException,
    VodServiceError,
    VodValidationError,
)
from vodflow.flow import Session
from vodflow.logs import ContextThreadPool
from vodflow.manifests import manifest_kind
from vodflow.pipeline import records
from vodflow.pipeline.dispatch import dispatch_pending
from vodflow.pipeline.events import RecordError, StagedObject, parse_cos_event
from vodflow.pipeline.finalize import finalize_loaded, outcome
from vodflow.pipeline.jobs import MAX_ATTEMPTS, JobSpec, Listing, SourceObject, job_id_for, options_digest
from vodflow.pipeline.lifecycle import Job, ensure_session, ensure_upload, fail_job, load_job, put_into_session
from vodflow.pipeline.messages import AdvanceJob, StartStaged
from vodflow.pipeline.options import IngestOptions
from vodflow.pipeline.packages import advance_package, is_package_key, nudge_package_jobs, register_package_job
from vodflow.pipeline.part_copy import copy_parts
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.staging import ignore_reason, package_root, staging_source
from vodflow.pipeline.states import JobKind, JobState
from vodflow.pipeline.uploads import options_for
from vodflow.planner import MiB, PlanConfig, plan_upload
from vodflow.retry import is_retryable


def ingest_event(rt: Runtime, event: Any) -> list[dict[str, Any]]:
    """Handle every record; re-raise a retryable failure at the end so SCF retries the event.

    Re-running the records that already succeeded is harmless: they find their jobs.
    """
    outcomes: list[dict[str, Any]] = []
    retryable: Optional[BaseException] = None
    for item in parse_cos_event(event):
        if isinstance(item, RecordError):
            rt.log("record rejected", code=item.error.code, field=item.error.field, error_message=item.error.message)
            outcomes.append({"index": item.index, "status": "rejected", **item.error.to_dict()})
            continue
        try:
            outcomes.append(ingest_object(rt, item))
        except VodClientException as exc:
            if not is_retryable(exc):
                raise
            retryable = exc
            outcomes.append({"key": item.key, "status": "retry", "code": exc.code})
    if retryable is not None:
        raise retryable
    return outcomes


def ingest_object(rt: Runtime, obj: StagedObject) -> dict[str, Any]:
    """Start (or find) the job of the object the record names, whichever spelling of its key the event used.

    Every candidate key (see :func:`events.key_candidates`) that exists is ingested: when several exist
    (``a b.mp4`` and ``a%20b.mp4`` both staged), the event's size picks the one it is about; if that
    still leaves several, each is ingested, which is harmless: a job is identified by its object version,
    so the other object's own event finds the same job (nothing twice, nothing lost).
    """
    cfg = rt.config
    if obj.bucket != cfg.staging_bucket:
        return {"key": obj.key, "status": "ignored", "reason": f"not the staging bucket {cfg.staging_bucket}"}
    found: list[tuple[str, dict[str, Any]]] = []
    ignored: Optional[dict[str, Any]] = None
    for key in obj.keys:
        reason = ignore_reason(cfg, key)
        if reason is not None:
            rt.log("ignored", key=key, reason=reason)
            nudged = nudge_package_jobs(rt, obj.bucket, key) if package_root(key) else []
            ignored = ignored or {"key": key, "status": "ignored", "reason": reason, "nudged": nudged}
            continue
        head = head_object(rt, obj.bucket, key)
        if head is not None:
            found.append((key, head))
    if len(found) > 1 and obj.size is not None:
        sized = [(k, h) for k, h in found if int(h.get("content-length", -1)) == obj.size]
        found = sized or found
    if not found:
        return ignored or {"key": obj.key, "status": "ignored", "reason": "the object no longer exists"}
    outcomes = [ingest_version(rt, obj.bucket, key, head) for key, head in found]
    return outcomes[0] if len(outcomes) == 1 else {**outcomes[0], "also": outcomes[1:]}


def ingest_version(rt: Runtime, bucket: str, key: str, head: dict[str, Any]) -> dict[str, Any]:
    """Start (or find) the job of one object version and move it on, with two threads for the round trips that
    need not wait for each other (ApplyUpload beside the first records, the index entry beside the copy).

    Whatever ran beside is waited for before the reply: an index entry that could not be written fails the
    invocation (retryable, so SCF runs it again and the create-once entry is written then).
    """
    with ContextThreadPool(max_workers=2, thread_name_prefix="ingest") as background:
        job = start_job(rt, bucket, key, head, background=background)
        result = advance(job)
        for pending in job.background:
            pending.result()
        return result


def head_object(rt: Runtime, bucket: str, key: str, region: Optional[str] = None) -> Optional[dict[str, Any]]:
    """HEAD with the role's keys: size, ETag, CRC64 and metadata (lower-case names). None if gone."""
    return flow.object_head(rt.cos(region), bucket, key, rt.retry)


def start_job(
    rt: Runtime,
    bucket: str,
    key: str,
    head: dict[str, Any],
    restart: bool = False,
    background: Optional[Executor] = None,
) -> Job:
    """The job of this request: the object version (bucket, key, ETag) with the options its metadata chose.

    Attempts ``<id>``, ``<id>-r1``, ``<id>-r2``... of the version are walked in order: the first whose
    options are the same is the job (a duplicate event, a retry: found again, never a second job); if
    none, the next free attempt is created (the same bytes re-staged with corrected options: a fresh
    attempt). ``restart`` (``POST /jobs``) also passes over failed attempts, so a failure can be retried.
    Safe to repeat and to race: attempts are create-once, and a racer that loses re-checks the winner.
    """
    digest = options_digest(head)
    for attempt in range(MAX_ATTEMPTS):
        job = start_attempt(rt, bucket, key, head, attempt, digest, restart, background)
        if job is not None:
            return job
    raise VodValidationError(
        "LimitExceeded.Attempts", "key", key, f"this object version already has {MAX_ATTEMPTS} attempts"
    )


def _same_request(job: Job, digest: str, restart: bool) -> bool:
    """Whether an existing attempt is the job of this request (a job from before options_digest matches any)."""
    if job.spec.options_digest is not None and job.spec.options_digest != digest:
        return False
    return not (restart and job.state == JobState.FAILED)


def start_attempt(
    rt: Runtime,
    bucket: str,
    key: str,
    head: dict[str, Any],
    attempt: int,
    digest: str,
    restart: bool = False,
    background: Optional[Executor] = None,
) -> Optional[Job]:
    """Create ``job.json`` once for this attempt (or load it); None if the attempt is another request's.

    Created first, read only when the create is refused (409): a new object, the common case, pays no GET.
    With ``background`` (an event's ingest), VOD's ApplyUpload runs beside the job's first records and the
    index entry beside what follows (see :func:`ingest_version`): round trips that need not wait for each other.
    """
    cfg = rt.config
    etag = str(head.get("etag", "")).strip('"')
    job_id = job_id_for(bucket, key, etag, attempt)
    rt.bind_job(job_id)
    store = rt.store()
    size = int(head.get("content-length", 0))
    version = str(head.get("x-cos-version-id") or "") or None
    crc = parse_cos_crc(head.get("x-cos-hash-crc64ecma"))
    source = SourceObject(bucket, key, etag, size, crc, cfg.region, version if version != "null" else None)
    now = rt.clock()
    error: Optional[VodValidationError] = None
    options: dict[str, Any] = {}
    kind = JobKind.INLINE
    local = False
    part_size = part_count = parts_per_batch = 0
    try:
        package = is_package_key(key)
        parsed = options_for(rt, bucket, key, head, job_id, package=package)  # a grant's options only
        options = parsed.to_dict()
        options["cover"] = _cover(rt, bucket, parsed)
        if size == 0:
            raise VodValidationError("InvalidParameterValue.MediaSize", "size", 0, "the staged object is empty")
        if package:
            kind = JobKind.PACKAGE
        elif manifest_kind(key) is not None:
            raise VodValidationError(
                "InvalidParameterValue.MediaType",
                "key",
                key,
                "a manifest must be staged as index.m3u8 / index.mpd in a folder named *.hls / *.dash",
            )
        plan = (
            None
            if package
            else plan_upload(
                size,
                PlanConfig(
                    inline_threshold=cfg.inline_threshold,
                    part_size=cfg.part_size,
                    parts_per_batch=cfg.batch_parts,
                    max_fanout=cfg.max_fanout,
                ),
            )
        )
        if plan is not None and not plan.inline:
            kind = JobKind.MULTIPART
            part_size, part_count, parts_per_batch = plan.part_size, plan.part_count, plan.parts_per_batch
        elif plan is not None and (parallel := local_parts(size, cfg.copy_streams, cfg.part_size)) is not None:
            kind, local = JobKind.MULTIPART, True
            part_size, part_count = parallel
            parts_per_batch = part_count
    except VodValidationError as exc:
        error = exc
    applying: Optional[Future[Session]] = None
    if background is not None and error is None and kind != JobKind.PACKAGE:
        # Asked before the job is known to be new: if it is a repeat, this session is dropped unused (never
        # written to, never committed: see lifecycle.ensure_session), which costs nothing.
        applying = background.submit(flow.apply_upload, rt.vod(), dict(options.get("apply_fields") or {}), rt.retry)
    # Intent first: the job joins the active set before job.json exists, so an ingest killed between
    # the two on every retry still leaves something the sweeper looks at (a marker with no job is cleared).
    store.mark_active(job_id)
    spec = JobSpec(
        job_id=job_id,
        source=source,
        kind=kind,
        options=options,
        created=now,
        deadline=now + cfg.job_deadline_s,
        attempt=attempt,
        part_size=part_size,
        part_count=part_count,
        parts_per_batch=parts_per_batch,
        options_digest=digest,
        local=local,
    )
    if store.create_once(job_id, records.JOB, spec.to_dict()):
        rt.log("job created", job_id, key=key, size=size, kind=kind, attempt=attempt)
        job = Job(rt, store, spec, Listing(frozenset({records.JOB})), applying=applying)
    else:  # a repeat (duplicate event, retry, restart), or another request's attempt: the first writer's spec
        loaded = load_job(rt, job_id, store)
        if loaded is None:  # removed since (retention of a long-finished job): a later event starts it anew
            raise VodServiceError("InternalError.JobVanished", f"job {job_id} vanished while starting", service="cos")
        job = loaded
        if job.state.final:
            store.clear_active(job_id)  # the marker just placed, for a job that is already over
        if not _same_request(job, digest, restart):
            return None  # another request's attempt (other options, or a failure being restarted): try the next
    if background is not None:  # create-once; repeated in case an earlier attempt died first
        job.background.append(background.submit(store.add_to_index, job_id, job.spec.created))
    else:
        store.add_to_index(job_id, job.spec.created)
    if kind == JobKind.PACKAGE:
        register_package_job(job)
    if error is not None and not job.state.final:
        fail_job(job, error.code, error.message)
    return job


def _cover(rt: Runtime, bucket: str, options: IngestOptions) -> Optional[dict[str, Any]]:
    """HEAD the cover named in the metadata now, so the job pins its version; missing is an error."""
    if not options.cover_key:
        return None
    head = head_object(rt, bucket, options.cover_key)
    if head is None:
        raise VodValidationError(
            "ResourceNotFound.Cover", "x-cos-meta-vod-cover", options.cover_key, "no such object in the staging bucket"
        )
    return {
        "key": options.cover_key,
        "etag": str(head.get("etag", "")).strip('"'),
        "size": int(head.get("content-length", 0)),
        "crc64": parse_cos_crc(head.get("x-cos-hash-crc64ecma")),
    }


def advance(job: Job) -> dict[str, Any]:
    """Move the job on from wherever it is. Safe to repeat: each step checks what is already done.

    A permanent refusal (a 4xx: permissions, a bad option the service rejects) fails the job with
    Tencent's code; a transient one (throttling, 5xx, network) is raised, so SCF retries the
    invocation and, after that, the sweeper advances the job again until its deadline.
    """
    if job.state.final:
        return outcome(job, "exists")
    try:
        if job.spec.kind == JobKind.INLINE:
            return copy_inline(job)
        if job.spec.kind == JobKind.MULTIPART:
            return fan_out(job)
        return advance_package(job)
    except VodClientException as exc:
        if is_retryable(exc):
            raise
        fail_job(job, exc.code, exc.message)
        return outcome(job, "failed", code=exc.code)


def copy_inline(job: Job) -> dict[str, Any]:
    """Small objects: one streaming PUT (ranged GET pinned to the ETag → PUT with VOD's certificate), then commit.

    Safe to repeat: the PUT replaces the same key with the same bytes; the commit is the one finalize.
    """
    gen = job.generation
    session = ensure_session(job, gen)
    if not job.listing.has(records.file(gen, 0)):
        try:
            put_into_session(job, session, staging_source(job), session.media_key, records.file(gen, 0))
        except (SourceChangedError, IntegrityError, CertificateExpiringError) as exc:
            fail_job(job, exc.code, exc.message)
            return outcome(job, "failed", code=exc.code)
    return finalize_loaded(job, gen, session=session)


LOCAL_PART_MIN = 4 * MiB
"""The smallest part of a mid-size object copied in parallel by ingest: below it a stream's fixed cost (a ranged
GET and an UploadPart: round trips) outweighs what another stream saves. The multipart upload adds about eight
round trips of its own (its records, Initiate, ListMultipartUploads, Complete, closing it), about what one stream
spends on 8 MiB at 50 MB/s, so parallel copies start at ``PARALLEL_COPY_MIN`` (an estimate from those counts; the
bench measures one PUT at 8 MiB at 1.05 x the naive function and 8 parts at 64 MiB at 2.10 x); smaller objects
are one streaming PUT."""
PARALLEL_COPY_MIN = 4 * LOCAL_PART_MIN


def local_parts(size: int, streams: int, part_size: Optional[int] = None) -> Optional[tuple[int, int]]:
    """(part size, part count) for an object ingest copies as parts side by side, or None for one PUT.

    One stream is capped by the network's per-connection throughput (the naive download-then-upload function
    and the library both beat a single stream from about 8 MiB), so an object from ``PARALLEL_COPY_MIN`` up to
    the inline threshold is cut into ``streams`` parts (whole MiB, at least ``LOCAL_PART_MIN``; a deployment's
    ``VODFLOW_PART_SIZE`` wins) copied at once inside the ingest invocation.
    """
    if streams < 2 or size < PARALLEL_COPY_MIN:
        return None
    share = -(-size // streams)
    part = part_size or max(LOCAL_PART_MIN, -(-share // MiB) * MiB)
    count = -(-size // part)
    return (part, count) if count >= 2 else None


def fan_out(job: Job) -> dict[str, Any]:
    """Large objects: session, multipart upload, then async part_copy invocations (see ``dispatch``);
    mid-size objects (``JobSpec.local``): the same upload, its parts copied here (:func:`copy_local`)."""
    gen = job.generation
    session = ensure_session(job, gen)
    upload_id = ensure_upload(job, gen, session)
    if job.spec.local:
        return copy_local(job, gen, session, upload_id)
    job.refresh()
    started = dispatch_pending(job, gen)
    return outcome(job, "dispatched", batches=started, total_batches=job.spec.batch_count)


def copy_local(job: Job, gen: int, session: Session, upload_id: str) -> dict[str, Any]:
    """A mid-size object: its one batch of parts copied in this invocation, side by side, then committed here.

    Every guarantee of the fan-out path holds, because this is the fan-out path run in place: the upload is
    the generation's recorded one (the sweeper closes it whatever happens), the batch is claimed as dispatched
    first (its create-once dispatch record), so if this invocation dies the sweeper finds a batch whose lease
    ran out and hands it to part_copy, which skips the parts already copied; a retried ingest copies again only
    what is missing (the same bytes either way); finalize runs here under ``commit.lock`` as it would anywhere.
    No part_copy or finalize invocation is on the way: one invocation from the event to the commit.
    """
    claim = records.dispatch(gen, 0, 1)
    if not job.listing.has(claim):
        job.store.create_once(job.job_id, claim, {"at": job.rt.clock(), "local": True})
        job.note(claim)
    streams = min(job.rt.config.copy_streams, job.spec.part_count)
    _, failed = copy_parts(job, gen, 0, session, upload_id, streams)
    if failed is not None:
        return failed
    return finalize_loaded(job, gen, session=session)


def start_staged(rt: Runtime, message: StartStaged) -> dict[str, Any]:
    """Ingest one staged object as its event would have (asked by the sweeper when the event was lost)."""
    bucket, key = message.bucket, message.key
    obj = StagedObject(bucket=bucket, key=key, raw_key=key, size=None, event_name="vodflow:Reconcile", event_time=None)
    return ingest_object(rt, obj)


def advance_job(rt: Runtime, message: AdvanceJob) -> dict[str, Any]:
    """Move a known job on (asked by the API after a start, or by the sweeper for a stalled job)."""
    job = load_job(rt, message.job_id)
    if job is None:
        return {"job_id": message.job_id, "status": "unknown job"}
    return advance(job)


def start_or_restart(rt: Runtime, bucket: str, key: str) -> dict[str, Any]:
    """``POST /jobs``: start the job of a staged object, or a fresh attempt if its job failed."""
    head = head_object(rt, bucket, key)
    if head is None:
        raise VodValidationError("ResourceNotFound.Object", "key", key, "no such object in the staging bucket")
    reason = ignore_reason(rt.config, key)
    if reason is not None:
        raise VodValidationError("InvalidParameterValue.Key", "key", key, f"does not start a job: {reason}")
    # A fresh attempt if the version's job failed or its options changed since; the running or
    # committed job of the same request otherwise (POST /jobs twice starts nothing twice).
    asked_at = rt.clock()
    job = start_job(rt, bucket, key, head, restart=True)
    if job.state in (JobState.PLANNED, JobState.WAITING, JobState.COPYING):
        rt.invoke(rt.config.ingest_function, AdvanceJob(job.job_id).to_payload())
    # "started": this request made the attempt (even if it failed at once: its reason is in the job);
    # "exists": an attempt made before was found (the API says whether it already ended).
    status = "started" if job.spec.created >= asked_at else "exists"
    return outcome(job, status, key=key, name=posixpath.basename(key))
