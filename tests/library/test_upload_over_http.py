"""The same upload over real sockets: VODFLOW_TENCENT_ENDPOINT points every client at the emulator server,
and part bodies stream through http.client from the file, not through ``responses``."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from vodflow import VodUploadClient, VodUploadRequest
from vodflow.endpoints import ENV_VAR
from vodflow.planner import MiB, PlanConfig


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from tencent_emulator.core.cloud import Cloud
    from tencent_emulator.core.server import EmulatorServer

    cloud = Cloud(data_dir=tmp_path / "cloud", mode="server")
    server = EmulatorServer(cloud).start()
    cloud.base_url = server.url
    monkeypatch.setenv(ENV_VAR, server.url)
    try:
        yield cloud
    finally:
        server.stop()
        cloud.close()


def fetch(url: str) -> bytes:
    """GET a media URL from the server, which routes by the Host header like the real CDN host."""
    parts = urlsplit(url)
    reply = requests.get(f"{os.environ[ENV_VAR]}{parts.path}", headers={"Host": parts.netloc}, timeout=30)
    assert reply.status_code == 200
    return reply.content


def test_multipart_upload_with_cover_through_the_emulator_server(
    served: Any, data_dir: Path, make_file: Callable[[Path, int], Path]
) -> None:
    media = make_file(data_dir / "v.mp4", 3 * MiB + 4321)
    cover = make_file(data_dir / "c.jpg", 10_000)
    client = VodUploadClient(served.secret_id, served.secret_key)
    client.plan_config = PlanConfig(inline_threshold=MiB, preferred_part_size=MiB)
    request = VodUploadRequest()
    request.MediaFilePath = str(media)
    request.CoverFilePath = str(cover)
    request.ConcurrentUploadNumber = 3
    response = client.upload("ap-guangzhou", request)
    assert fetch(response.MediaUrl) == media.read_bytes()
    assert fetch(response.CoverUrl) == cover.read_bytes()
    assert served.request_counts("cos").get("cos:UploadPart") == 4


def test_memory_stays_bounded_by_small_buffers_not_by_part_size(
    served: Any, data_dir: Path, make_file: Callable[[Path, int], Path]
) -> None:
    media = make_file(data_dir / "big.mp4", 24 * MiB)
    client = VodUploadClient(served.secret_id, served.secret_key)
    client.plan_config = PlanConfig(inline_threshold=MiB, preferred_part_size=8 * MiB)
    request = VodUploadRequest()
    request.MediaFilePath = str(media)
    request.ConcurrentUploadNumber = 3
    tracemalloc.start()
    try:
        response = client.upload("ap-guangzhou", request)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Three 8 MiB parts in flight at once; reading them into memory would peak above 24 MiB.
    assert peak < 8 * MiB
    assert served.vod.media(response.FileId).size == 24 * MiB
