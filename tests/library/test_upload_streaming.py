"""Beyond the official SDK: a COS object as the source, progress over everything, CRC and certificate guards."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from vodflow import VodUploadClient, VodUploadRequest
from vodflow.clients import cos_client
from vodflow.credentials import Credentials
from vodflow.errors import CertificateExpiringError, IntegrityError, SourceChangedError
from vodflow.planner import MiB, PlanConfig
from vodflow.retry import RetryPolicy
from vodflow.sources import CosObjectSource

STAGING = "staging-1250000000"


def small_parts(client: VodUploadClient) -> VodUploadClient:
    client.plan_config = PlanConfig(inline_threshold=MiB, preferred_part_size=MiB)
    client.retry = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    return client


def staged(cloud: Any, key: str, data: bytes) -> Credentials:
    cloud.cos.create_bucket(STAGING)
    creds = Credentials(cloud.secret_id, cloud.secret_key)
    cos_client(creds, "ap-guangzhou").put_object(Bucket=STAGING, Key=key, Body=data)
    return creds


def test_a_cos_object_is_streamed_by_range_into_vod(cloud: Any) -> None:
    data = os.urandom(3 * MiB + 777)
    creds = staged(cloud, "in/movie.mp4", data)
    request = VodUploadRequest()
    request.MediaSource = CosObjectSource(STAGING, "ap-guangzhou", "in/movie.mp4", creds)
    request.ConcurrentUploadNumber = 3
    response = small_parts(VodUploadClient(cloud.secret_id, cloud.secret_key)).upload("ap-guangzhou", request)
    assert requests.get(response.MediaUrl, timeout=30).content == data
    gets = [r for r in cloud.requests if r.service == "cos" and r.action == "GetObject"]
    assert len(gets) == 4  # one ranged GET per part, never the whole object
    assert request.MediaType is None  # defaults computed, not written back


def test_a_replaced_source_object_fails_loudly(cloud: Any, open_uploads: Callable[[Any], list[Any]]) -> None:
    creds = staged(cloud, "in/movie.mp4", os.urandom(3 * MiB))
    request = VodUploadRequest()
    request.MediaSource = CosObjectSource(
        STAGING, "ap-guangzhou", "in/movie.mp4", creds, etag='"not-the-etag"', size_hint=3 * MiB
    )
    with pytest.raises(SourceChangedError):
        small_parts(VodUploadClient(cloud.secret_id, cloud.secret_key)).upload("ap-guangzhou", request)
    assert open_uploads(cloud) == []


def test_a_crc_mismatch_is_an_error_and_nothing_is_committed(cloud: Any) -> None:
    data = os.urandom(2 * MiB + 5)
    creds = staged(cloud, "in/movie.mp4", data)
    request = VodUploadRequest()
    request.MediaSource = CosObjectSource(STAGING, "ap-guangzhou", "in/movie.mp4", creds, crc64_hint=12345)
    with pytest.raises(IntegrityError) as caught:
        small_parts(VodUploadClient(cloud.secret_id, cloud.secret_key)).upload("ap-guangzhou", request)
    assert caught.value.expected == 12345
    assert not any(r.action == "CommitUpload" for r in cloud.requests)


def test_progress_covers_media_cover_and_segments(
    cloud: Any, data_dir: Path, make_file: Callable[[Path, int], Path]
) -> None:
    media = make_file(data_dir / "v.mp4", 2 * MiB + 100)
    cover = make_file(data_dir / "c.jpg", 5000)
    seen: list[tuple[int, int]] = []
    request = VodUploadRequest()
    request.MediaFilePath = str(media)
    request.CoverFilePath = str(cover)
    client = small_parts(VodUploadClient(cloud.secret_id, cloud.secret_key))
    client.upload("ap-guangzhou", request, lambda done, total: seen.append((done, total)))
    total = 2 * MiB + 100 + 5000
    assert seen[-1] == (total, total)
    assert all(t == total for _, t in seen)
    assert len(seen) > 3


def test_no_part_starts_on_an_expiring_certificate_and_the_upload_is_aborted(
    cloud: Any, open_uploads: Callable[[Any], list[Any]], data_dir: Path, make_file: Callable[[Path, int], Path]
) -> None:
    media = make_file(data_dir / "v.mp4", 4 * MiB)
    client = small_parts(VodUploadClient(cloud.secret_id, cloud.secret_key))
    client.cert_margin_s = 60
    calls = {"n": 0}
    real_time = __import__("time").time

    def clock() -> float:
        calls["n"] += 1
        return real_time() if calls["n"] <= 2 else real_time() + 10 * 365 * 86400

    client.clock = clock
    client_request = VodUploadRequest()
    client_request.MediaFilePath = str(media)
    client_request.ConcurrentUploadNumber = 1
    with pytest.raises(CertificateExpiringError) as caught:
        client.upload("ap-guangzhou", client_request)
    assert "expires" in str(caught.value)
    assert open_uploads(cloud) == []
    assert any(r.action == "AbortMultipartUpload" for r in cloud.requests)
