"""Faults: throttling and 5xx on every call are retried with backoff; a permanent failure aborts the upload."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from vodflow import VodUploadClient, VodUploadRequest
from vodflow.errors import VodServiceError
from vodflow.planner import MiB, PlanConfig
from vodflow.retry import RetryPolicy


@pytest.fixture
def video(data_dir: Path, make_file: Callable[[Path, int], Path]) -> Path:
    """3.5 MiB: four parts with the test plan below."""
    return make_file(data_dir / "faulty.mp4", 3 * MiB + MiB // 2)


def client_for(cloud: Any, sleeps: list[float]) -> VodUploadClient:
    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    client.retry = RetryPolicy(max_attempts=4, base_delay=0.5, sleep=sleeps.append)
    client.plan_config = PlanConfig(inline_threshold=MiB, preferred_part_size=MiB)
    return client


def upload(client: VodUploadClient, path: Path) -> Any:
    request = VodUploadRequest()
    request.MediaFilePath = str(path)
    request.ConcurrentUploadNumber = 2
    return client.upload("ap-guangzhou", request)


@pytest.mark.parametrize(
    ("service", "action", "fault"),
    [
        ("vod", "ApplyUpload", {"code": "RequestLimitExceeded", "status": 200}),
        ("vod", "ApplyUpload", {"code": "RequestLimitExceeded.UinLimitExceeded", "status": 200}),
        ("vod", "ApplyUpload", {"code": "InternalError", "status": 200}),
        ("vod", "ApplyUpload", {"status": 503}),
        ("vod", "ApplyUpload", {"drop": True}),
        ("vod", "ApplyUpload", {"timeout": True}),
        ("cos", "InitiateMultipartUpload", {"code": "SlowDown", "status": 503}),
        ("cos", "UploadPart", {"code": "SlowDown", "status": 503}),
        ("cos", "UploadPart", {"code": "InternalError", "status": 500}),
        ("cos", "UploadPart", {"drop": True}),
        ("cos", "UploadPart", {"timeout": True}),
        ("cos", "CompleteMultipartUpload", {"code": "SlowDown", "status": 503}),
        ("cos", "CompleteMultipartUpload", {"code": "InternalError", "status": 500}),
        ("cos", "CompleteMultipartUpload", {"error_body": True}),
        ("vod", "CommitUpload", {"code": "RequestLimitExceeded", "status": 200}),
        ("vod", "CommitUpload", {"code": "InternalError", "status": 200}),
        ("vod", "CommitUpload", {"status": 502}),
        ("vod", "CommitUpload", {"drop": True}),
    ],
)
def test_transient_fault_is_retried_and_the_upload_succeeds(
    cloud: Any, open_uploads: Callable[[Any], list[Any]], video: Path, service: str, action: str, fault: dict[str, Any]
) -> None:
    cloud.faults.inject(service=service, action=action, times=2, **fault)
    sleeps: list[float] = []
    response = upload(client_for(cloud, sleeps), video)
    assert response.FileId
    assert len(sleeps) == 2  # one backoff per injected failure
    injected = [r for r in cloud.requests if r.service == service and r.action == action and r.fault]
    assert len(injected) == 2
    assert requests.get(response.MediaUrl, timeout=30).content == video.read_bytes()
    assert open_uploads(cloud) == []


def test_permanent_part_failure_aborts_the_multipart_upload(
    cloud: Any, open_uploads: Callable[[Any], list[Any]], video: Path
) -> None:
    cloud.faults.inject(service="cos", action="UploadPart", code="SlowDown", status=503, times=None)
    sleeps: list[float] = []
    with pytest.raises(VodServiceError) as caught:
        upload(client_for(cloud, sleeps), video)
    assert caught.value.code == "SlowDown"
    assert caught.value.request_id
    assert open_uploads(cloud) == []
    assert any(r.action == "AbortMultipartUpload" for r in cloud.requests)
    assert not any(r.action == "CommitUpload" for r in cloud.requests)


def test_client_error_on_a_part_is_not_retried_and_aborts(
    cloud: Any, open_uploads: Callable[[Any], list[Any]], video: Path
) -> None:
    cloud.faults.inject(service="cos", action="UploadPart", code="AccessDenied", status=403, times=1)
    sleeps: list[float] = []
    with pytest.raises(VodServiceError) as caught:
        upload(client_for(cloud, sleeps), video)
    assert caught.value.code == "AccessDenied"
    assert open_uploads(cloud) == []


def test_permanent_complete_failure_aborts_and_never_commits(
    cloud: Any, open_uploads: Callable[[Any], list[Any]], video: Path
) -> None:
    cloud.faults.inject(service="cos", action="CompleteMultipartUpload", error_body=True, times=None)
    sleeps: list[float] = []
    with pytest.raises(VodServiceError) as caught:
        upload(client_for(cloud, sleeps), video)
    assert "200 with an error body" in caught.value.message
    assert open_uploads(cloud) == []
    assert not any(r.action == "CommitUpload" for r in cloud.requests)
