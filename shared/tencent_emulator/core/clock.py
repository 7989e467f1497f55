"""The emulator's clock.

Expiry (temporary keys, VOD sessions, presigned URLs) is judged on this clock so tests can move
time forward instead of waiting. Signature timestamps are judged on the wall clock, because the
SDKs sign with ``time.time()``; advancing this clock does not make their signatures look skewed.
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    @staticmethod
    def wall() -> float:
        return time.time()
