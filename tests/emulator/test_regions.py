"""API 3.0 regions are real: an unknown ``X-TC-Region`` is refused with the common error ``UnsupportedRegion``
before anything changes; CAM takes no region; STS needs one. Through the unmodified SDK clients, both fronts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest
from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.cam.v20190116.cam_client import CamClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.sts.v20180813 import models as sts_models
from tencentcloud.sts.v20180813.sts_client import StsClient
from tencentcloud.vod.v20180717 import models as vod_models
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator.core.regions import (
    API_REGIONS,
    UNSUPPORTED_REGION,
    VOD_STORAGE_REGIONS,
    is_api_region,
    is_vod_storage_region,
)
from tests.emulator.conftest import MODES, Endpoint, open_endpoint

UNKNOWN = ("ap-atlantis", "AP-GUANGZHOU", "ap-guangzhou-3", "guangzhou", "us-east-1")


@pytest.fixture(params=MODES)
def ep(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    yield from open_endpoint(request.param, tmp_path_factory.mktemp("regions"))


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    assert info.value.get_request_id(), "an API error carries a RequestId"
    return str(info.value.get_code())


def vod(ep: Endpoint, region: str) -> VodClient:
    return VodClient(ep.credential(), region, ep.tc_profile())


def apply_upload(ep: Endpoint, region: str) -> Any:
    req = vod_models.ApplyUploadRequest()
    req.MediaType = "mp4"
    return vod(ep, region).ApplyUpload(req)


def federation(ep: Endpoint, region: str) -> Any:
    req = sts_models.GetFederationTokenRequest()
    req.Name = "uploader"
    req.Policy = '{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*"}]}'
    return StsClient(ep.credential(), region, ep.tc_profile()).GetFederationToken(req)


# -- the list -------------------------------------------------------------------------------------


def test_the_region_list_has_the_documented_regions() -> None:
    for region in (
        "ap-guangzhou",
        "ap-shanghai",
        "ap-beijing",
        "ap-chengdu",
        "ap-chongqing",
        "ap-nanjing",
        "ap-hongkong",
        "ap-singapore",
        "ap-jakarta",
        "ap-tokyo",
        "ap-seoul",
        "ap-mumbai",
        "ap-bangkok",
        "na-siliconvalley",
        "na-ashburn",
        "na-toronto",
        "eu-frankfurt",
        "sa-saopaulo",
        "ap-shanghai-fsi",
        "ap-shenzhen-fsi",
        "ap-beijing-fsi",
    ):
        assert is_api_region(region), region
    for region in UNKNOWN:
        assert not is_api_region(region), region
    # VOD stores in the general regions and the documented zone-style names, not in the finance zones.
    assert {"ap-chongqing", "ap-guangzhou", "ap-beijing-1"} <= VOD_STORAGE_REGIONS
    assert not is_vod_storage_region("ap-shanghai-fsi") and not is_vod_storage_region("ap-atlantis")
    assert all(r in API_REGIONS or r in ("ap-beijing-1", "ap-guangzhou-2") for r in VOD_STORAGE_REGIONS)


# -- VOD: regional ----------------------------------------------------------------------------------


@pytest.mark.parametrize("region", UNKNOWN)
def test_vod_refuses_an_unknown_region_before_anything_changes(ep: Endpoint, region: str) -> None:
    buckets = set(ep.cloud.cos.buckets)
    assert error_code(lambda: apply_upload(ep, region)) == UNSUPPORTED_REGION
    assert ep.cloud.vod.sessions == {}
    assert ep.cloud.vod.all_media() == []
    assert set(ep.cloud.cos.buckets) == buckets  # not even the VOD storage bucket was created
    # The same for an action that needs no region: a region given must still be a real one.
    search = vod_models.SearchMediaRequest()
    assert error_code(lambda: vod(ep, region).SearchMedia(search)) == UNSUPPORTED_REGION


def test_vod_accepts_every_listed_region_and_still_needs_one_for_apply_upload(ep: Endpoint) -> None:
    for region in sorted(API_REGIONS):
        assert vod(ep, region).SearchMedia(vod_models.SearchMediaRequest()).TotalCount == 0, region
    assert apply_upload(ep, "ap-singapore").VodSessionKey  # any real region; storage stays the account's default
    # ApplyUpload's page lists Region as required (266/31767): no region at all is MissingParameter.
    assert error_code(lambda: apply_upload(ep, "")) == "MissingParameter"


def test_the_unsupported_region_message_names_the_region(ep: Endpoint) -> None:
    with pytest.raises(TencentCloudSDKException) as info:
        apply_upload(ep, "ap-atlantis")
    assert "ap-atlantis" in str(info.value.get_message())


# -- STS: regional, Region required ---------------------------------------------------------------


def test_sts_refuses_an_unknown_region_and_needs_one(ep: Endpoint) -> None:
    assert error_code(lambda: federation(ep, "ap-atlantis")) == UNSUPPORTED_REGION
    # GetFederationToken 1312/48195 and AssumeRole 598/33164 list Region as required ("是").
    assert error_code(lambda: federation(ep, "")) == "MissingParameter"
    assert ep.cloud.sts.issued == []
    assert federation(ep, "ap-shanghai").Credentials.Token


# -- CAM: global ------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["", "ap-guangzhou", "ap-atlantis"])
def test_cam_takes_no_region_and_ignores_one(ep: Endpoint, region: str) -> None:
    ep.cloud.cam.create_role("scf-runner")
    req = cam_models.GetRoleRequest()
    req.RoleName = "scf-runner"
    info = CamClient(ep.credential(), region, ep.tc_profile()).GetRole(req).RoleInfo
    assert info.RoleName == "scf-runner"
