"""Fixtures of the pipeline stories (the harness is in harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tencent_emulator import mock_tencent
from tests.pipeline.harness import Deployed, deploy


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Deployed]:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        yield deploy(cloud)
