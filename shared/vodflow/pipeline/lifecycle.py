"""A job's transitions, each safe to repeat: session, upload, failure, commit, result.

The guarantee "never two media for one job" rests on three facts:

1. one VOD session per generation (``g<N>/session.json``, create-once): racing ingests may each
   call ApplyUpload, but only the recorded session is ever written to or committed; an unused
   session costs nothing;
2. ``commit.lock`` (create-once) is taken before Complete/CommitUpload by the finalize that
   commits, and by anything that wants to fail the job: commit and failure exclude each other;
3. a commit is only ever re-sent with the same VodSessionKey; when VOD refuses a repeat (the
   session is already committed), the media is found by its storage path instead
   (:func:`find_committed_media`), never uploaded again.
"""

from __future__ import annotations

import logging
import posixpath
import re
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Optional
from urllib.parse import urlsplit

from tencentcloud.vod.v20180717 import models as vod_models

from vodflow import flow
from vodflow.errors import VodClientException, VodServiceError
from vodflow.flow import CommitResult, PartResult, Session
from vodflow.pipeline import followups, records, webhook
from vodflow.pipeline.jobs import JobSpec, JobStore, Listing, derive_state
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.states import JobKind, JobState
from vodflow.retry import is_retryable
from vodflow.sources import MediaSource

SESSION_GONE_CODES = ("InvalidParameterValue.VodSessionKey", "ResourceNotFound", "FailedOperation.SessionCommitted")
_GEN_PREFIX = re.compile(r"^g(\d+)/")
ABORT_GIVE_UP_S = 86400  # a retryable abort error this long after the certificate expired: given up


