"""The HTTP front's sockets: a client that reaches it as its HTTP proxy pays what a direct client pays.

Functions reach the server as their proxy (the real hostnames resolve nowhere else). urllib3 sets
``TCP_NODELAY`` on direct connections but not on proxy connections, so a PUT's body, written after its
headers, waits for the server's ACK; the server must not delay it (see FIDELITY.md, network model).
Compared as a ratio within one run (proxied vs direct on the same server), never as a wall-clock limit.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tencent_emulator import Cloud
from tencent_emulator.core.server import EmulatorServer

BUCKET = "sockets-1250000000"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    cloud = Cloud(data_dir=tmp_path / "cloud", mode="server")
    srv = EmulatorServer(cloud, port=0).start()
    cloud.base_url = srv.url
    cloud.cos.create_bucket(BUCKET)
    try:
        yield srv
    finally:
        srv.stop()
        cloud.close()


def _median_put_ms(session: requests.Session, url: str, proxies: dict[str, str]) -> float:
    times = []
    for i in range(12):
        began = time.perf_counter()
        reply = session.put(f"{url}/probe-{i}", data=b"{}" * 64, proxies=proxies, timeout=10)
        times.append((time.perf_counter() - began) * 1000)
        assert reply.status_code in (403, 404)  # unsigned or no bucket: refused, after the body was read
    return statistics.median(times[2:])  # the first ones open the connection


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_QUICKACK is Linux's")
def test_a_put_through_the_server_as_proxy_is_not_held_by_a_delayed_ack(server: EmulatorServer) -> None:
    session = requests.Session()
    direct = _median_put_ms(session, server.url, {})
    proxied = _median_put_ms(session, f"http://{BUCKET}.cos.ap-guangzhou.myqcloud.com", {"http": server.url})
    # A delayed ACK holds each proxied PUT ~40 ms against ~1 ms direct; without it they are alike.
    assert proxied < 5 * direct + 5, (proxied, direct)
