"""Fixtures for the library's end-to-end tests: an emulated Tencent Cloud and media files on disk."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

APP_ID = "1250000000"
REGION = "ap-guangzhou"


@pytest.fixture
def cloud() -> Iterator[Any]:
    """The emulated cloud, with what Tencent's SDK page assumes exists: sub-app 101, a procedure,
    a class and the ap-chongqing storage region."""
    from tencent_emulator import mock_tencent

    with mock_tencent(app_id=APP_ID, region=REGION) as emulated:
        emulated.vod.add_sub_app(101)
        emulated.vod.add_storage_region("ap-chongqing")
        for sub_app in (None, 101):
            emulated.vod.add_procedure("Your Procedure Name", sub_app_id=sub_app)
            emulated.vod.add_class(3, sub_app_id=sub_app)
        yield emulated


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """``/data/file`` of the SDK page's examples, under the test's temporary directory."""
    path = tmp_path / "data" / "file"
    path.mkdir(parents=True)
    return path


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        remaining = size
        while remaining:
            chunk = os.urandom(min(remaining, 1 << 20))
            out.write(chunk)
            remaining -= len(chunk)
    return path


@pytest.fixture
def make_file() -> Callable[[Path, int], Path]:
    """Write ``size`` random bytes to a path."""
    return random_file


@pytest.fixture
def wildlife(data_dir: Path) -> Path:
    """A small video: one PUT."""
    return random_file(data_dir / "Wildlife.mp4", 300_000)


@pytest.fixture
def big_wildlife(data_dir: Path) -> Path:
    """A video above the library's multipart threshold (16 MiB) with an uneven last part."""
    return random_file(data_dir / "Wildlife.mp4", 17 * 1024 * 1024 + 12_345)


@pytest.fixture
def cover(data_dir: Path) -> Path:
    return random_file(data_dir / "Wildlife-Cover.png", 20_000)


def open_uploads(cloud: Any) -> list[Any]:
    """Every multipart upload still open in the emulated account (each one would be billed)."""
    return [u for b in cloud.cos.list_buckets() for u in cloud.cos.list_multipart_uploads(b.name)]


@pytest.fixture(name="open_uploads")
def open_uploads_fixture() -> Callable[[Any], list[Any]]:
    return open_uploads
