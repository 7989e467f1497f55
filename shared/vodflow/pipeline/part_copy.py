"""part_copy: one batch of parts streamed from the staging object into VOD's storage.

Each part: a ranged GET with the role's keys, pinned with ``If-Match`` to the job's ETag (a
replaced object fails loudly instead of mixing two versions), streamed straight into UploadPart
with VOD's temporary certificate (read from the job store, never from the payload). Memory holds
one chunk, not a part. The CRC64 computed while streaming must equal the one COS returns.

Idempotent: a part that ListParts shows at its planned size was copied, and is skipped (no record is
written per part; a source without a CRC64 also gets a part fact ``g<N>/parts/<n>.json`` with the part's
CRC64, which finalize combines); a part copied twice by racing invocations is the same bytes either way,
and Complete names the ETags ListParts shows. A part whose CRC64 check did not complete (an invocation
killed right after its UploadPart) is still covered: the whole object's CRC64 is checked against the
staging object's at Complete, and a mismatch fails the job instead of committing it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import as_completed
from typing import Any, Optional

from vodflow import flow
from vodflow.errors import CertificateExpiringError, IntegrityError, SourceChangedError, VodServiceError
from vodflow.flow import PartResult, Session
from vodflow.logs import ContextThreadPool
from vodflow.pipeline import records
from vodflow.pipeline.dispatch import claim_and_invoke, dispatch_pending
from vodflow.pipeline.finalize import missing_work, outcome
from vodflow.pipeline.lifecycle import Job, UploadGoneError, fail_job, load_job
from vodflow.pipeline.messages import FinalizeJob
from vodflow.pipeline.packages import copy_files
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.staging import staging_source
from vodflow.pipeline.states import JobKind, JobState
from vodflow.planner import Part

PART_STREAMS = 4
"""Parts of a batch copied at once, each its own ranged GET → UploadPart stream: one stream is capped by
the network's per-connection throughput, so a batch of several parts moves them side by side."""
PARALLEL_PART_MIN = 8 * 1024 * 1024
"""Parts smaller than this are copied one after another. The planner never plans parts below 16 MiB unless
told to (``VODFLOW_PART_SIZE``, as the story tests do with 1 MiB parts), and those deployments keep the
strict part order their fault scenarios are written against (a kill or a replacement on the n-th part)."""


def copy_batch(rt: Runtime, job_id: str, gen: int, batch: int) -> dict[str, Any]:
    job = load_job(rt, job_id)
    if job is None:
        return {"job_id": job_id, "status": "unknown job"}
    if job.state.final or job.state == JobState.COMPLETING:  # committed (and after), failed, or committing
        return outcome(job, "done")
    if gen != job.generation:
        return outcome(job, "superseded", generation=gen)
    if job.spec.kind == JobKind.PACKAGE:
        failed = copy_files(job, gen, list(job.spec.batch_members(batch)))
        return failed if failed is not None else _after_batch(job, gen, batch, len(job.spec.batch_members(batch)))
    session = job.session(gen)
    upload_id = job.upload_id(gen)
    if session is None or upload_id is None or job.spec.kind != JobKind.MULTIPART:
        return outcome(job, "not started")
    streams = PART_STREAMS if job.spec.part_size >= PARALLEL_PART_MIN else 1
    copied, failed = copy_parts(job, gen, batch, session, upload_id, streams)
    if failed is not None:
        return failed
    return _after_batch(job, gen, batch, copied)


