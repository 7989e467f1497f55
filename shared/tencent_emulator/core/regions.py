"""Tencent Cloud regions: the API 3.0 ``Region`` values the emulator accepts, and VOD's storage regions.

Public API (other services import these; keep it small):

- ``API_REGIONS``: every region an API 3.0 request may name (``X-TC-Region`` or the ``Region`` parameter).
- ``is_api_region(region)``: whether ``region`` is one of them.
- ``VOD_STORAGE_REGIONS`` / ``is_vod_storage_region(region)``: the values VOD accepts as ``StorageRegion``.
- ``UNSUPPORTED_REGION``: the common error code for a region outside the list.

Sources (see FIDELITY.md, Core):

- The "Region List" of VOD's API 3.0 common-parameters page (tencentyun/intlcloud-documents
  ``API/API 3.0/视频服务/云点播/vod-2018-07-17/调用方式/公共参数_intl.md``): ap-bangkok, ap-beijing, ap-chengdu,
  ap-chongqing, ap-guangzhou, ap-guangzhou-open, ap-mumbai, ap-seoul, ap-shanghai, ap-shanghai-fsi,
  ap-shenzhen-fsi, ap-singapore, ap-tokyo, eu-frankfurt, eu-moscow, na-ashburn, na-siliconvalley, na-toronto.
- tencentcloud-sdk-python 3.1.195 ``cvm/v20170312/models.py`` ``ZoneInfo.Zone`` ("全网可用区名称如下", line 23581):
  its zones add ap-hongkong, ap-nanjing, sa-saopaulo, ap-jakarta.
- The same SDK's ``cls/v20201016/models.py`` ``TopicIdAndRegion.RegionId`` list (line ~60189): adds ap-beijing-fsi.
- STS AssumeRole page 598/35840 (2020 version, "This API only supports: ..."): adds ap-hangzhou-ec, ap-jinan-ec,
  ap-taipei, ap-tianjin.
- The common error code ``UnsupportedRegion`` ("API does not support the passing region"; 接口不支持所传地域):
  the API 3.0 "返回结果" page (``…/vod-2018-07-17/调用方式/返回结果_intl.md``).
"""

from __future__ import annotations

UNSUPPORTED_REGION = "UnsupportedRegion"

API_REGIONS: frozenset[str] = frozenset(
    {
        # Chinese mainland
        "ap-guangzhou",
        "ap-guangzhou-open",
        "ap-shanghai",
        "ap-nanjing",
        "ap-beijing",
        "ap-tianjin",
        "ap-chengdu",
        "ap-chongqing",
        "ap-hangzhou-ec",
        "ap-jinan-ec",
        # finance zones
        "ap-shanghai-fsi",
        "ap-shenzhen-fsi",
        "ap-beijing-fsi",
        # Hong Kong, Macao, Taiwan
        "ap-hongkong",
        "ap-taipei",
        # elsewhere
        "ap-singapore",
        "ap-jakarta",
        "ap-bangkok",
        "ap-tokyo",
        "ap-seoul",
        "ap-mumbai",
        "na-siliconvalley",
        "na-ashburn",
        "na-toronto",
        "eu-frankfurt",
        "eu-moscow",
        "sa-saopaulo",
    }
)

# VOD storage regions. The stored copy of VOD's "已支持地域列表" (媒体上传综述, tencentyun/intlcloud-documents
# ``yehe_doc/视频服务/云点播/开发指南/媒体上传/媒体上传综述_intl_*.md``) lists ap-beijing, ap-shanghai, ap-chongqing and
# ap-beijing-1 (Tianjin); the ApplyUpload sample reply (page 266/34120) answers "ap-guangzhou-2". The current,
# longer list (page 266/9760) was not available: every general API region (not the finance, "-open" or "-ec"
# ones) is accepted as well. ⚠ unverified beyond the four listed regions.
_VOD_LISTED = frozenset({"ap-beijing", "ap-shanghai", "ap-chongqing", "ap-beijing-1", "ap-guangzhou-2"})
VOD_STORAGE_REGIONS: frozenset[str] = _VOD_LISTED | frozenset(
    r for r in API_REGIONS if not (r.endswith("-fsi") or r.endswith("-open") or r.endswith("-ec"))
)


def is_api_region(region: str) -> bool:
    """Whether ``region`` is an API 3.0 region (exact, case-sensitive: the SDKs send it as given)."""
    return region in API_REGIONS


def is_vod_storage_region(region: str) -> bool:
    """Whether ``region`` is a region VOD can store media in (enabled for the account or not)."""
    return region in VOD_STORAGE_REGIONS
