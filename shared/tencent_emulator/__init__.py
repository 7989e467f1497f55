"""tencent_emulator: a local Tencent Cloud (COS, VOD, SCF, STS, API Gateway) for tests, demos and benchmarks.

It never imports vodflow; vodflow never imports it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
