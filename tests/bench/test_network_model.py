"""The emulator's network model on a fake clock: per-connection cap, account-wide cap, no credit for idle time.

Time here is the test's own counter (``time.monotonic`` and ``time.sleep`` replaced), never the wall clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from tencent_emulator.core import server
from tencent_emulator.core.server import NetworkModel


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@pytest.fixture
def clock(monkeypatch: Any) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(server, "time", fake)
    return fake


def _send(net: NetworkModel, clock: FakeClock, nbytes: int, chunk: int) -> None:
    started, sent = clock.monotonic(), 0
    while sent < nbytes:
        net.pace(chunk, started, sent)
        sent += chunk


def test_a_connection_is_paced_at_its_cap(clock: FakeClock) -> None:
    net = NetworkModel(bandwidth=1_000_000)
    _send(net, clock, 4_000_000, 250_000)

    assert clock.now == pytest.approx(104.0)


def test_the_account_cap_is_shared_by_every_connection(clock: FakeClock) -> None:
    net = NetworkModel(bandwidth=1_000_000, account_bandwidth=1_000_000)
    # Two connections interleaved chunk by chunk: together they may move 1 MB/s, not 2.
    starts = [clock.monotonic(), clock.monotonic()]
    for i in range(8):
        net.pace(250_000, starts[i % 2], (i // 2) * 250_000)

    assert clock.now == pytest.approx(102.0)


def test_idle_time_earns_no_burst(clock: FakeClock) -> None:
    net = NetworkModel(account_bandwidth=1_000_000)
    _send(net, clock, 1_000_000, 250_000)
    clock.sleep(10)
    before = clock.now
    _send(net, clock, 1_000_000, 250_000)

    assert clock.now - before == pytest.approx(1.0)


def test_no_cap_no_wait(clock: FakeClock) -> None:
    _send(NetworkModel(), clock, 10_000_000, 250_000)

    assert clock.now == 100.0
