"""The upload flow as steps on plain data: apply, plan, initiate, copy part, complete, commit, abort.

Each step takes dataclasses and clients and returns dataclasses, so the library's ``upload()`` runs
them in threads and the SCF functions run the same steps across invocations (the Session is stored
in the job store; a worker rebuilds its COS client from it). Each step says whether it is safe to
repeat, because every SCF invocation may be retried and any request may fail half-way.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from qcloud_cos.cos_exception import CosClientError, CosServiceError
from tencentcloud.vod.v20180717 import models

from .clients import cos_client
from .crc64 import Crc64, crc64_combine_all, parse_cos_crc
from .credentials import Credentials
from .endpoints import Endpoints
from .errors import CertificateExpiringError, IntegrityError, VodClientException, VodServiceError
from .planner import Limits, Part, Plan, PlanConfig, plan_upload
from .retry import RetryPolicy, cos_error_fields
from .sources import MediaSource

__all__ = [
    "CommitResult",
    "ObjectResult",
    "PartResult",
    "Progress",
    "Session",
    "TempCertificate",
    "abort",
    "abort_others",
    "apply_upload",
    "check_certificate",
    "commit",
    "complete",
    "copy_part",
    "initiate_multipart",
    "list_parts",
    "plan",
    "put_small",
    "storage_client",
]

logger = logging.getLogger("vodflow.flow")

DEFAULT_CERT_MARGIN_S = 120.0
Clock = Callable[[], float]


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class TempCertificate:
    """VOD's temporary COS credentials from ApplyUpload; valid for writes into the session's paths only."""

    secret_id: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: Optional[str] = field(repr=False)
    expired_time: Optional[int]

    def credentials(self) -> Credentials:
        return Credentials(self.secret_id, self.secret_key, self.token)


@dataclass(frozen=True)
class Session:
    """What ApplyUpload returned: where to put the bytes and how to commit them."""

    storage_bucket: str
    storage_region: str
    media_storage_path: Optional[str]
    cover_storage_path: Optional[str]
    vod_session_key: str = field(repr=False)
    certificate: Optional[TempCertificate]
    request_id: Optional[str] = None
    sub_app_id: Optional[int] = None

    @property
    def media_key(self) -> str:
        return (self.media_storage_path or "").lstrip("/")

    @property
    def cover_key(self) -> str:
        return (self.cover_storage_path or "").lstrip("/")

    def segment_key(self, relative: str) -> str:
        """Segments keep their path relative to the top manifest, under MediaStoragePath's directory."""
        directory = posixpath.dirname(self.media_storage_path or "/")
        return posixpath.join(directory, relative).lstrip("/")

    def to_dict(self) -> dict[str, Any]:
        """For the job store (which is private): includes the certificate. Never serve or log it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        cert = data.get("certificate")
        values = dict(data)
        values["certificate"] = TempCertificate(**cert) if cert else None
        return cls(**values)


@dataclass(frozen=True)
class PartResult:
    number: int
    etag: str
    size: int
    crc64: Optional[int] = None


@dataclass(frozen=True)
class ObjectResult:
    key: str
    etag: Optional[str]
    size: int
    crc64: Optional[int]
    request_id: Optional[str] = None


@dataclass(frozen=True)
class CommitResult:
    file_id: str
    media_url: Optional[str]
    cover_url: Optional[str]
    request_id: Optional[str]


class Progress:
    """Bytes done over the whole upload (media + cover + segments), reported to one callback.

    Thread-safe. A retried part takes back what its failed attempt reported, so ``done`` may go
    down; it never exceeds ``total``.
    """

    def __init__(self, total: int, callback: Optional[Callable[[int, int], Any]] = None) -> None:
        self.total = total
        self.done = 0
        self._callback = callback
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        if n == 0:
            return
        with self._lock:
            self.done = max(0, min(self.total, self.done + n))
            if self._callback is not None:
                self._callback(self.done, self.total)


# ------------------------------------------------------------------------------------ VOD steps


def apply_upload(vod: Any, fields: Mapping[str, Any], retry: RetryPolicy) -> Session:
    """ApplyUpload with the given request fields (None values are not sent).

    Safe to repeat: ApplyUpload only hands out a new session and storage path; an unused session
    is never committed and costs nothing.
    """
    request = models.ApplyUploadRequest()
    for name, value in fields.items():
        if value is not None:
            setattr(request, name, value)
    response = retry.call(lambda: vod.ApplyUpload(request), service="vod", action="ApplyUpload")
    cert = response.TempCertificate
    certificate = (
        TempCertificate(cert.SecretId, cert.SecretKey, cert.Token, cert.ExpiredTime) if cert is not None else None
    )
    session = Session(
        storage_bucket=response.StorageBucket,
        storage_region=response.StorageRegion,
        media_storage_path=response.MediaStoragePath,
        cover_storage_path=response.CoverStoragePath,
        vod_session_key=response.VodSessionKey,
        certificate=certificate,
        request_id=response.RequestId,
        sub_app_id=fields.get("SubAppId"),
    )
    if not session.storage_bucket or not session.storage_region or not session.vod_session_key:
        raise VodServiceError(
            "InternalError",
            "ApplyUpload reply lacks StorageBucket, StorageRegion or VodSessionKey",
            response.RequestId,
            action="ApplyUpload",
        )
    logger.info(
        "applied",
        extra={
            "cloud_request_id": session.request_id,
            "bucket": session.storage_bucket,
            "storage_region": session.storage_region,
            "media_path": session.media_storage_path,
            "cert_expires": certificate.expired_time if certificate else None,
        },
    )
    return session


def commit(vod: Any, session: Session, retry: RetryPolicy) -> CommitResult:
    """CommitUpload with the session key (and SubAppId if one was applied with).

    Repeating it confirms the same uploaded bytes again, never new ones: a commit whose reply was
    lost is re-sent with the same VodSessionKey, which VOD resolves to the same media or rejects.
    """
    request = models.CommitUploadRequest()
    request.VodSessionKey = session.vod_session_key
    request.SubAppId = session.sub_app_id
    response = retry.call(lambda: vod.CommitUpload(request), service="vod", action="CommitUpload")
    logger.info("committed", extra={"cloud_request_id": response.RequestId, "file_id": response.FileId})
    return CommitResult(response.FileId, response.MediaUrl, response.CoverUrl, response.RequestId)


# ------------------------------------------------------------------------------------ COS steps


def plan(size: int, config: Optional[PlanConfig] = None, limits: Optional[Limits] = None) -> Plan:
    """Inline or multipart, part size and batches (pure; see ``planner.plan_upload``). Safe to repeat."""
    return plan_upload(size, config, limits)


def storage_client(
    session: Session,
    fallback: Optional[Credentials] = None,
    endpoints: Optional[Endpoints] = None,
    pool_size: int = 10,
) -> Any:
    """A COS client for the session's bucket: VOD's temporary certificate, or ``fallback`` (token included)
    when ApplyUpload returned none. Workers rebuild it per invocation from the stored Session."""
    creds = session.certificate.credentials() if session.certificate is not None else fallback
    if creds is None:
        raise VodClientException("ApplyUpload returned no TempCertificate and no fallback credentials", "ClientError")
    return cos_client(creds, session.storage_region, endpoints, pool_size=pool_size)


def check_certificate(
    certificate: Optional[TempCertificate], margin_s: float = DEFAULT_CERT_MARGIN_S, clock: Clock = time.time
) -> None:
    """Refuse to start a request on a certificate that expires within ``margin_s`` seconds."""
    if certificate is None or not certificate.expired_time:
        return
    now = clock()
    if certificate.expired_time - now < margin_s:
        raise CertificateExpiringError(int(certificate.expired_time), now, margin_s)


def _lower(headers: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in headers.items()}


def initiate_multipart(cos: Any, bucket: str, key: str, retry: RetryPolicy) -> str:
    """InitiateMultipartUpload; returns the UploadId.

    Not idempotent: a repeat after a lost reply opens a second upload. Callers record the id they
    got and ``abort_others`` the rest (a stray upload is billed until aborted).
    """
    result = retry.call(
        lambda: cos.create_multipart_upload(Bucket=bucket, Key=key), service="cos", action="InitiateMultipartUpload"
    )
    upload_id = result.get("UploadId") if isinstance(result, Mapping) else None
    if not upload_id:
        raise VodServiceError("InternalError", "InitiateMultipartUpload returned no UploadId", service="cos")
    return str(upload_id)


class _StreamingBody:
    """A request body read from a chunk iterator: CRC64 and progress while streaming, one chunk in memory.

    requests sends it with ``Content-Length = len(body)`` and reads it in blocks; an error raised
    by the source is kept in ``error`` (the HTTP stack wraps it) and re-raised by the caller.
    """

    def __init__(self, chunks: Iterator[bytes], length: int, progress: Optional[Progress]) -> None:
        self._chunks = chunks
        self._length = length
        self._chunk = b""
        self._pos = 0  # what ``read`` handed out of ``_chunk``: the rest is never copied to be kept
        self._progress = progress
        self.crc = Crc64()
        self.reported = 0
        self.error: Optional[BaseException] = None

    def __len__(self) -> int:
        return self._length

    def _next_chunk(self) -> bytes:
        try:
            data = next(self._chunks, b"")
        except BaseException as exc:
            self.error = exc
            raise
        if data:
            self.crc.update(data)
            if self._progress is not None:
                self._progress.add(len(data))
                self.reported += len(data)
        return data

    @property
    def _buffer(self) -> memoryview:
        """The part of the current chunk not read yet (a view: no copy)."""
        return memoryview(self._chunk)[self._pos :]

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            out = [bytes(self._buffer)]
            self._chunk, self._pos = b"", 0
            while True:
                data = self._next_chunk()
                if not data:
                    return b"".join(out)
                out.append(data)
        if self._pos >= len(self._chunk):
            self._chunk, self._pos = self._next_chunk(), 0
        if self._pos == 0 and size >= len(self._chunk):
            out_bytes = self._chunk  # the whole chunk: handed on as is
        else:
            out_bytes = self._chunk[self._pos : self._pos + size]  # only what is asked is copied
        self._pos += len(out_bytes)
        return out_bytes

    def chunks(self) -> Iterator[bytes]:
        """The source's chunks, whole: what the HTTP stack sends, one ``sendall`` per chunk."""
        if self._pos < len(self._chunk):
            yield self._chunk[self._pos :]
        self._chunk, self._pos = b"", 0
        while True:
            data = self._next_chunk()
            if not data:
                return
            yield data

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks()

    def rollback(self) -> None:
        """Take back the progress a failed attempt reported."""
        if self._progress is not None and self.reported:
            self._progress.add(-self.reported)
            self.reported = 0


