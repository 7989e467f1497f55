"""Transport-neutral request and response shapes.

Both fronts (``responses`` in-process, and the HTTP server) turn what they receive into a
:class:`Request` and render a :class:`Response`, so every service front is written once.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Optional, Union
from urllib.parse import parse_qsl, unquote, urlsplit


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping that keeps the original spelling for iteration."""

    def __init__(self, items: Union[Mapping[str, str], Iterable[tuple[str, str]], None] = None) -> None:
        self._store: dict[str, tuple[str, str]] = {}
        pairs = items.items() if isinstance(items, Mapping) else (items or [])
        for k, v in pairs:
            # requests keeps header values as the caller gave them: cos-python-sdk-v5 passes bytes.
            text = v.decode("latin-1") if isinstance(v, (bytes, bytearray)) else v if isinstance(v, str) else str(v)
            self._store[k.lower()] = (k, text)

    def __getitem__(self, key: str) -> str:
        return self._store[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def lower_items(self) -> list[tuple[str, str]]:
        return [(k, v) for k, (_, v) in self._store.items()]


class IterStream(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (chunked request bodies)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                chunk = next(self._it)
            except StopIteration:
                return 0
            self._buf = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def as_stream(body: object) -> BinaryIO:
    """Turn whatever a client sent as a body into a readable binary stream."""
    if body is None:
        return io.BytesIO(b"")
    if isinstance(body, bytes):
        return io.BytesIO(body)
    if isinstance(body, str):
        return io.BytesIO(body.encode("utf-8"))
    if hasattr(body, "read"):
        return body  # type: ignore[return-value]
    if isinstance(body, Iterable):
        return io.BufferedReader(IterStream(body))  # type: ignore[type-var]
    raise TypeError(f"unsupported request body type {type(body).__name__}")


@dataclass
class Request:
    """One HTTP request as a service front sees it.

    ``path`` is the raw (percent-encoded) path; ``key_path`` is it decoded. ``query`` keeps every
    pair in order, with keys that had no value mapped to ``""`` (COS's ``?uploads``).
    """

    method: str
    scheme: str
    host: str
    path: str
    raw_query: str
    headers: Headers
    body: BinaryIO
    port: Optional[int] = None
    client: str = "127.0.0.1"
    _body_cache: Optional[bytes] = field(default=None, repr=False)

    @classmethod
    def from_url(
        cls,
        method: str,
        url: str,
        headers: Union[Mapping[str, str], Iterable[tuple[str, str]]],
        body: object,
        client: str = "127.0.0.1",
    ) -> Request:
        parts = urlsplit(url)
        hdrs = Headers(headers)
        host_header = hdrs.get("Host") or parts.netloc
        host, _, port = host_header.partition(":")
        return cls(
            method=method.upper(),
            scheme=parts.scheme or "http",
            host=host.lower(),
            port=int(port) if port.isdigit() else None,
            path=parts.path or "/",
            raw_query=parts.query,
            headers=hdrs,
            body=as_stream(body),
            client=client,
        )

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, last one wins (COS never repeats them)."""
        return dict(self.query)

    @property
    def key_path(self) -> str:
        return unquote(self.path)

    def read_body(self) -> bytes:
        """The whole body, read once and cached (for small bodies: JSON, XML)."""
        if self._body_cache is None:
            self._body_cache = self.body.read() or b""
        return self._body_cache

    @property
    def host_header(self) -> str:
        return self.headers.get("Host") or (f"{self.host}:{self.port}" if self.port else self.host)


Body = Union[bytes, Iterable[bytes]]


@dataclass
class Response:
    """What a service front answers. ``body`` may be an iterator of chunks for large objects."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = b""

    def body_bytes(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        out = b"".join(self.body)
        self.body = out
        return out


class DropConnection(Exception):
    """Raised by a front (or the fault injector) to make the transport drop the connection."""


class ClientTimeout(Exception):
    """Raised by the fault injector to make the client see a read timeout."""


class CorruptingStream(io.RawIOBase):
    """A request body damaged in transit: the first byte read is flipped."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.flipped = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        if not data:
            return 0
        if not self.flipped:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
            self.flipped = True
        b[: len(data)] = data
        return len(data)
