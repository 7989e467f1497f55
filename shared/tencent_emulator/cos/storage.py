"""Object bytes: files under ``data_dir`` (or memory when there is none), streamed in and out.

A stored object is a :class:`Blob`: an ordered list of segments, each a window on a shared,
reference-counted file. That makes Complete Multipart Upload and copies cheap (the object is the
list of its parts' files; no byte is copied) and lets a GET keep reading a file that an overwrite
released meanwhile (the reader holds its own reference until it finishes).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional, Union

from tencent_emulator.cos.crc64 import combine_all, crc64

CHUNK = 256 * 1024


@dataclass(eq=False)
class StoredFile:
    """One written body: a file on disk, or bytes in memory. Freed when its last reference goes."""

    size: int
    path: Optional[Path] = None
    data: Optional[bytes] = None
    refs: int = 1


@dataclass(frozen=True)
class Segment:
    file: StoredFile
    offset: int
    length: int


@dataclass(frozen=True)
class Blob:
    """An object's or part's bytes: segments in order, with the size and CRC64 of the whole."""

    segments: tuple[Segment, ...]
    size: int
    crc64: int


@dataclass(frozen=True)
class Written:
    """What streaming a body in produced: the blob, and the digests computed on the way."""

    blob: Blob
    md5: bytes

    @property
    def md5_hex(self) -> str:
        return self.md5.hex()


class TooLarge(Exception):
    """The body went over the allowed size while streaming in."""


class BlobStore:
    """Writes, shares, slices, reads and frees blobs. Thread-safe."""

    def __init__(self, root: Optional[Path]) -> None:
        self.root = root
        self._lock = threading.Lock()
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)

    # -- writing ---------------------------------------------------------------------------
    def write(self, data: Union[bytes, BinaryIO, Iterable[bytes]], max_size: Optional[int] = None) -> Written:
        """Store a body, reading it in chunks; MD5 and CRC64 are computed as the bytes pass."""
        md5 = hashlib.md5()  # noqa: S324  (COS ETags are MD5; not a security use)
        crc = 0
        size = 0
        chunks = _chunks(data)
        if self.root is None:
            buf = bytearray()
            for chunk in chunks:
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise TooLarge(str(size))
                md5.update(chunk)
                crc = crc64(chunk, crc)
                buf += chunk
            stored = StoredFile(size=size, data=bytes(buf))
        else:
            path = self.root / uuid.uuid4().hex[:2] / uuid.uuid4().hex
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(path, "wb") as fh:
                    for chunk in chunks:
                        size += len(chunk)
                        if max_size is not None and size > max_size:
                            raise TooLarge(str(size))
                        md5.update(chunk)
                        crc = crc64(chunk, crc)
                        fh.write(chunk)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            stored = StoredFile(size=size, path=path)
        blob = Blob(segments=(Segment(stored, 0, size),) if size else (), size=size, crc64=crc)
        if not size:  # an empty body keeps no file
            self._free(stored)
        return Written(blob=blob, md5=md5.digest())

    # -- sharing ---------------------------------------------------------------------------
    def concat(self, blobs: list[Blob]) -> Blob:
        """One blob made of others, in order; each segment gains a reference (no bytes copied)."""
        segments = tuple(s for b in blobs for s in b.segments)
        self.retain(Blob(segments, 0, 0))
        return Blob(segments, sum(b.size for b in blobs), combine_all((b.crc64, b.size) for b in blobs))

    def share(self, blob: Blob) -> Blob:
        """The same bytes under a second owner (CopyObject)."""
        self.retain(blob)
        return blob

    def slice(self, blob: Blob, start: int, end: int) -> Blob:
        """Bytes ``start..end`` inclusive as a new blob sharing the files; its CRC is computed by reading."""
        segments = []
        pos = 0
        for seg in blob.segments:
            seg_start, seg_end = pos, pos + seg.length - 1
            pos += seg.length
            if seg_end < start or seg_start > end:
                continue
            lo = max(start, seg_start) - seg_start
            hi = min(end, seg_end) - seg_start
            segments.append(Segment(seg.file, seg.offset + lo, hi - lo + 1))
        piece = Blob(tuple(segments), end - start + 1, 0)
        self.retain(piece)
        crc = 0
        for chunk in self._read(piece, 0, piece.size - 1):
            crc = crc64(chunk, crc)
        return Blob(piece.segments, piece.size, crc)

    def retain(self, blob: Blob) -> None:
        with self._lock:
            for seg in blob.segments:
                seg.file.refs += 1

    def release(self, blob: Blob) -> None:
        freed = []
        with self._lock:
            for seg in blob.segments:
                seg.file.refs -= 1
                if seg.file.refs == 0:
                    freed.append(seg.file)
        for f in freed:
            self._free(f)

    def _free(self, stored: StoredFile) -> None:
        if stored.path is not None:
            stored.path.unlink(missing_ok=True)
        stored.data = None

    # -- reading ---------------------------------------------------------------------------
    def iter(self, blob: Blob, start: int = 0, end: Optional[int] = None) -> Iterator[bytes]:
        """Chunks of bytes ``start..end`` (inclusive). The blob stays readable until the iterator ends."""
        last = blob.size - 1 if end is None else min(end, blob.size - 1)
        self.retain(blob)

        def gen() -> Iterator[bytes]:
            try:
                yield from self._read(blob, start, last)
            finally:
                self.release(blob)

        return gen()

    def _read(self, blob: Blob, start: int, end: int) -> Iterator[bytes]:
        pos = 0
        for seg in blob.segments:
            seg_start, seg_end = pos, pos + seg.length - 1
            pos += seg.length
            if seg_end < start or seg_start > end:
                continue
            lo = seg.offset + max(start, seg_start) - seg_start
            left = min(end, seg_end) - max(start, seg_start) + 1
            if seg.file.path is None:
                data = seg.file.data or b""
                for i in range(lo, lo + left, CHUNK):
                    yield data[i : min(i + CHUNK, lo + left)]
                continue
            with open(seg.file.path, "rb") as fh:
                fh.seek(lo)
                while left > 0:
                    chunk = fh.read(min(CHUNK, left))
                    if not chunk:
                        raise OSError(f"blob file {seg.file.path} is shorter than recorded")
                    left -= len(chunk)
                    yield chunk

    def read(self, blob: Blob) -> bytes:
        return b"".join(self.iter(blob))


def _chunks(data: Union[bytes, BinaryIO, Iterable[bytes]]) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        for i in range(0, len(raw), CHUNK):
            yield raw[i : i + CHUNK]
        return
    read = getattr(data, "read", None)
    if callable(read):
        while True:
            chunk = read(CHUNK)
            if not chunk:
                return
            yield chunk if isinstance(chunk, bytes) else bytes(chunk)
    for chunk in data:
        if chunk:
            yield bytes(chunk)


def blob_root(data_dir: Optional[Path]) -> Optional[Path]:
    """Where COS keeps its files under the cloud's data dir (None: in memory)."""
    if data_dir is None:
        return None
    return Path(os.fspath(data_dir)) / "cos" / "blobs"