class UploadGoneError(VodServiceError):
    """The generation's upload or one of its parts vanished from VOD's storage (aborted or expired from outside)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, service="cos")

    @classmethod
    def never_completed(cls, gen: Optional[int] = None) -> UploadGoneError:
        """No upload and no object: aborted or expired from outside before its Complete."""
        which = f"of generation {gen} " if gen else ""
        message = f"the multipart upload {which}is gone from VOD's storage and was never completed"
        return cls("FailedOperation.UploadGone", message)


@dataclass
class Job:
    """A loaded job: its spec, the facts it has, and the runtime to act with."""

    rt: Runtime
    store: JobStore
    spec: JobSpec
    listing: Listing
    # An ApplyUpload already under way for generation 1 (ingest asks for it beside the job's first records).
    applying: Optional[Future[Session]] = None
    # Writes running beside this invocation's steps, waited for before it replies (the index entry).
    background: list[Future[Any]] = field(default_factory=list)
    # Create-once records this invocation has read or written (never rewritten, so never stale): each read once.
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Multipart uploads this invocation completed: closed, so closing them needs no AbortMultipartUpload.
    completed_uploads: set[str] = field(default_factory=set)
    # What ListParts shows of each generation's upload (part number → part), as this invocation last read it or
    # has uploaded since; ``refresh`` forgets it (other invocations' parts land meanwhile).
    listed: dict[int, dict[int, PartResult]] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def state(self) -> JobState:
        return derive_state(self.listing)

    @property
    def generation(self) -> int:
        return self.listing.generation or 1

    def refresh(self) -> Job:
        self.listing = self.store.listing(self.job_id)
        self.listed.clear()
        return self.with_package()

    def with_package(self) -> Job:
        """For a package job, its file list from ``package.json`` (written once the package is complete)."""
        if self.spec.kind == JobKind.PACKAGE and not self.spec.files and self.listing.has(records.PACKAGE):
            doc = self.read(records.PACKAGE) or {}
            self.spec = replace(
                self.spec, files=tuple(doc.get("files") or ()), parts_per_batch=int(doc.get("files_per_batch") or 1)
            )
        return self

    def done(self, gen: int) -> set[int]:
        """Parts (multipart, 1-based) or files (inline, package, 0-based) of the generation already copied.

        A part is copied when VOD's storage lists it at its planned size (ListParts is the truth: no record is
        written per part) or, for a source without a CRC64, when its part fact exists (finalize combines the
        facts' CRC64s into the whole object's).
        """
        if self.spec.kind != JobKind.MULTIPART:
            return self.listing.files_done(gen)
        planned = {n: self.spec.part_range(n)[1] for n in range(1, self.spec.part_count + 1)}
        listed = {n for n, part in self.listed_parts(gen).items() if planned.get(n) == part.size}
        return listed | self.listing.parts_done(gen)

    def listed_parts(self, gen: int) -> dict[int, PartResult]:
        """The generation's parts in VOD's storage (one ListParts per 1000 parts, kept until ``refresh``).

        Nothing for a generation without a session or an upload, or whose certificate is about to expire (the
        sweeper starts a new generation for it: every part is copied again). An upload already completed lists
        no parts: its object, if whole (its size is the source's), holds every part; with no object either, the
        upload was aborted or expired from outside: :class:`UploadGoneError`, which no retry can mend.
        """
        if gen in self.listed:
            return self.listed[gen]
        found: dict[int, PartResult] = {}
        session = self.session(gen) if self.listing.has(records.session(gen)) else None
        upload_id = self.upload_id(gen) if self.listing.has(records.upload(gen)) else None
        cert = session.certificate if session is not None else None
        expires = float(cert.expired_time or 0) if cert is not None else 0.0
        expiring = bool(expires) and expires - self.rt.clock() < 60
        if session is not None and upload_id is not None and not expiring:
            cos = self.rt.cert_cos(session)
            try:
                parts = flow.list_parts(cos, session.storage_bucket, session.media_key, upload_id, self.rt.retry)
                found = {p.number: p for p in parts}
            except VodServiceError as exc:
                if exc.code != "NoSuchUpload":
                    raise
                size = flow.object_size(cos, session.storage_bucket, session.media_key, self.rt.retry)
                if size is None:
                    raise UploadGoneError.never_completed(gen) from None
                if size == self.spec.source.size:
                    found = {
                        n: PartResult(n, "", self.spec.part_range(n)[1]) for n in range(1, self.spec.part_count + 1)
                    }
        self.listed[gen] = found
        return found

    def note(self, rel: str) -> None:
        """Record in the local listing a fact this invocation just wrote (saves a LIST)."""
        self.listing = Listing(self.listing.keys | {rel})

    def read(self, rel: str) -> Optional[dict[str, Any]]:
        return self.store.read(self.job_id, rel)

    def read_once(self, rel: str) -> Optional[dict[str, Any]]:
        """A create-once record, read at most once per invocation (a missing one is asked again next time)."""
        doc = self.known.get(rel)
        if doc is None:
            doc = self.read(rel)
            if doc is not None:
                self.known[rel] = doc
        return doc

    def session(self, gen: Optional[int] = None) -> Optional[Session]:
        doc = self.read_once(records.session(gen or self.generation))
        return Session.from_dict(doc) if doc else None

    def upload_id(self, gen: Optional[int] = None) -> Optional[str]:
        doc = self.read_once(records.upload(gen or self.generation))
        return str(doc["upload_id"]) if doc else None


def load_job(rt: Runtime, job_id: str, store: Optional[JobStore] = None) -> Optional[Job]:
    rt.bind_job(job_id)  # the lines that follow (the flow's, the retry's) name this job
    store = store or rt.store()
    doc = store.read(job_id, records.JOB)
    if doc is None:
        return None
    return Job(rt, store, JobSpec.from_dict(doc), store.listing(job_id)).with_package()


def ensure_session(job: Job, gen: int) -> Session:
    """The generation's VOD session, applying for it if nobody has yet.

    Safe to repeat and to race: the first recorded session wins; a loser's session is dropped
    unused (never written to, never committed).
    """
    # The listing may be a moment old: a session recorded since makes create_once below refuse ours.
    existing = job.session(gen) if job.listing.has(records.session(gen)) else None
    if existing is not None:
        return existing
    if generation_records(job, gen):
        # The generation went on (an upload, parts, dispatches) under a session whose record is gone: a
        # new session would pair a new storage path with the old upload. The job ends here instead.
        raise VodServiceError(
            "FailedOperation.SessionLost",
            f"the VOD session record of generation {gen} is gone while its work exists",
            service="vodflow",
        )
    fields = dict(job.spec.options.get("apply_fields") or {})
    early, job.applying = job.applying, None
    if early is not None and gen == 1:
        session = early.result()  # asked with these same fields by this invocation's ingest
    else:
        session = flow.apply_upload(job.rt.vod(), fields, job.rt.retry)
    if job.store.create_once(job.job_id, records.session(gen), session.to_dict()):
        job.rt.log("session", job.job_id, generation=gen, storage_region=session.storage_region)
        job.note(records.session(gen))
        job.known[records.session(gen)] = session.to_dict()
        return session
    winner = job.session(gen)
    assert winner is not None  # it existed a moment ago
    return winner


def ensure_upload(job: Job, gen: int, session: Session) -> str:
    """The generation's multipart UploadId, initiating it if nobody has yet.

    Initiate is not idempotent, so the loser of a race aborts its own upload, and the winner
    aborts any stray left by an earlier attempt whose reply was lost: nothing stays billed.
    """
    # The listing may be a moment old: an upload recorded since makes create_once below refuse ours (then
    # ours is aborted and the recorded one used), so trusting it only saves a GET on the common path.
    existing = job.upload_id(gen) if job.listing.has(records.upload(gen)) else None
    if existing:
        return existing
    # In the aborts set before the upload exists: whatever happens next (a lost reply, a kill), the
    # sweeper will visit the job until every upload of it is confirmed closed.
    followups.mark(job.store, records.ABORTS_DIR, job.job_id)
    cos = job.rt.cert_cos(session)
    upload_id = flow.initiate_multipart(cos, session.storage_bucket, session.media_key, job.rt.retry)
    if job.store.create_once(job.job_id, records.upload(gen), {"upload_id": upload_id}):
        job.note(records.upload(gen))
        job.known[records.upload(gen)] = {"upload_id": upload_id}
        job.listed[gen] = {}  # just initiated: no part yet (saves a ListParts)
        flow.abort_others(cos, session.storage_bucket, session.media_key, upload_id, job.rt.retry)
        return upload_id
    flow.abort(cos, session.storage_bucket, session.media_key, upload_id, job.rt.retry)
    winner = job.upload_id(gen)
    assert winner
    return winner


def put_into_session(job: Job, session: Session, source: MediaSource, key: str, fact: str) -> None:
    """One streaming PUT of ``source`` into the session's storage (VOD's certificate), then its fact.

    The source is read by ranged GET pinned to its ETag; COS's CRC64 of what it stored must equal
    the CRC64 of the bytes streamed. Safe to repeat: the PUT replaces the same key with the same
    bytes, and the fact is create-once.
    """
    result = flow.put_small(
        source,
        job.rt.cert_cos(session),
        session.storage_bucket,
        key,
        retry=job.rt.retry,
        certificate=session.certificate,
        clock=job.rt.clock,
        require_crc=True,
    )
    job.store.create_once(
        job.job_id, fact, {"key": result.key, "etag": result.etag, "size": result.size, "crc64": result.crc64}
    )
    job.note(fact)


def take_commit_lock(job: Job, holder: str, *, takeover_from: Optional[str] = None) -> bool:
    """Take ``commit.lock``; True if ``holder`` may go on committing (or failing) the job.

    The same holder (a retried invocation keeps its request id) may always go on. The sweeper,
    having seen a lock older than the lease, names its holder in ``takeover_from``: then another
    may go on, but only if that same stale holder still has it. That is safe because a commit is
    only ever re-sent with the job's one session key (see the module docstring).
    """
    if job.store.create_once(job.job_id, records.COMMIT_LOCK, {"holder": holder, "at": job.rt.clock()}):
        return True
    lock = job.read(records.COMMIT_LOCK) or {}
    return lock.get("holder") in (holder, takeover_from) and lock.get("holder") is not None


def fail_job(
    job: Job, code: str, message: str, *, holding_lock: bool = False, takeover_from: Optional[str] = None
) -> bool:
    """Record the failure, close the job's multipart uploads, send the webhook. False if the job is committing.

    Failing takes the commit lock first (unless the caller holds it, or ``takeover_from`` names the
    stale holder the sweeper saw), so a job that is being committed is never marked failed, and a
    failed job is never committed. Safe to repeat: ``failed.json`` is create-once (the first reason
    stays), closing uploads and delivering the webhook are themselves repeatable, and what does not go
    through now is finished by the sweeper (the job is in the aborts and webhooks sets before
    ``failed.json`` exists, so a kill right after it loses nothing).
    """
    if not holding_lock and not take_commit_lock(job, f"fail:{job.rt.request_id}", takeover_from=takeover_from):
        job.rt.log("not failing: a finalize holds the commit lock", job.job_id, code=code)
        return False
    webhook.expect(job)
    if job.spec.kind == JobKind.MULTIPART and job.listing.generation:
        followups.mark(job.store, records.ABORTS_DIR, job.job_id)  # a job failed before its upload is marked too
    job.store.create_once(job.job_id, records.FAILED, {"code": code, "message": message, "at": job.rt.clock()})
    job.note(records.FAILED)
    job.rt.log("failed", job.job_id, level=logging.ERROR, code=code, error_message=message)
    finish_uploads(job)
    job.store.clear_active(job.job_id)
    job.refresh()
    webhook.deliver(job)
    return True


def generations(job: Job) -> list[int]:
    """Every generation that has any record (a session, an upload, parts...), in order."""
    return sorted({int(m.group(1)) for k in job.listing.keys if (m := _GEN_PREFIX.match(k))})


def generation_records(job: Job, gen: int) -> list[str]:
    """The generation's work records (upload, parts, files, dispatches): what a session was used for."""
    prefix = f"g{gen}/"
    kept = (records.session(gen), records.restart(gen))
    return [k for k in job.listing.keys if k.startswith(prefix) and k not in kept]


