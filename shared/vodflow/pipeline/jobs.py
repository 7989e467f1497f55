"""Job records in COS: create-once facts, never a shared document rewritten by many workers.

Layout under ``<state prefix>jobs/<job id>/`` (the trigger's prefix filter never sees it; every name is
made by :mod:`vodflow.pipeline.records`):

    job.json                 what to ingest: source object (bucket, key, ETag, size, CRC64), options, plan
    g<N>/session.json        the VOD session of generation N (ApplyUpload reply, certificate included)
    g<N>/upload.json         the multipart UploadId of generation N
    g<N>/parts/<n>.json      one per copied part, only for a source without CRC64 (else ListParts is the truth)
    g<N>/files/<i>.json      one per copied package file (HLS/DASH) or the inline object
    g<N>/dispatch/<b>-<a>.json   batch b dispatched for the a-th time (for the sweeper's lease)
    g<N>/restart.json        why generation N replaced N-1 (certificate expired)
    commit.lock              the one finalize allowed to commit
    result.json              FileId, MediaUrl, CoverUrl once committed
    failed.json              code and message once failed
    staging.json             the staging policy applied after commit
    webhook/<state>.json     the webhook of that state acknowledged (attempts and undeliverable beside it)

Every write is a create-once PUT (``x-cos-forbid-overwrite: true``): two workers racing to write
the same fact both succeed in effect (one writes, the other gets 409 and reads the winner's), so
no update is ever lost and a retried step finds what its earlier attempt did. The job's state is
derived from which facts exist (:func:`derive_state`), never stored.

An index ``<state prefix>index/<inverted microseconds>-<job id>`` lists jobs newest first for ``GET /jobs``
(and tells the sweeper each job's age without reading it); ``<state prefix>active/<job id>`` marks
the jobs not yet committed or failed, so the sweeper's regular pass reads only those.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional

from qcloud_cos import CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from vodflow import flow
from vodflow.errors import VodClientException
from vodflow.pipeline import records
from vodflow.pipeline.states import JobKind, JobState
from vodflow.retry import RetryPolicy, cos_error_fields

_GEN_RE = re.compile(r"^g(\d+)/")
INDEX_BASE = 10**17  # microseconds: newest first, even for jobs created in the same second
OPTIONS_META_PREFIX = "x-cos-meta-vod-"  # the metadata a user sets to choose a job's options
RECORD_DAMAGED = "FailedOperation.RecordDamaged"
MAX_ATTEMPTS = 20  # fresh attempts of one object version (corrected options, POST /jobs restarts)


class RecordDamaged(VodClientException):
    """A job record that does not parse (or does not hold what its name promises): never retried."""

    default_code = RECORD_DAMAGED

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"the job record is damaged ({reason}): {key}", RECORD_DAMAGED, field=key, value=None)


def job_id_for(bucket: str, key: str, etag: str, attempt: int = 0) -> str:
    """Same object version → same job, whatever event or retry brings it; a new version → a new job.

    ``attempt`` > 0 names a fresh attempt of the same version (``<id>-r<N>``): started by ``POST /jobs``
    after a failure, or by re-staging the same bytes with other options (see :func:`options_digest`).
    """
    digest = hashlib.sha256(f"{bucket}\n{key}\n{etag.strip(chr(34))}".encode()).hexdigest()
    return digest[:32] + (f"-r{attempt}" if attempt else "")


def options_digest(metadata: Mapping[str, Any]) -> str:
    """What the user chose for a job: a digest of every ``x-cos-meta-vod-*`` entry (names lower-cased).

    Part of a job's identity with the object version: the same bytes staged again with corrected
    options are a new request (a fresh attempt), the same bytes with the same options are the same job.
    Empty when the object has no options (the identity is the object version alone).
    """
    chosen = sorted(
        (str(k).lower(), str(v)) for k, v in metadata.items() if str(k).lower().startswith(OPTIONS_META_PREFIX)
    )
    if not chosen:
        return ""
    return hashlib.sha256(json.dumps(chosen, ensure_ascii=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Listing:
    """The keys of one job's records, relative to its folder."""

    keys: frozenset[str]

    def has(self, rel: str) -> bool:
        return rel in self.keys

    @property
    def generation(self) -> int:
        """The newest generation with a VOD session (0: none yet)."""
        gens = [int(g) for k in self.keys if (m := _GEN_RE.match(k)) and k == records.session(int(g := m.group(1)))]
        return max(gens, default=0)

    def under(self, rel_prefix: str) -> list[str]:
        return sorted(k[len(rel_prefix) :] for k in self.keys if k.startswith(rel_prefix))

    def parts_done(self, gen: int) -> set[int]:
        return {int(name.split(".")[0]) for name in self.under(records.parts_prefix(gen)) if name.endswith(".json")}

    def files_done(self, gen: int) -> set[int]:
        return {int(name.split(".")[0]) for name in self.under(records.files_prefix(gen)) if name.endswith(".json")}

    def dispatches(self, gen: int) -> dict[int, int]:
        """batch → highest dispatch attempt recorded."""
        out: dict[int, int] = {}
        for name in self.under(records.dispatch_prefix(gen)):
            parsed = records.parse_dispatch(name)
            if parsed is not None:
                out[parsed[0]] = max(out.get(parsed[0], 0), parsed[1])
        return out


