"""pytest plugin (registered through the ``pytest11`` entry point): the ``tencent_cloud`` fixture.

Installing vodflow registers this plugin in every pytest run of the environment, so it imports
nothing beyond pytest at load time: an application without the emulator extra keeps a working
pytest, and only a test that asks for ``tencent_cloud`` is told what to install.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tencent_emulator.core.cloud import Cloud


@pytest.fixture
def tencent_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A fresh emulated account per test, objects on disk under a temporary directory."""
    from tencent_emulator import missing_requirements  # noqa: PLC0415

    missing = missing_requirements()
    if missing:
        pytest.fail(
            f"the tencent_cloud fixture needs the emulator extra: pip install 'vodflow[emulator]' "
            f"(missing: {', '.join(missing)})",
            pytrace=False,
        )
    from tencent_emulator.mock import mock_tencent  # noqa: PLC0415

    with mock_tencent(data_dir=tmp_path_factory.mktemp("tencent-cloud")) as cloud:
        yield cloud