def uploads_closed(job: Job, gen: int) -> bool:
    return job.listing.has(records.aborted(gen)) or job.listing.has(records.abort_impossible(gen))


def close_generation(job: Job, gen: int, now: Optional[float] = None) -> str:
    """Abort every open multipart upload of generation ``gen`` and record it once confirmed.

    Returns ``closed`` (``g<N>/aborted.json`` written: the recorded upload aborted or already gone,
    and ListMultipartUploads shows none left on the media key, so strays of an Initiate whose reply
    was lost are closed too), ``impossible`` (``g<N>/abort-impossible.json``: the certificate expired,
    or the session record is gone, so nothing can reach VOD's storage any more) or ``open`` (a
    transient error: the sweeper tries again on its next pass).

    Only VOD's temporary certificate of the session can write (and abort) under the session's path;
    a fresh ApplyUpload gives rights on a new path only. So an abort is retried while the certificate
    lives; after that what is left is VOD's, and is recorded as impossible with the reason.

    Safe to repeat: an abort of a gone upload is NoSuchUpload (not an error) and the records are
    create-once. Never call it for the current generation of a job that is still copying.
    """
    now = job.rt.clock() if now is None else now
    if uploads_closed(job, gen) or job.spec.kind != JobKind.MULTIPART:
        return "closed"
    session = job.session(gen) if job.listing.has(records.session(gen)) else None
    if session is None:
        if not generation_records(job, gen):
            return "closed"  # no session, no upload: nothing was opened (Initiate needs the session)
        return _impossible(job, gen, "the session record is gone: no certificate to abort with", None, now)
    upload_id = job.upload_id(gen) if job.listing.has(records.upload(gen)) else None
    try:
        cos = job.rt.cert_cos(session)
        if upload_id is not None and upload_id not in job.completed_uploads:  # a completed one is closed already
            flow.abort(cos, session.storage_bucket, session.media_key, upload_id, job.rt.retry)
        strays = flow.abort_others(cos, session.storage_bucket, session.media_key, None, job.rt.retry)
    except VodClientException as exc:
        cert = session.certificate
        expires = float(cert.expired_time or 0) if cert is not None else 0.0
        if expires and now >= expires and (not is_retryable(exc) or now - expires > ABORT_GIVE_UP_S):
            return _impossible(job, gen, "the VOD certificate expired before the abort was confirmed", exc.code, now)
        job.rt.log("abort failed; the sweeper retries it", job.job_id, generation=gen, code=exc.code)
        return "open"
    job.store.create_once(job.job_id, records.aborted(gen), {"at": now, "upload_id": upload_id, "strays": strays})
    job.note(records.aborted(gen))
    if upload_id is not None or strays:
        job.rt.log("uploads closed", job.job_id, generation=gen, strays=len(strays))
    return "closed"


