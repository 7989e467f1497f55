"""tencent_emulator: a local Tencent Cloud (COS, VOD, SCF, STS, API Gateway) for tests, demos and benchmarks.

It never imports vodflow; vodflow never imports it. ``mock_tencent()`` intercepts the real
hostnames in this process; ``python -m tencent_emulator serve`` serves the same models over HTTP.

It needs the ``emulator`` extra (``pip install 'vodflow[emulator]'``: responses, PyYAML). The
package itself imports without it, so the ``tencent_cloud`` pytest fixture registered by installing
vodflow never breaks an application's test run; using the emulator without the extra says what to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tencent_emulator.core.cloud import Cloud
    from tencent_emulator.core.faults import FunctionKilled
    from tencent_emulator.mock import mock_tencent

__version__ = "0.1.0"

__all__ = ["EXTRA_HINT", "Cloud", "FunctionKilled", "__version__", "missing_requirements", "mock_tencent"]

EXTRA_HINT = "tencent_emulator needs the emulator extra: pip install 'vodflow[emulator]' (missing: {missing})"
_REQUIRES = {"responses": "responses", "yaml": "PyYAML"}
_EXPORTS = {
    "Cloud": "tencent_emulator.core.cloud",
    "FunctionKilled": "tencent_emulator.core.faults",
    "mock_tencent": "tencent_emulator.mock",
}


def missing_requirements() -> list[str]:
    """The distributions of the emulator extra that are not installed (empty when it is complete)."""
    return [dist for module, dist in _REQUIRES.items() if importlib.util.find_spec(module) is None]


def require_extra() -> None:
    """Raise ImportError naming the extra to install when part of it is missing."""
    missing = missing_requirements()
    if missing:
        raise ImportError(EXTRA_HINT.format(missing=", ".join(missing)))


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tencent_emulator' has no attribute {name!r}")
    require_extra()
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
