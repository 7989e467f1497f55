"""Bytes damaged on the way to COS: the part's CRC64 check catches it, the part is sent again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from vodflow import VodUploadClient, VodUploadRequest
from vodflow.errors import IntegrityError
from vodflow.retry import RetryPolicy


def client_for(cloud: Any) -> VodUploadClient:
    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    client.retry = RetryPolicy(max_attempts=4, base_delay=0.001)
    return client


def request_for(path: Path) -> VodUploadRequest:
    request = VodUploadRequest()
    request.MediaFilePath = str(path)
    return request


def test_a_part_damaged_once_in_transit_is_sent_again_and_the_media_is_whole(
    cloud: Any, data_dir: Path, make_file: Any
) -> None:
    media = make_file(data_dir / "damaged.mp4", 20 * 1024 * 1024)
    fault = cloud.faults.inject("cos", "UploadPart", corrupt=True, times=1)
    response = client_for(cloud).upload("ap-guangzhou", request_for(media))
    assert fault.fired == 1
    assert requests.get(response.MediaUrl, timeout=30).content == media.read_bytes()


def test_bytes_damaged_on_every_attempt_fail_with_the_crc_and_leave_nothing_open(
    cloud: Any, data_dir: Path, make_file: Any
) -> None:
    media = make_file(data_dir / "always.mp4", 20 * 1024 * 1024)
    cloud.faults.inject("cos", "UploadPart", corrupt=True, times=None)
    with pytest.raises(IntegrityError) as info:
        client_for(cloud).upload("ap-guangzhou", request_for(media))
    assert info.value.code == "FailedOperation.IntegrityCheck"
    assert cloud.vod.all_media() == []
    buckets = [b.name for b in cloud.cos.list_buckets()]
    assert all(cloud.cos.list_multipart_uploads(b) == [] for b in buckets)


def test_a_small_file_damaged_once_is_put_again(cloud: Any, data_dir: Path, make_file: Any) -> None:
    media = make_file(data_dir / "small.mp4", 100_000)
    cloud.faults.inject("cos", "PutObject", corrupt=True, times=1)
    response = client_for(cloud).upload("ap-guangzhou", request_for(media))
    assert requests.get(response.MediaUrl, timeout=30).content == media.read_bytes()
