"""pytest plugin (registered through the ``pytest11`` entry point): the ``tencent_cloud`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tencent_emulator.core.cloud import Cloud
from tencent_emulator.mock import mock_tencent


@pytest.fixture
def tencent_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A fresh emulated account per test, objects on disk under a temporary directory."""
    with mock_tencent(data_dir=tmp_path_factory.mktemp("tencent-cloud")) as cloud:
        yield cloud