def copy_parts(
    job: Job, gen: int, batch: int, session: Session, upload_id: str, streams: int
) -> tuple[int, Optional[dict[str, Any]]]:
    """Copy the batch's parts not yet copied, ``streams`` at a time: (parts copied, None) when they are all in,
    else (parts copied, the outcome that ends the invocation: the job failed, its upload is gone, or its
    certificate is expiring).

    Used by part_copy for a dispatched batch and by ingest for a mid-size object's one batch (``copy_local``).
    Each part copied is added to ``job.listed``, so the caller sees the batch done without another ListParts.
    """
    rt, job_id = job.rt, job.job_id
    members = list(job.spec.batch_members(batch))
    try:
        done = job.done(gen)
    except UploadGoneError:
        return 0, _upload_gone(job, gen, members[0] if members else 0)
    todo = [n for n in members if n not in done]
    # ListParts is the truth (see ``Job.done``): a part fact is written only when the source has no CRC64, for
    # finalize to combine the parts' CRC64s into the whole object's.
    facts = job.spec.source.crc64 is None
    source = staging_source(job)
    cos = rt.cert_cos(session)
    stop = threading.Event()
    uploaded: dict[int, PartResult] = {}

    def copy_one(number: int) -> None:
        # Each part is independent (its own ranged GET → UploadPart stream), so copying several at once is as
        # safe to repeat as copying them one after another.
        if stop.is_set():
            return
        offset, length = job.spec.part_range(number)
        try:
            result = flow.copy_part(
                source,
                cos,
                session.storage_bucket,
                session.media_key,
                upload_id,
                Part(number, offset, length),
                retry=rt.retry,
                certificate=session.certificate,
                clock=rt.clock,
                require_crc=True,
            )
        except BaseException:
            stop.set()  # parts not started yet are left: this invocation ends with the first error
            raise
        if facts:
            job.store.create_once(
                job_id,
                records.part(gen, number),
                {"number": number, "etag": result.etag, "size": result.size, "crc64": result.crc64},
            )
        uploaded[number] = result

    began = time.monotonic()
    errors: list[tuple[int, BaseException]] = []
    with ContextThreadPool(max_workers=max(1, min(streams, len(todo))), thread_name_prefix="part") as pool:
        futures = {pool.submit(copy_one, n): n for n in todo}
        for future in as_completed(futures):
            try:
                future.result()
            except BaseException as exc:
                errors.append((futures[future], exc))
    # Noted here, one thread (notes made side by side could replace each other): this invocation knows its parts in.
    if gen in job.listed:  # only ever a complete list: what was listed, plus what this invocation uploaded
        job.listed[gen].update(uploaded)
    if facts:
        for number in uploaded:
            job.note(records.part(gen, number))
    if errors:
        number, error = min(errors, key=lambda e: e[0])
        try:
            raise error
        except (SourceChangedError, IntegrityError) as exc:
            fail_job(job, exc.code, exc.message)
            return len(uploaded), outcome(job, "failed", code=exc.code)
        except VodServiceError as exc:
            if exc.code != "NoSuchUpload":
                raise
            return len(uploaded), _upload_gone(job, gen, number)
        except CertificateExpiringError as exc:
            # Not a failure of the job: the sweeper starts a new generation with a fresh certificate.
            rt.log("certificate expiring; leaving the rest to the sweeper", job_id, code=exc.code, part=number)
            return len(uploaded), outcome(job, "certificate expiring", part=number)
    rt.log(
        "batch copied",
        job_id,
        batch=batch,
        generation=gen,
        parts=len(uploaded),
        bytes=sum(job.spec.part_range(n)[1] for n in todo),
        seconds=round(time.monotonic() - began, 3),
        streams=streams,
    )
    return len(uploaded), None


def _upload_gone(job: Job, gen: int, number: int) -> dict[str, Any]:
    """UploadPart found no upload: superseded (a newer generation aborted it: nothing to do), or the
    job's own upload aborted or expired from outside, which no retry can bring back: the job fails."""
    job.refresh()
    if job.state.final or gen != job.generation or job.listing.has(records.restart(gen + 1)):
        return outcome(job, "superseded", generation=gen)
    message = f"the multipart upload of generation {gen} is gone from VOD's storage (part {number})"
    fail_job(job, "FailedOperation.UploadGone", message)
    return outcome(job, "failed", code="FailedOperation.UploadGone")


def _after_batch(job: Job, gen: int, batch: int, copied: int) -> dict[str, Any]:
    """Start finalize when everything is in (several may: one commits), else the next batches."""
    job.refresh()
    try:
        missing = missing_work(job, gen)
    except UploadGoneError:
        return _upload_gone(job, gen, 0)
    if not missing:
        # Several part_copies may see this at once: one claims the finalize (the sweeper covers a claimer
        # that dies before invoking, and any number of finalizes is safe anyway).
        claim_and_invoke(
            job, records.finalize_claim(gen), job.rt.config.finalize_function, FinalizeJob(job.job_id, gen)
        )
        return outcome(job, "copied; finalize started", copied=copied)
    started = dispatch_pending(job, gen)
    return outcome(job, "copied", copied=copied, batch=batch, dispatched=started)
