"""Finalize: Complete the multipart upload, verify CRC64, copy the cover, commit once, then tidy up.

Started (async) by the part_copy that sees the last part land, by ingest after an inline copy,
and by the sweeper for jobs whose finalize died. Any number may run; ``commit.lock`` lets one
go on, and everything it does is safe to repeat (see each step).
"""

from __future__ import annotations

from typing import Any, Optional

from vodflow import flow
from vodflow.crc64 import crc64_combine_all, parse_cos_crc
from vodflow.errors import IntegrityError, SourceChangedError, VodClientException, VodServiceError
from vodflow.flow import PartResult, Session
from vodflow.pipeline import records, webhook
from vodflow.pipeline.lifecycle import (
    Job,
    UploadGoneError,
    commit_session,
    fail_job,
    finish_uploads,
    load_job,
    put_into_session,
    record_result,
    take_commit_lock,
)
from vodflow.pipeline.processing import remember_file
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.staging import apply_staging_policy, cover_source
from vodflow.pipeline.states import JobKind
from vodflow.retry import is_retryable


def outcome(job: Job, status: str, **extra: Any) -> dict[str, Any]:
    return {"job_id": job.job_id, "status": status, "state": job.state, **extra}


def missing_work(job: Job, gen: int) -> list[int]:
    """Parts (multipart) or files (inline, package) of the generation not yet copied."""
    spec = job.spec
    if spec.kind == JobKind.MULTIPART:
        done = job.done(gen)
        return [n for n in range(1, spec.part_count + 1) if n not in done]
    if spec.kind == JobKind.PACKAGE and not spec.files:
        return [0]  # the package is not resolved yet (waiting for files)
    total = len(spec.files) if spec.kind == JobKind.PACKAGE else 1
    done_files = job.listing.files_done(gen)
    return [i for i in range(total) if i not in done_files]


def finalize_job(
    rt: Runtime, job_id: str, gen: Optional[int] = None, *, takeover: Optional[str] = None
) -> dict[str, Any]:
    job = load_job(rt, job_id)
    if job is None:
        return {"job_id": job_id, "status": "unknown job"}
    return finalize_loaded(job, gen, takeover=takeover)


def finalize_loaded(
    job: Job, gen: Optional[int] = None, *, takeover: Optional[str] = None, session: Optional[Session] = None
) -> dict[str, Any]:
    if job.state.final:
        return outcome(job, "done")
    current = job.generation
    if gen is not None and gen != current:
        return outcome(job, "superseded", generation=gen)
    session = session or job.session(current)
    if session is None:
        return outcome(job, "not started")
    try:
        missing = missing_work(job, current)
    except UploadGoneError as exc:  # aborted or expired from outside, never completed: no retry brings it back
        fail_job(job, exc.code, exc.message, takeover_from=takeover)
        return outcome(job, "failed", code=exc.code)
    if missing:
        return outcome(job, "waiting for parts", missing=len(missing))
    if not take_commit_lock(job, job.rt.request_id, takeover_from=takeover):
        return outcome(job, "locked", detail="another finalize holds the commit lock")
    try:
        _complete_media(job, current, session)
        _copy_cover(job, current, session)
        result = commit_session(job, session)
    except (IntegrityError, SourceChangedError, UploadGoneError) as exc:
        fail_job(job, exc.code, exc.message, holding_lock=True)
        return outcome(job, "failed", code=exc.code)
    except VodClientException as exc:
        if is_retryable(exc):
            raise  # the async retry (or the sweeper's takeover) runs finalize again; every step repeats safely
        fail_job(job, exc.code, exc.message, holding_lock=True)
        return outcome(job, "failed", code=exc.code)
    # FileId → job before result.json: VOD's events for this media (sent from now on) find their job.
    remember_file(job, result.file_id)
    record = record_result(job, result, session)
    job.rt.log("committed", job.job_id, file_id=record.get("file_id"))
    apply_staging_policy(job, record)
    # Both repeatable and both finished by the sweeper if they do not go through now (the job stays in
    # the aborts and webhooks sets until they do).
    finish_uploads(job)
    webhook.deliver(job)
    return outcome(job, "committed", file_id=record.get("file_id"), media_url=record.get("media_url"))


