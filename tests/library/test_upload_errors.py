"""Each error code on the SDK page, provoked for real: from the emulated service, or by local validation first."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from vodflow import VodClientException, VodUploadClient, VodUploadRequest
from vodflow.errors import VodServiceError, VodValidationError
from vodflow.retry import RetryPolicy


def client_for(cloud: Any) -> VodUploadClient:
    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    client.retry = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    return client


def request_for(path: Path, **fields: Any) -> VodUploadRequest:
    request = VodUploadRequest()
    request.MediaFilePath = str(path)
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def vod_calls(cloud: Any) -> list[Any]:
    return [r for r in cloud.requests if r.service == "vod"]


@pytest.fixture
def reply_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The RequestId of every VOD API reply, as the service sent it (read where tencentcloud receives it)."""
    seen: list[str] = []
    original = AbstractClient._call

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, *args, **kwargs)
        if response.status_code == 200:
            seen.append(json.loads(response.content)["Response"]["RequestId"])
        return response

    monkeypatch.setattr(AbstractClient, "_call", recording)
    return seen


def test_internal_error_from_apply_upload_comes_through_with_request_id(
    cloud: Any, wildlife: Path, reply_ids: list[str]
) -> None:
    cloud.faults.inject(service="vod", action="ApplyUpload", code="InternalError", status=200, times=None)
    with pytest.raises(VodServiceError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife))
    err = caught.value
    assert err.code == "InternalError"
    assert err.message
    assert err.request_id == reply_ids[-1]
    assert isinstance(err, TencentCloudSDKException)
    assert len(vod_calls(cloud)) == 3  # InternalError is retried, then reported unchanged


def test_unknown_sub_app_is_the_services_invalid_sub_app_id(cloud: Any, wildlife: Path, reply_ids: list[str]) -> None:
    with pytest.raises(VodServiceError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife, SubAppId=999999))
    assert caught.value.code == "InvalidParameterValue.SubAppId"
    assert caught.value.message
    assert caught.value.request_id == reply_ids[-1]
    assert len(vod_calls(cloud)) == 1  # a client error is not retried


def test_expire_time_the_service_rejects(cloud: Any, wildlife: Path) -> None:
    client = client_for(cloud)
    client.ignore_check = True  # let the malformed value reach the service
    with pytest.raises(VodServiceError) as caught:
        client.upload("ap-guangzhou", request_for(wildlife, ExpireTime="not-a-time"))
    assert caught.value.code == "InvalidParameter.ExpireTime"
    assert caught.value.message
    assert caught.value.request_id


def test_bad_expire_time_is_caught_locally_before_any_request(cloud: Any, wildlife: Path) -> None:
    with pytest.raises(VodValidationError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife, ExpireTime="2030-13-01T00:00:00Z"))
    assert caught.value.code == "InvalidParameter.ExpireTime"
    assert caught.value.field == "ExpireTime"
    assert caught.value.request_id is None
    assert cloud.requests == []


def test_media_type_locally_and_from_the_service(cloud: Any, wildlife: Path) -> None:
    with pytest.raises(VodValidationError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife, MediaType="exe"))
    assert caught.value.code == "InvalidParameterValue.MediaType"
    assert cloud.requests == []
    client = client_for(cloud)
    client.ignore_check = True
    with pytest.raises(VodServiceError) as service:
        client.upload("ap-guangzhou", request_for(wildlife, MediaType="exe"))
    assert service.value.code == "InvalidParameterValue.MediaType"
    assert service.value.message
    assert service.value.request_id


def test_cover_type_locally_and_from_the_service(cloud: Any, wildlife: Path, data_dir: Path) -> None:
    cover = data_dir / "cover.exe"
    cover.write_bytes(b"not an image")
    with pytest.raises(VodValidationError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife, CoverFilePath=str(cover)))
    assert caught.value.code == "InvalidParameterValue.CoverType"
    assert cloud.requests == []
    client = client_for(cloud)
    client.ignore_check = True
    with pytest.raises(VodServiceError) as service:
        client.upload("ap-guangzhou", request_for(wildlife, CoverFilePath=str(cover)))
    assert service.value.code == "InvalidParameterValue.CoverType"
    assert service.value.message
    assert service.value.request_id