def derive_state(listing: Listing) -> JobState:
    """planned → (waiting) → copying → completing → committed | failed, from which facts exist; then
    processing → processed | processing_failed (VOD's task flow, see :mod:`vodflow.pipeline.processing`)."""
    if listing.has(records.RESULT):
        if listing.has(records.PROCESSING_FAILED):
            return JobState.PROCESSING_FAILED
        if listing.has(records.PROCESSED):
            return JobState.PROCESSED
        if listing.has(records.PROCESSING):
            return JobState.PROCESSING
        return JobState.COMMITTED
    if listing.has(records.FAILED):
        return JobState.FAILED
    if listing.has(records.PULL):
        return JobState.IMPORTING
    if listing.has(records.COMMIT_LOCK):
        return JobState.COMPLETING
    gen = listing.generation
    if gen and (
        listing.under(records.parts_prefix(gen))
        or listing.under(records.files_prefix(gen))
        or listing.has(records.upload(gen))
    ):
        return JobState.COPYING
    if listing.has(records.WAITING):
        return JobState.WAITING
    return JobState.PLANNED


class JobStore:
    """Create-once JSON facts in a COS bucket, through the role's credentials."""

    def __init__(
        self,
        cos: CosS3Client,
        bucket: str,
        prefix: str,
        retry: Optional[RetryPolicy] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cos = cos
        self.bucket = bucket
        self.prefix = prefix
        self.retry = retry or RetryPolicy()
        self.clock = clock

    # -- paths ------------------------------------------------------------------------------
    def job_prefix(self, job_id: str) -> str:
        return f"{self.prefix}{records.JOBS_DIR}{job_id}/"

    def key(self, job_id: str, rel: str) -> str:
        return self.job_prefix(job_id) + rel

    # -- primitives -------------------------------------------------------------------------
    def create_once(self, job_id: str, rel: str, doc: Mapping[str, Any]) -> bool:
        """Write the fact unless it exists. True if this call wrote it.

        Safe to repeat: a retry after a lost reply sees 409 and reads the same fact back.
        """
        return self.create_key_once(self.key(job_id, rel), doc)

    def create_key_once(self, key: str, doc: Mapping[str, Any]) -> bool:
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
        # COS checks the body against Content-MD5 and refuses (400 BadDigest) a record damaged in transit.
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324  (an integrity check)

        def put() -> bool:
            try:
                self.cos.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/json",
                    ContentMD5=md5,
                    # The SDK has no parameter for it; Metadata entries go out as headers verbatim.
                    Metadata={"x-cos-forbid-overwrite": "true"},
                )
            except CosServiceError as exc:
                if exc.get_status_code() == 409 or cos_error_fields(exc)[0] == "FileAlreadyExists":
                    return False
                raise
            return True

        return self.retry.call(put, service="cos", action="PutObject")

    def read(self, job_id: str, rel: str) -> Optional[dict[str, Any]]:
        """One record of a job, or None. A damaged ``job.json`` or ``failed.json`` is repaired (see
        :meth:`repair_damaged`); any other damaged record raises :class:`RecordDamaged`, which fails the job."""
        try:
            doc = self.read_key(self.key(job_id, rel))
            if doc is not None and rel == records.JOB:
                JobSpec.from_dict(doc, job_id)  # parses, names this job: or it is damaged
        except RecordDamaged as exc:
            if rel == records.JOB:
                return self.repair_damaged(job_id, exc)
            if rel == records.FAILED:
                return {"code": RECORD_DAMAGED, "message": exc.message}
            raise
        return doc

    def repair_damaged(self, job_id: str, damage: RecordDamaged) -> dict[str, Any]:
        """A ``job.json`` that cannot be read: fail the job (unless a finalize holds the commit lock) and
        stand in for the spec, so ``GET /jobs`` shows a failed job and the sweeper can end it.

        Safe to repeat and to race: the lock and ``failed.json`` are create-once; every reader writes the
        same failure. What the job was cannot be recovered from its id (a hash), so the stand-in names no
        source; the staged object is untouched and ``POST /jobs`` starts a fresh attempt of it.
        """
        if self.create_once(job_id, records.COMMIT_LOCK, {"holder": "record-damaged", "at": self.clock()}):
            self.create_once(job_id, records.FAILED, {"code": RECORD_DAMAGED, "message": damage.message})
            self.clear_active(job_id)
        return {
            "job_id": job_id,
            "source": {"bucket": "", "key": "", "etag": "", "size": 0, "crc64": None, "region": ""},
            "kind": JobKind.INLINE.value,
            "options": {},
            "created": 0.0,
            "deadline": 0.0,
            "damaged": damage.message,
        }

    def read_key(self, key: str) -> Optional[dict[str, Any]]:
        def get() -> Optional[bytes]:
            try:
                resp = self.cos.get_object(Bucket=self.bucket, Key=key)
            except CosServiceError as exc:
                if exc.get_status_code() == 404:
                    return None
                raise
            return bytes(resp["Body"].get_raw_stream().read())

        raw = self.retry.call(get, service="cos", action="GetObject")
        if raw is None:
            return None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise RecordDamaged(key, "not JSON") from None
        if not isinstance(doc, dict):
            raise RecordDamaged(key, "not a JSON object")
        return doc

    def list_keys(self, prefix: str, marker: str = "", limit: Optional[int] = None) -> Iterator[str]:
        """Every key under ``prefix`` (paged by COS, 1000 a page), in key order."""
        seen = 0
        while True:
            page_marker = marker

            def page(m: str = page_marker) -> dict[str, Any]:
                return dict(
                    self.cos.list_objects(Bucket=self.bucket, Prefix=prefix, Marker=m, MaxKeys=min(1000, limit or 1000))
                )

            resp = self.retry.call(page, service="cos", action="GetBucket")
            for item in resp.get("Contents") or []:
                yield str(item["Key"])
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if str(resp.get("IsTruncated")).lower() != "true":
                return
            marker = str(resp.get("NextMarker") or "")
            if not marker:
                return

    def exists(self, job_id: str) -> bool:
        """Whether ``job.json`` exists (one HEAD)."""
        return flow.object_head(self.cos, self.bucket, self.key(job_id, records.JOB), self.retry) is not None

    def delete(self, job_id: str, rel: str) -> None:
        """Remove one record (a claim given back). Safe to repeat."""
        key = self.key(job_id, rel)
        self.retry.call(
            lambda: self.cos.delete_object(Bucket=self.bucket, Key=key), service="cos", action="DeleteObject"
        )

    def listing(self, job_id: str) -> Listing:
        base = self.job_prefix(job_id)
        return Listing(frozenset(k[len(base) :] for k in self.list_keys(base)))

    def delete_job(self, job_id: str) -> int:
        """Remove every record of a finished job (the sweeper's retention). Safe to repeat."""
        count = 0
        for key in list(self.list_keys(self.job_prefix(job_id))):

            def delete(k: str = key) -> None:
                self.cos.delete_object(Bucket=self.bucket, Key=k)

            self.retry.call(delete, service="cos", action="DeleteObject")
            count += 1
        return count

    # -- the index ---------------------------------------------------------------------------
    @property
    def index_prefix(self) -> str:
        return f"{self.prefix}{records.INDEX_DIR}"

    def index_key(self, job_id: str, created: float) -> str:
        return f"{self.index_prefix}{INDEX_BASE - int(created * 1_000_000):017d}-{job_id}"

    def add_to_index(self, job_id: str, created: float) -> None:
        self.create_key_once(self.index_key(job_id, created), {"job_id": job_id, "created": created})

    def recent(self, limit: int, marker: str = "") -> tuple[list[str], Optional[str]]:
        """Job ids newest first, and the marker of the next page (None at the end)."""
        base = self.index_prefix
        keys = list(self.list_keys(base, marker=marker, limit=limit + 1))
        ids = [k[len(base) :].partition("-")[2] for k in keys[:limit]]
        next_marker = keys[limit - 1] if len(keys) > limit else None
        return ids, next_marker

    def index_entries(self) -> Iterator[tuple[str, float]]:
        """(job id, creation time) of every job, newest first (one LIST page per 1000 jobs)."""
        base = self.index_prefix
        for key in self.list_keys(base):
            inverted, _, job_id = key[len(base) :].partition("-")
            if inverted.isdigit():
                yield job_id, (INDEX_BASE - int(inverted)) / 1_000_000

    def remove_from_index(self, job_id: str, created: float) -> None:
        key = self.index_key(job_id, created)
        self.retry.call(
            lambda: self.cos.delete_object(Bucket=self.bucket, Key=key), service="cos", action="DeleteObject"
        )

    # -- the active set ----------------------------------------------------------------------
    def active_key(self, job_id: str) -> str:
        return f"{self.prefix}{records.ACTIVE_DIR}{job_id}"

    def mark_active(self, job_id: str) -> None:
        """Create-once: repeating it costs one refused PUT."""
        self.create_key_once(self.active_key(job_id), {"job_id": job_id, "at": self.clock()})

    def clear_active(self, job_id: str) -> None:
        """Once the job is committed or failed. Safe to repeat: deleting a deleted key is a no-op."""
        key = self.active_key(job_id)
        self.retry.call(
            lambda: self.cos.delete_object(Bucket=self.bucket, Key=key), service="cos", action="DeleteObject"
        )

    def active_job_ids(self) -> Iterator[str]:
        """Jobs not yet committed or failed (what the sweeper reads on every pass)."""
        base = f"{self.prefix}{records.ACTIVE_DIR}"
        for key in self.list_keys(base):
            yield key[len(base) :]