def _facts_crc(job: Job, gen: int) -> Optional[int]:
    """The whole object's CRC64 from the part facts (only when the staging object had none: one GET a part)."""
    parts = []
    for n in range(1, job.spec.part_count + 1):
        doc = job.read(records.part(gen, n))
        if doc is None or doc.get("crc64") is None:
            return None
        parts.append((int(doc["crc64"]), int(doc["size"])))
    return crc64_combine_all(parts)


def _listed_parts(job: Job, gen: int, cos: Any, session: Session, upload_id: str) -> Optional[list[PartResult]]:
    """ListParts (the truth; one request per 1000 parts), checked against the plan. None: the upload is gone."""
    known = job.listed.get(gen)
    if known and all(p.etag for p in known.values()):
        # What this invocation just listed or uploaded itself (Complete refuses a part that is not so: InvalidPart).
        listed = sorted(known.values(), key=lambda p: p.number)
    else:  # not read yet, or an upload found completed already (its stand-in parts have no ETag)
        try:
            listed = flow.list_parts(cos, session.storage_bucket, session.media_key, upload_id, job.rt.retry)
        except VodServiceError as exc:
            if exc.code == "NoSuchUpload":
                return None
            raise
    expected = [(n, job.spec.part_range(n)[1]) for n in range(1, job.spec.part_count + 1)]
    if [(p.number, p.size) for p in listed] != expected:
        # Every part was seen in VOD's storage before the lock was taken, yet COS does not hold it as planned
        # now: it vanished (or was replaced) from outside. Not transient (a part being re-copied still lists,
        # same size): the job ends here rather than finalize retrying for ever.
        have = {p.number: p.size for p in listed}
        wrong = [n for n, size in expected if have.get(n) != size]
        raise UploadGoneError(
            "FailedOperation.PartMissing",
            f"ListParts does not show {len(wrong)} copied part(s) as planned (first: {wrong[:1]})",
        )
    return listed


def _complete_media(job: Job, gen: int, session: Session) -> None:
    """Multipart: Complete, and COS's CRC64 of the result must be the staging object's.

    Every part's CRC64 was checked when it was copied; the whole object's is checked here against
    the staging object's (or, if it had none, the parts' combined). Safe to repeat: a finalize killed
    after Complete finds the upload gone next time; the object is then accepted only if COS's CRC64
    of it is the expected one.
    """
    if job.spec.kind != JobKind.MULTIPART:
        return
    expected = job.spec.source.crc64 if job.spec.source.crc64 is not None else _facts_crc(job, gen)
    upload_id = str(job.upload_id(gen))
    cos = job.rt.cert_cos(session)
    parts = _listed_parts(job, gen, cos, session, upload_id)
    if parts is not None:
        try:
            flow.complete(
                cos,
                session.storage_bucket,
                session.media_key,
                upload_id,
                parts,
                retry=job.rt.retry,
                expected_crc64=expected,
            )
            job.completed_uploads.add(upload_id)
            return
        except VodServiceError as exc:
            if exc.code != "NoSuchUpload":
                raise
    head = flow.object_head(cos, session.storage_bucket, session.media_key, job.rt.retry)
    if head is None:
        raise UploadGoneError.never_completed(gen)
    remote = parse_cos_crc(head.get("x-cos-hash-crc64ecma"))
    if expected is None or remote != expected:
        raise IntegrityError(f"completed object {session.media_key}", expected or 0, remote)
    job.rt.log("upload already completed by an earlier attempt; CRC64 matches", job.job_id)


def _copy_cover(job: Job, gen: int, session: Session) -> None:
    """Copy the cover named in the metadata into the session's cover path (a PUT: safe to repeat)."""
    source = cover_source(job)
    if source is None or not session.cover_storage_path:
        return
    if not job.listing.has(records.cover(gen)):
        put_into_session(job, session, source, session.cover_key, records.cover(gen))