class _ChunkBody:
    """What is handed to the HTTP stack: a length and whole chunks, and no ``read``.

    Given a file-like body, urllib3 reads it in 16 KiB blocks (16,456 ``sendall`` calls and as many
    slices for a 256 MiB part); given an iterable with a length, requests sets ``Content-Length`` and
    urllib3 sends each 256 KiB chunk of the source in one ``sendall``, without copying it."""

    def __init__(self, body: _StreamingBody) -> None:
        self._body = body

    def __len__(self) -> int:
        return len(self._body)

    def __iter__(self) -> Iterator[bytes]:
        return self._body.chunks()


def _send_streaming(
    source: MediaSource,
    offset: int,
    length: int,
    progress: Optional[Progress],
    send: Callable[[Any], Mapping[str, Any]],
) -> tuple[dict[str, Any], int]:
    """One attempt: open the source range, stream it into ``send``; returns (reply headers, local CRC64)."""
    with source.read_range(offset, length) as chunks:
        body = _StreamingBody(chunks, length, progress)
        try:
            headers = send(_ChunkBody(body) if length else b"")
        except CosClientError:
            body.rollback()
            if body.error is not None:
                raise body.error from None
            raise
        except BaseException:
            body.rollback()
            raise
        if body.crc.length != length:
            body.rollback()
            raise VodServiceError(
                "ClientNetworkError", f"sent {body.crc.length} of {length} bytes", service="cos", action="Upload"
            )
        return _lower(headers), body.crc.value