def test_invalid_session_key_on_commit(cloud: Any, wildlife: Path, reply_ids: list[str]) -> None:
    cloud.faults.inject(
        service="vod", action="CommitUpload", code="InvalidParameterValue.VodSessionKey", status=200, times=1
    )
    with pytest.raises(VodServiceError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife))
    assert caught.value.code == "InvalidParameterValue.VodSessionKey"
    assert caught.value.request_id == reply_ids[-1]
    assert caught.value.action == "CommitUpload"


def test_resource_not_found_on_commit(cloud: Any, wildlife: Path, reply_ids: list[str]) -> None:
    cloud.faults.inject(service="vod", action="CommitUpload", code="ResourceNotFound", status=200, times=1)
    with pytest.raises(VodServiceError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife))
    assert caught.value.code == "ResourceNotFound"
    assert caught.value.message
    assert caught.value.request_id == reply_ids[-1]


def test_missing_media_file_is_resource_not_found_before_any_request(cloud: Any, data_dir: Path) -> None:
    with pytest.raises(VodClientException) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(data_dir / "gone.mp4"))
    assert caught.value.code == "ResourceNotFound"
    assert "gone.mp4" in caught.value.message
    assert cloud.requests == []


def test_over_long_source_context_before_any_request(cloud: Any, wildlife: Path) -> None:
    with pytest.raises(VodValidationError) as caught:
        client_for(cloud).upload("ap-guangzhou", request_for(wildlife, SourceContext="x" * 251))
    assert caught.value.field == "SourceContext"
    assert cloud.requests == []


# -- what the library checks locally, before any request (the README says so) ------------------------
@pytest.mark.parametrize(
    ("case", "code", "says"),
    [
        ("empty", "InvalidParameterValue.MediaSize", "is empty"),
        ("directory", "InvalidParameter", "is a directory"),
        ("missing", "ResourceNotFound", "no such file"),
        ("past", "InvalidParameter.ExpireTime", "in the past"),
        ("region-format", "UnsupportedRegion", "not a region name"),
        ("region-unknown", "UnsupportedRegion", "not a Tencent Cloud API region"),
        ("unreadable", "InvalidParameter", "cannot be read"),
    ],
)
def test_local_checks_come_before_any_request(
    cloud: Any, wildlife: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, code: str, says: str
) -> None:
    region, request = "ap-guangzhou", request_for(wildlife)
    if case == "empty":
        (tmp_path / "empty.mp4").write_bytes(b"")
        request = request_for(tmp_path / "empty.mp4")
    elif case == "directory":
        (tmp_path / "clip.mp4").mkdir()
        request = request_for(tmp_path / "clip.mp4")
    elif case == "missing":
        request = request_for(tmp_path / "nope.mp4")
    elif case == "past":
        request = request_for(wildlife, ExpireTime="2020-01-01T00:00:00Z")
    elif case == "region-format":
        region = "Guangzhou"
    elif case == "region-unknown":
        region = "ap-atlantis"
    else:  # root reads anything: make the open fail as it does for a file without read permission
        real_open = os.open

        def refuse(path: Any, flags: int, *args: Any) -> int:
            if str(path) == str(wildlife):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args)

        monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(VodValidationError) as caught:
        client_for(cloud).upload(region, request)
    assert caught.value.code == code and says in caught.value.message, caught.value.message
    assert cloud.requests == []  # nothing was sent


def test_an_unknown_region_can_still_be_passed_with_ignore_check(cloud: Any, wildlife: Path) -> None:
    """A region newer than the library's list: ignore_check leaves it to the service (which refuses it here)."""
    client = client_for(cloud)
    client.ignore_check = True
    with pytest.raises(VodClientException) as caught:
        client.upload("ap-atlantis", request_for(wildlife))
    assert caught.value.code != "InvalidParameter.ExpireTime" and cloud.requests  # the service was asked


def test_the_library_knows_the_regions_the_emulator_knows() -> None:
    from tencent_emulator.core.regions import API_REGIONS
    from vodflow.model import KNOWN_REGIONS

    assert KNOWN_REGIONS == API_REGIONS
