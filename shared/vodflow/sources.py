"""Media sources: where the bytes come from, read by byte range in small chunks.

A local file (the official SDK's only source) or a COS object, streamed by ranged GET pinned with
``If-Match`` to its ETag so a replaced object fails loudly instead of mixing two versions. Nothing
reads a whole part into memory: a range is an iterator of chunks of at most ``chunk_size`` bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from .crc64 import parse_cos_crc
from .credentials import Credentials
from .endpoints import Endpoints
from .errors import SourceChangedError, VodClientException, VodServiceError, VodValidationError
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "CosObjectSource",
    "LocalFileSource",
    "MediaSource",
    "extension_of",
    "name_of",
]

DEFAULT_CHUNK_SIZE = 256 * 1024


def extension_of(name: str) -> str:
    """The extension without the dot, case kept (as ``qcloud_vod`` derives MediaType); "" if none."""
    return os.path.splitext(os.path.basename(name))[1][1:]


def name_of(name: str) -> str:
    """The file name without its extension (``qcloud_vod``'s default MediaName)."""
    return os.path.splitext(os.path.basename(name))[0]


class MediaSource(Protocol):
    """What the upload flow needs from a source."""

    @property
    def size(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def expected_crc64(self) -> Optional[int]:
        """The whole object's CRC64 if the source already knows it (COS does), else None."""
        ...

    def read_range(self, offset: int, length: int) -> AbstractContextManager[Iterator[bytes]]:
        """Chunks covering exactly ``[offset, offset + length)``; closing releases the handle."""
        ...

    def describe(self) -> str:
        """For messages and logs: no secrets."""
        ...


class _Closing(AbstractContextManager[Iterator[bytes]]):
    def __init__(self, iterator: Iterator[bytes], close: Any) -> None:
        self._iterator = iterator
        self._close = close

    def __enter__(self) -> Iterator[bytes]:
        return self._iterator

    def __exit__(self, *exc: object) -> None:
        self._close()


@dataclass
class LocalFileSource:
    """A local file, read with ``pread``-style seeks per range (ranges may be read in parallel)."""

    path: str
    chunk_size: int = DEFAULT_CHUNK_SIZE
    _size: Optional[int] = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = os.fspath(self.path)

    @property
    def size(self) -> int:
        if self._size is None:
            try:
                self._size = os.stat(self.path).st_size
            except OSError as exc:
                raise VodValidationError("ResourceNotFound", "MediaFilePath", self.path, "cannot be read") from exc
        return self._size

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def expected_crc64(self) -> Optional[int]:
        return None

    def read_range(self, offset: int, length: int) -> AbstractContextManager[Iterator[bytes]]:
        handle = open(self.path, "rb")
        handle.seek(offset)

        def chunks() -> Iterator[bytes]:
            remaining = length
            while remaining > 0:
                data = handle.read(min(self.chunk_size, remaining))
                if not data:
                    raise VodClientException(
                        f"{self.path} ended {remaining} bytes early (file changed while uploading?)",
                        "FailedOperation.SourceChanged",
                    )
                remaining -= len(data)
                yield data

        return _Closing(chunks(), handle.close)

    def describe(self) -> str:
        return self.path


@dataclass
class CosObjectSource:
    """An object in COS, streamed by ranged GET (``If-Match: <etag>``) with the given credentials.

    ``stat()`` (HEAD) fills size, ETag and CRC64 when they were not given. Retries of a range are
    the caller's: a half-read range cannot be resumed without re-sending the bytes already consumed.
    """

    bucket: str
    region: str
    key: str
    credentials: Credentials = field(repr=False)
    etag: Optional[str] = None
    size_hint: Optional[int] = None
    crc64_hint: Optional[int] = None
    endpoints: Optional[Endpoints] = field(default=None, repr=False)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    retry: RetryPolicy = field(default_factory=RetryPolicy, repr=False)
    client: Any = field(default=None, repr=False)

    def _cos(self) -> Any:
        if self.client is None:
            from .clients import cos_client  # noqa: PLC0415 - avoid a cycle at import time

            self.client = cos_client(self.credentials, self.region, self.endpoints)
        return self.client

    def stat(self) -> None:
        """HEAD the object (safe to repeat: read-only) unless size and ETag are already known."""
        if self.size_hint is not None and self.etag is not None:
            return
        kwargs: dict[str, Any] = {"IfMatch": self.etag} if self.etag else {}
        headers = self.retry.call(
            lambda: self._cos().head_object(Bucket=self.bucket, Key=self.key, **kwargs),
            service="cos",
            action="HeadObject",
        )
        lower = {k.lower(): v for k, v in headers.items()}
        self.size_hint = int(lower.get("content-length", 0))
        self.etag = self.etag or lower.get("etag")
        if self.crc64_hint is None:
            self.crc64_hint = parse_cos_crc(lower.get("x-cos-hash-crc64ecma"))

    @property
    def size(self) -> int:
        self.stat()
        assert self.size_hint is not None
        return self.size_hint

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def expected_crc64(self) -> Optional[int]:
        self.stat()
        return self.crc64_hint

    def read_range(self, offset: int, length: int) -> AbstractContextManager[Iterator[bytes]]:
        if length == 0:
            return _Closing(iter(()), lambda: None)
        kwargs: dict[str, Any] = {"Range": f"bytes={offset}-{offset + length - 1}"}
        if self.etag:
            kwargs["IfMatch"] = self.etag

        def get() -> Any:
            # Safe to repeat: a read.
            return self._cos().get_object(Bucket=self.bucket, Key=self.key, **kwargs)

        try:
            response = self.retry.call(get, service="cos", action="GetObject")
        except VodServiceError as exc:
            if exc.code == "PreconditionFailed" or exc.http_status == 412:
                raise SourceChangedError(
                    f"cos://{self.bucket}/{self.key} changed: ETag is no longer {self.etag}",
                    request_id=exc.request_id,
                ) from exc
            raise
        body = response["Body"]
        stream = body.get_stream(chunk_size=self.chunk_size)

        def chunks() -> Iterator[bytes]:
            remaining = length
            for data in stream:
                if not data:
                    continue
                if len(data) > remaining:
                    raise VodClientException(
                        f"cos://{self.bucket}/{self.key}: range returned more than {length} bytes",
                        "FailedOperation.SourceChanged",
                    )
                remaining -= len(data)
                yield data
            if remaining:
                raise VodServiceError(
                    "ClientNetworkError",
                    f"cos://{self.bucket}/{self.key}: range ended {remaining} bytes early",
                    service="cos",
                    action="GetObject",
                )

        raw = body.get_raw_stream()
        return _Closing(chunks(), getattr(raw, "close", lambda: None))

    def describe(self) -> str:
        return f"cos://{self.bucket}/{self.key}"