@dataclass(frozen=True)
class SourceObject:
    """The staging object version a job ingests: pinned by its ETag for the job's whole life."""

    bucket: str
    key: str
    etag: str
    size: int
    crc64: Optional[int]
    region: str
    # The COS version (``x-cos-version-id`` of the HEAD) on a versioned staging bucket: the staging
    # policy acts on this version only, never on a newer one staged under the same key. None: unversioned.
    version_id: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "size": self.size,
            "crc64": self.crc64,
            "region": self.region,
        }
        if self.version_id is not None:
            out["version_id"] = self.version_id
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceObject:
        crc = d.get("crc64")
        version = d.get("version_id")
        return cls(
            str(d["bucket"]),
            str(d["key"]),
            str(d["etag"]),
            int(d["size"]),
            int(crc) if crc is not None else None,
            str(d["region"]),
            str(version) if version is not None else None,
        )


@dataclass(frozen=True)
class JobSpec:
    """``job.json``: written once by the first ingest of an object version, read by every later step."""

    job_id: str
    source: SourceObject
    kind: JobKind
    options: Mapping[str, Any]
    created: float
    deadline: float
    attempt: int = 0
    part_size: int = 0
    part_count: int = 0
    parts_per_batch: int = 0
    files: tuple[Mapping[str, Any], ...] = ()
    # What the user chose (see :func:`options_digest`), part of the job's identity; None: a job written
    # before identities had options (it matches any options, so a duplicate event never doubles it).
    options_digest: Optional[str] = None
    # A multipart job whose parts ingest copies itself, side by side, and commits in the same invocation
    # (a mid-size object: see ``ingest.copy_local``); its one batch goes to part_copy only if ingest dies.
    local: bool = False
    damaged: Optional[str] = None  # a stand-in for an unreadable job.json (see JobStore.repair_damaged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "source": self.source.to_dict(),
            "kind": self.kind.value,
            "options": dict(self.options),
            "created": self.created,
            "deadline": self.deadline,
            "attempt": self.attempt,
            "part_size": self.part_size,
            "part_count": self.part_count,
            "parts_per_batch": self.parts_per_batch,
            "files": [dict(f) for f in self.files],
            **({} if self.options_digest is None else {"options_digest": self.options_digest}),
            **({"local": True} if self.local else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], job_id: Optional[str] = None) -> JobSpec:
        """Parse ``job.json``; anything missing or of the wrong type (or another job's id) → RecordDamaged."""
        try:
            spec = cls._parse(d)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecordDamaged(f"{job_id or d.get('job_id', '?')}/{records.JOB}", f"bad field {exc}") from None
        if job_id is not None and spec.job_id != job_id and not spec.damaged:
            raise RecordDamaged(f"{job_id}/{records.JOB}", f"names another job {spec.job_id!r}")
        return spec

    @classmethod
    def _parse(cls, d: Mapping[str, Any]) -> JobSpec:
        return cls(
            job_id=str(d["job_id"]),
            source=SourceObject.from_dict(d["source"]),
            kind=JobKind(str(d["kind"])),
            options=dict(d.get("options") or {}),
            created=float(d["created"]),
            deadline=float(d["deadline"]),
            attempt=int(d.get("attempt", 0)),
            part_size=int(d.get("part_size", 0)),
            part_count=int(d.get("part_count", 0)),
            parts_per_batch=int(d.get("parts_per_batch", 0)),
            files=tuple(dict(f) for f in d.get("files") or ()),
            options_digest=None if d.get("options_digest") is None else str(d["options_digest"]),
            local=d.get("local") is True,
            damaged=str(d["damaged"]) if d.get("damaged") else None,
        )

    @property
    def batch_count(self) -> int:
        if self.kind == JobKind.MULTIPART:
            return -(-self.part_count // max(1, self.parts_per_batch))
        if self.kind == JobKind.PACKAGE:
            return -(-len(self.files) // max(1, self.parts_per_batch))
        return 1

    def batch_members(self, batch: int) -> range:
        """Part numbers (multipart, 1-based) or file indices (package, 0-based) of one batch."""
        per = max(1, self.parts_per_batch)
        if self.kind == JobKind.MULTIPART:
            first = batch * per + 1
            return range(first, min(first + per, self.part_count + 1))
        first = batch * per
        return range(first, min(first + per, len(self.files)))

    def part_range(self, number: int) -> tuple[int, int]:
        """(offset, length) of part ``number``."""
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.source.size - offset)
