"""tencent_emulator: a local Tencent Cloud (COS, VOD, SCF, STS, API Gateway) for tests, demos and benchmarks.

It never imports vodflow; vodflow never imports it. ``mock_tencent()`` intercepts the real
hostnames in this process; ``python -m tencent_emulator serve`` serves the same models over HTTP.
"""

from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.faults import FunctionKilled
from tencent_emulator.mock import mock_tencent

__version__ = "0.1.0"

__all__ = ["Cloud", "FunctionKilled", "__version__", "mock_tencent"]
