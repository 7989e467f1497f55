"""Streaming bodies: CRC64 and progress while the bytes go out, one source chunk in memory at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vodflow.crc64 import crc64
from vodflow.errors import CertificateExpiringError, VodClientException
from vodflow.flow import Progress, TempCertificate, _StreamingBody, check_certificate
from vodflow.sources import LocalFileSource


def counted_chunks(data: bytes, size: int, held: list[int]) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        chunk = data[start : start + size]
        held.append(len(chunk))
        yield chunk


def test_body_reads_in_blocks_without_holding_more_than_one_chunk() -> None:
    data = os.urandom(1_000_003)
    held: list[int] = []
    body = _StreamingBody(counted_chunks(data, 65_536, held), len(data), None)
    assert len(body) == len(data)
    out = []
    while True:
        block = body.read(16_384)  # what urllib3 asks for
        if not block:
            break
        assert len(block) <= 16_384
        assert len(body._buffer) < 65_536
        out.append(block)
    assert b"".join(out) == data
    assert max(held) == 65_536
    assert body.crc.value == crc64(data)
    assert body.crc.length == len(data)


def test_progress_counts_bytes_as_they_stream_and_a_failed_attempt_gives_them_back() -> None:
    seen: list[tuple[int, int]] = []
    progress = Progress(3000, lambda done, total: seen.append((done, total)))
    body = _StreamingBody(iter([b"a" * 1000, b"b" * 1000]), 2000, progress)
    assert body.read() == b"a" * 1000 + b"b" * 1000
    assert progress.done == 2000
    body.rollback()
    assert progress.done == 0
    assert seen[-1] == (0, 3000)
    assert all(total == 3000 for _, total in seen)


def test_source_error_is_kept_for_the_caller() -> None:
    def broken() -> Iterator[bytes]:
        yield b"x"
        raise VodClientException("disk went away", "ClientError")

    body = _StreamingBody(broken(), 10, None)
    with pytest.raises(VodClientException):
        body.read(-1)
    assert isinstance(body.error, VodClientException)


def test_local_source_reads_exact_ranges_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    data = os.urandom(10_000)
    path.write_bytes(data)
    source = LocalFileSource(str(path), chunk_size=1024)
    assert (source.size, source.name) == (10_000, "v.mp4")
    with source.read_range(3000, 4500) as chunks:
        parts = list(chunks)
    assert b"".join(parts) == data[3000:7500]
    assert max(map(len, parts)) == 1024


def test_local_source_that_shrank_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(b"x" * 100)
    source = LocalFileSource(str(path))
    with pytest.raises(VodClientException, match="ended"), source.read_range(50, 100) as chunks:
        list(chunks)


def test_no_part_starts_on_a_certificate_about_to_expire() -> None:
    cert = TempCertificate("id", "key", "token", expired_time=1_000)
    check_certificate(cert, margin_s=100, clock=lambda: 850.0)
    with pytest.raises(CertificateExpiringError) as caught:
        check_certificate(cert, margin_s=100, clock=lambda: 950.0)
    assert caught.value.expired_time == 1_000
    assert "expires" in str(caught.value)
    check_certificate(None, clock=lambda: 1e12)