def _impossible(job: Job, gen: int, reason: str, code: Optional[str], now: float) -> str:
    job.store.create_once(job.job_id, records.abort_impossible(gen), {"reason": reason, "code": code, "at": now})
    job.note(records.abort_impossible(gen))
    job.rt.log("abort impossible", job.job_id, level=logging.WARNING, generation=gen, reason=reason, code=code)
    return "impossible"


def finish_uploads(job: Job, now: Optional[float] = None) -> dict[str, int]:
    """Close what must be closed: every generation of a finished job, the superseded ones of a live job.

    Clears the job from the aborts set once nothing is left open; returns the outcomes by kind.
    """
    counts: dict[str, int] = {}
    if job.spec.kind == JobKind.INLINE and not job.spec.damaged:
        return counts  # an inline job opens no multipart upload: never in the aborts set (no DELETE to send)
    if job.spec.kind != JobKind.MULTIPART:
        followups.clear(job.store, records.ABORTS_DIR, job.job_id)
        return counts
    final = job.state.final
    current = job.listing.generation
    todo = [g for g in generations(job) if (final or g < current) and not uploads_closed(job, g)]
    for gen in todo:
        outcome = close_generation(job, gen, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    if final and not any(close_generation_needed(job, g) for g in generations(job)):
        followups.clear(job.store, records.ABORTS_DIR, job.job_id)
    return counts


def close_generation_needed(job: Job, gen: int) -> bool:
    """Whether generation ``gen`` may still hold an open upload (it has a session or work records)."""
    return not uploads_closed(job, gen) and bool(job.listing.has(records.session(gen)) or generation_records(job, gen))


def commit_session(job: Job, session: Session) -> CommitResult:
    """CommitUpload, or, when VOD refuses a repeat of an already committed session, find its media."""
    try:
        return flow.commit(job.rt.vod(), session, job.rt.retry)
    except VodServiceError as exc:
        if exc.code not in SESSION_GONE_CODES:
            raise
        found = find_committed_media(job, session)
        if found is None:
            raise
        job.rt.log("commit was already done; media found by storage path", job.job_id, file_id=found.file_id)
        return found


def find_committed_media(job: Job, session: Session) -> Optional[CommitResult]:
    """The media whose MediaUrl ends with the session's storage path, searched by name and region."""
    if not session.media_storage_path:
        return None
    vod = job.rt.vod()
    fields = job.spec.options.get("apply_fields") or {}
    offset = 0
    while True:
        req = vod_models.SearchMediaRequest()
        name = fields.get("MediaName") or posixpath.splitext(posixpath.basename(job.spec.source.key))[0]
        req.Names = [name]
        req.StorageRegions = [session.storage_region]
        req.Offset = offset
        req.Limit = 50
        if session.sub_app_id:
            req.SubAppId = session.sub_app_id

        def search(r: vod_models.SearchMediaRequest = req) -> Any:
            return vod.SearchMedia(r)

        resp = job.rt.retry.call(search, service="vod", action="SearchMedia")
        items = resp.MediaInfoSet or []
        for info in items:
            basic = info.BasicInfo
            url = getattr(basic, "MediaUrl", None) or ""
            if urlsplit(url).path.endswith(session.media_storage_path):
                return CommitResult(info.FileId, url, getattr(basic, "CoverUrl", None) or None, resp.RequestId)
        offset += len(items)
        if not items or offset >= int(resp.TotalCount or 0):
            return None


def record_result(job: Job, result: CommitResult, session: Session) -> dict[str, Any]:
    """``result.json`` (create-once): the first recorded result is the job's result."""
    doc = {
        "file_id": result.file_id,
        "media_url": result.media_url,
        "cover_url": result.cover_url,
        "storage_path": session.media_storage_path,
        "committed_at": job.rt.clock(),
    }
    webhook.expect(job)  # before result.json: a kill right after it still leaves the webhook to the sweeper
    written = job.store.create_once(job.job_id, records.RESULT, doc)
    job.store.clear_active(job.job_id)
    job.note(records.RESULT)
    return doc if written else (job.read(records.RESULT) or doc)