def _verify_crc(what: str, local: int, headers: Mapping[str, Any], require: bool) -> Optional[int]:
    remote = parse_cos_crc(headers.get("x-cos-hash-crc64ecma"))
    if remote is None:
        if require:
            raise IntegrityError(what, local, None, headers.get("x-cos-request-id"))
        logger.warning("no x-cos-hash-crc64ecma in reply; CRC not verified", extra={"what": what})
        return local
    if remote != local:
        # COS stored other bytes than we streamed (damaged in transit): sending the same range
        # again replaces them, so this one is retried like a network error.
        error = IntegrityError(what, local, remote, headers.get("x-cos-request-id"))
        error.retryable = True
        raise error
    return remote


def copy_part(
    source: MediaSource,
    cos: Any,
    bucket: str,
    key: str,
    upload_id: str,
    part: Part,
    *,
    retry: RetryPolicy,
    certificate: Optional[TempCertificate] = None,
    cert_margin_s: float = DEFAULT_CERT_MARGIN_S,
    clock: Clock = time.time,
    progress: Optional[Progress] = None,
    require_crc: bool = False,
) -> PartResult:
    """Stream ``part`` of ``source`` into UploadPart; check COS's CRC64 against the bytes sent.

    Safe to repeat: UploadPart with the same number replaces the part, and Complete names the ETag
    of the copy that counts. Every attempt re-opens the source range (a half-sent stream cannot be
    rewound) and first checks the certificate still has ``cert_margin_s`` to live.
    """

    def attempt() -> PartResult:
        check_certificate(certificate, cert_margin_s, clock)
        headers, local = _send_streaming(
            source,
            part.offset,
            part.length,
            progress,
            lambda body: cos.upload_part(Bucket=bucket, Key=key, Body=body, PartNumber=part.number, UploadId=upload_id),
        )
        etag = headers.get("etag")
        if not etag:
            # A 200 without an ETag is a failed write reported in the body: retried like one.
            raise VodServiceError(
                "InternalError",
                f"UploadPart {part.number} returned 200 without an ETag",
                headers.get("x-cos-request-id"),
                service="cos",
                action="UploadPart",
                http_status=200,
            )
        crc = _verify_crc(f"part {part.number} of {key}", local, headers, require_crc)
        return PartResult(part.number, str(etag), part.length, crc)

    return retry.call(attempt, service="cos", action="UploadPart")


def put_small(
    source: MediaSource,
    cos: Any,
    bucket: str,
    key: str,
    *,
    retry: RetryPolicy,
    certificate: Optional[TempCertificate] = None,
    cert_margin_s: float = DEFAULT_CERT_MARGIN_S,
    clock: Clock = time.time,
    progress: Optional[Progress] = None,
    require_crc: bool = False,
    content_type: Optional[str] = None,
) -> ObjectResult:
    """One streaming PUT Object for a source below the multipart threshold.

    Safe to repeat: a PUT of the same key replaces the object with the same bytes.
    """
    size = source.size
    extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}

    def attempt() -> ObjectResult:
        check_certificate(certificate, cert_margin_s, clock)
        headers, local = _send_streaming(
            source, 0, size, progress, lambda body: cos.put_object(Bucket=bucket, Key=key, Body=body, **extra)
        )
        if not headers.get("etag"):
            raise VodServiceError(
                "InternalError",
                f"PutObject {key} returned 200 without an ETag",
                headers.get("x-cos-request-id"),
                service="cos",
                action="PutObject",
                http_status=200,
            )
        crc = _verify_crc(key, local, headers, require_crc)
        expected = source.expected_crc64
        if expected is not None and expected != local:
            raise IntegrityError(f"{key} (source {source.describe()})", expected, local)
        return ObjectResult(key, headers.get("etag"), size, crc, headers.get("x-cos-request-id"))

    return retry.call(attempt, service="cos", action="PutObject")


def _list_parts_page(cos: Any, bucket: str, key: str, upload_id: str, marker: int, retry: RetryPolicy) -> Any:
    return retry.call(
        lambda: cos.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker),
        service="cos",
        action="ListParts",
    )


def list_parts(cos: Any, bucket: str, key: str, upload_id: str, retry: RetryPolicy) -> list[PartResult]:
    """Every part COS holds for the upload (ListParts is the truth across invocations). Safe to repeat: a read."""
    parts: list[PartResult] = []
    marker = 0
    while True:
        page = _list_parts_page(cos, bucket, key, upload_id, marker, retry)
        for item in page.get("Part") or []:
            parts.append(PartResult(int(item["PartNumber"]), str(item["ETag"]), int(item["Size"])))
        if str(page.get("IsTruncated", "false")).lower() != "true":
            break
        next_marker = int(page.get("NextPartNumberMarker") or 0)
        if next_marker <= marker:
            break
        marker = next_marker
    return sorted(parts, key=lambda p: p.number)


def complete(
    cos: Any,
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[PartResult],
    *,
    retry: RetryPolicy,
    expected_crc64: Optional[int] = None,
    require_crc: bool = False,
) -> ObjectResult:
    """CompleteMultipartUpload, then check the object's CRC64 against ``expected_crc64``.

    COS answers 200 at once and may report a failure in the body: the SDK raises that as a
    ``CosServiceError`` with status 200, which is retried. Safe to repeat: if an earlier Complete
    succeeded but its reply was lost, the repeat gets NoSuchUpload; the object is then HEADed and
    accepted only if its CRC64 is the expected one.
    """
    ordered = sorted(parts, key=lambda p: p.number)
    numbers = [p.number for p in ordered]
    if numbers != list(range(1, len(numbers) + 1)):
        raise VodClientException(f"parts of {key} are not 1..{len(numbers)}: {numbers[:10]}...", "InvalidPart")
    body = {"Part": [{"PartNumber": p.number, "ETag": p.etag} for p in ordered]}
    size = sum(p.size for p in ordered)
    if expected_crc64 is None and all(p.crc64 is not None for p in ordered):
        expected_crc64 = crc64_combine_all((int(p.crc64 or 0), p.size) for p in ordered)
    attempts = 0

    def attempt() -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        try:
            return _lower(
                cos.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload=body)
            )
        except Exception as exc:
            if attempts > 1 and isinstance(exc, CosServiceError) and cos_error_fields(exc)[0] == "NoSuchUpload":
                head = _lower(cos.head_object(Bucket=bucket, Key=key))
                if expected_crc64 is not None and parse_cos_crc(head.get("x-cos-hash-crc64ecma")) == expected_crc64:
                    return head
            raise

    headers = retry.call(attempt, service="cos", action="CompleteMultipartUpload")
    remote = parse_cos_crc(headers.get("x-cos-hash-crc64ecma"))
    if expected_crc64 is not None and remote is not None and remote != expected_crc64:
        raise IntegrityError(f"object {key}", expected_crc64, remote, headers.get("x-cos-request-id"))
    if expected_crc64 is not None and remote is None:
        if require_crc:
            raise IntegrityError(f"object {key}", expected_crc64, None, headers.get("x-cos-request-id"))
        logger.warning("Complete reply has no x-cos-hash-crc64ecma; whole-object CRC not verified", extra={"key": key})
    return ObjectResult(key, headers.get("etag"), size, remote or expected_crc64, headers.get("x-cos-request-id"))


def object_head(cos: Any, bucket: str, key: str, retry: RetryPolicy) -> Optional[dict[str, Any]]:
    """HEAD Object: the reply's headers, names lower-cased; None if there is no such object. Safe to repeat: a read."""

    def attempt() -> Optional[dict[str, Any]]:
        try:
            return _lower(cos.head_object(Bucket=bucket, Key=key))
        except CosServiceError as exc:
            if exc.get_status_code() == 404:
                return None
            raise

    result: Optional[dict[str, Any]] = retry.call(attempt, service="cos", action="HeadObject")
    return result


def object_size(cos: Any, bucket: str, key: str, retry: RetryPolicy) -> Optional[int]:
    """The object's size in bytes, or None if there is no such object."""
    head = object_head(cos, bucket, key, retry)
    return int(head.get("content-length", 0)) if head is not None else None


def abort(cos: Any, bucket: str, key: str, upload_id: str, retry: RetryPolicy) -> None:
    """AbortMultipartUpload, so nothing is left billed.

    Safe to repeat: NoSuchUpload on a repeat means it is already gone, and is not an error.
    """

    def attempt() -> None:
        cos.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

    try:
        retry.call(attempt, service="cos", action="AbortMultipartUpload")
    except VodServiceError as exc:
        if exc.code != "NoSuchUpload":
            raise


def abort_others(cos: Any, bucket: str, key: str, keep: Optional[str], retry: RetryPolicy) -> list[str]:
    """Abort every open multipart upload of ``key`` except ``keep`` (strays from a retried Initiate)."""
    result = retry.call(
        lambda: cos.list_multipart_uploads(Bucket=bucket, Prefix=key), service="cos", action="ListMultipartUploads"
    )
    aborted = []
    for upload in result.get("Upload") or []:
        if upload.get("Key") == key and upload.get("UploadId") != keep:
            abort(cos, bucket, key, str(upload["UploadId"]), retry)
            aborted.append(str(upload["UploadId"]))
    return aborted
