"""VOD API 3.0 through tencentcloud-sdk-python, in-process and over the HTTP server: same answers, same refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator import Cloud
from tencent_emulator.core.server import EmulatorServer
from tests.emulator.conftest import MODES, open_endpoint

REGION = "ap-guangzhou"


@dataclass
class Env:
    cloud: Cloud
    server: Optional[EmulatorServer]

    def vod(self, cred: Any = None, region: str = REGION) -> VodClient:
        profile = None
        if self.server is not None:
            profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{self.server.port}"))
        return VodClient(cred or credential.Credential(self.cloud.secret_id, self.cloud.secret_key), region, profile)

    def cos(self, cert: Any, region: str = REGION) -> CosS3Client:
        conf: dict[str, Any] = {
            "Region": region,
            "SecretId": cert.SecretId,
            "SecretKey": cert.SecretKey,
            "Token": cert.Token,
        }
        if self.server is not None:
            conf.update(IP="127.0.0.1", Port=self.server.port, Scheme="http")
        return CosS3Client(CosConfig(**conf))

    def get(self, url: str, **headers: str) -> requests.Response:
        proxies = {"http": self.server.url} if self.server else None
        return requests.get(url, headers=headers, proxies=proxies)

    def post_raw(self, action: str, params: dict[str, Any]) -> None:
        _post(self, action, params)

    def call(self, action: str, cred: Any = None, **params: Any) -> Any:
        """Send ``action`` with ``params`` through the SDK's model classes."""
        req = getattr(models, f"{action}Request")()
        req.from_json_string(json.dumps(params))
        return getattr(self.vod(cred), action)(req)


@pytest.fixture(params=MODES)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    for endpoint in open_endpoint(request.param, tmp_path_factory.mktemp("vod")):
        yield Env(endpoint.cloud, endpoint.server)


def error_code(call: Any) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    assert info.value.get_request_id(), "API errors carry a RequestId"
    return str(info.value.get_code())


def upload(env: Env, body: bytes = b"video-bytes", cover: Optional[bytes] = None, **apply: Any) -> tuple[Any, Any]:
    """ApplyUpload, PUT with the TempCertificate, CommitUpload: (apply response, commit response)."""
    fields = {"MediaType": "mp4", **apply}
    if cover is not None:
        fields.setdefault("CoverType", "jpg")
    applied = env.call("ApplyUpload", **fields)
    cos = env.cos(applied.TempCertificate, applied.StorageRegion)
    cos.put_object(Bucket=applied.StorageBucket, Key=applied.MediaStoragePath[1:], Body=body)
    if cover is not None:
        cos.put_object(Bucket=applied.StorageBucket, Key=applied.CoverStoragePath[1:], Body=cover)
    commit_params: dict[str, Any] = {"VodSessionKey": applied.VodSessionKey}
    if "SubAppId" in apply:
        commit_params["SubAppId"] = apply["SubAppId"]
    return applied, env.call("CommitUpload", **commit_params)


# -- ApplyUpload ------------------------------------------------------------------------------


def test_apply_upload_hands_out_a_vod_bucket_paths_and_a_scoped_certificate(env: Env) -> None:
    applied = env.call("ApplyUpload", MediaType="MP4", MediaName="clip", CoverType="png")

    assert applied.StorageBucket.endswith(f"-{env.cloud.app_id}")
    assert applied.StorageRegion == REGION
    assert applied.MediaStoragePath.startswith("/") and applied.MediaStoragePath.endswith(".mp4")
    directory = applied.MediaStoragePath.rsplit("/", 1)[0]
    assert applied.CoverStoragePath.startswith(directory + "/") and applied.CoverStoragePath.endswith(".png")
    cert = applied.TempCertificate
    assert cert.SecretId and cert.SecretKey and cert.Token
    assert 0 < cert.ExpiredTime - env.cloud.clock.now() <= env.cloud.vod.certificate_lifetime_s + 1
    assert env.cloud.cos.get_bucket(applied.StorageBucket).region == REGION


def test_without_a_cover_the_cover_path_is_null(env: Env) -> None:
    assert env.call("ApplyUpload", MediaType="mp3").CoverStoragePath is None


def test_the_certificate_only_writes_inside_its_session_directory(env: Env) -> None:
    applied = env.call("ApplyUpload", MediaType="m3u8")
    cos = env.cos(applied.TempCertificate)
    directory = applied.MediaStoragePath[1:].rsplit("/", 1)[0]

    cos.put_object(Bucket=applied.StorageBucket, Key=f"{directory}/sub/seg0.ts", Body=b"segment")
    for key in ("elsewhere/f0.mp4", directory.rsplit("/", 1)[0] + "/other/f0.mp4"):
        with pytest.raises(CosServiceError) as denied:
            cos.put_object(Bucket=applied.StorageBucket, Key=key, Body=b"x")
        assert denied.value.get_error_code() == "AccessDenied"
    other = env.call("ApplyUpload", MediaType="mp4")
    with pytest.raises(CosServiceError) as denied:  # another session's directory
        cos.put_object(Bucket=other.StorageBucket, Key=other.MediaStoragePath[1:], Body=b"x")
    assert denied.value.get_error_code() == "AccessDenied"


def test_an_expired_certificate_is_refused_by_cos(env: Env) -> None:
    applied = env.call("ApplyUpload", MediaType="mp4")
    env.cloud.clock.advance(env.cloud.vod.certificate_lifetime_s + 1)
    with pytest.raises(CosServiceError) as refused:
        env.cos(applied.TempCertificate).put_object(
            Bucket=applied.StorageBucket, Key=applied.MediaStoragePath[1:], Body=b"late"
        )
    # COS's error table: "ExpiredToken 400 - The temporary key token has expired" (wire-shapes.md §1.1).
    assert (refused.value.get_status_code(), refused.value.get_error_code()) == (400, "ExpiredToken")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"MediaType": "exe"}, "InvalidParameterValue.MediaType"),
        ({"MediaType": "mp4", "CoverType": "svg"}, "InvalidParameterValue.CoverType"),
        ({"MediaType": "mp4", "ExpireTime": "tomorrow"}, "InvalidParameter.ExpireTime"),
        ({"MediaType": "mp4", "ExpireTime": "2001-01-01T00:00:00Z"}, "InvalidParameterValue.ExpireTime"),
        # A VOD storage region the account has not enabled, and a region VOD does not have (errorcodes.py:
        # both are "参数值错误: 存储地域"; InvalidParameter.* for the first, InvalidParameterValue.* for the second).
        ({"MediaType": "mp4", "StorageRegion": "ap-tokyo"}, "InvalidParameter.StorageRegion"),
        ({"MediaType": "mp4", "StorageRegion": "mars-olympus"}, "InvalidParameterValue.StorageRegion"),
        ({"MediaType": "mp4", "StorageRegion": "ap-shanghai-fsi"}, "InvalidParameterValue.StorageRegion"),
        ({"MediaType": "mp4", "SubAppId": 404}, "InvalidParameterValue.SubAppId"),
        ({"MediaType": "mp4", "ClassId": 77}, "InvalidParameterValue.ClassId"),
        ({"MediaType": "mp4", "Procedure": "NoSuchFlow"}, "InvalidParameterValue.Procedure"),
        ({"MediaType": "mp4", "SourceContext": "s" * 251}, "InvalidParameterValue"),
        ({"MediaType": "mp4", "SessionContext": "s" * 1001}, "InvalidParameterValue.SessionContextTooLong"),
        ({"MediaType": "mp4", "MediaStoragePath": "/mine/a.mp4"}, "InvalidParameterValue.MediaStoragePath"),
        ({"MediaName": "no type"}, "MissingParameter"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_apply_upload_validation(env: Env, fields: dict[str, Any], code: str) -> None:
    assert error_code(lambda: env.call("ApplyUpload", **fields)) == code


def test_what_the_account_has_configured_is_accepted(env: Env) -> None:
    vod = env.cloud.vod
    vod.add_sub_app(1500000001)
    vod.add_storage_region("ap-chongqing")
    vod.add_procedure("Transcode", sub_app_id=1500000001)
    vod.add_class(3, sub_app_id=1500000001, name="Sports")
    applied, committed = upload(
        env,
        SubAppId=1500000001,
        StorageRegion="ap-chongqing",
        Procedure="Transcode",
        ClassId=3,
        ExpireTime="2099-01-01T00:00:00+08:00",
        SourceContext="s" * 250,
        SessionContext="c" * 1000,
        ExtInfo="x",
    )
    assert applied.StorageRegion == "ap-chongqing"
    media = vod.media(committed.FileId)
    assert media is not None and media.procedure == "Transcode" and media.procedure_task_id
    assert media.sub_app_id == 1500000001
    # Procedures and classes belong to their sub-app: the main app does not have them.
    assert error_code(lambda: env.call("ApplyUpload", MediaType="mp4", Procedure="Transcode")) == (
        "InvalidParameterValue.Procedure"
    )


def test_an_unknown_storage_region_changes_nothing_and_cannot_be_enabled(env: Env) -> None:
    before = set(env.cloud.vod.sessions)
    assert error_code(lambda: env.call("ApplyUpload", MediaType="mp4", StorageRegion="ap-atlantis")) == (
        "InvalidParameterValue.StorageRegion"
    )
    assert set(env.cloud.vod.sessions) == before
    assert error_code(lambda: env.call("SearchMedia", StorageRegions=["ap-atlantis"])) == (
        "InvalidParameterValue.StorageRegions"
    )
    with pytest.raises(ValueError):
        env.cloud.vod.add_storage_region("ap-atlantis")


def test_unknown_parameters_and_wrong_types_are_refused(env: Env) -> None:
    assert error_code(lambda: env.post_raw("ApplyUpload", {"MediaType": "mp4", "Bogus": 1})) == "UnknownParameter"
    assert error_code(lambda: env.post_raw("ApplyUpload", {"MediaType": "mp4", "SubAppId": "7"})) == "InvalidParameter"
    assert error_code(lambda: env.post_raw("CommitUpload", {"SubAppId": 7})) == "MissingParameter"


# -- CommitUpload -----------------------------------------------------------------------------


def test_commit_returns_a_numeric_file_id_and_urls_on_the_media_host(env: Env) -> None:
    applied, committed = upload(env, cover=b"jpeg")
    assert committed.FileId.isdigit() and len(committed.FileId) >= 17
    assert committed.MediaUrl == f"http://{env.cloud.app_id}.vod2.myqcloud.com{applied.MediaStoragePath}"
    assert committed.CoverUrl == f"http://{env.cloud.app_id}.vod2.myqcloud.com{applied.CoverStoragePath}"
    assert env.get(committed.MediaUrl).content == b"video-bytes"
    assert env.get(committed.CoverUrl).content == b"jpeg"


def test_commit_refusals(env: Env) -> None:
    assert (
        error_code(lambda: env.call("CommitUpload", VodSessionKey="made-up")) == "InvalidParameterValue.VodSessionKey"
    )

    nothing_uploaded = env.call("ApplyUpload", MediaType="mp4")
    assert error_code(lambda: env.call("CommitUpload", VodSessionKey=nothing_uploaded.VodSessionKey)) == (
        "ResourceNotFound"
    )

    no_cover = env.call("ApplyUpload", MediaType="mp4", CoverType="jpg")
    env.cos(no_cover.TempCertificate).put_object(
        Bucket=no_cover.StorageBucket, Key=no_cover.MediaStoragePath[1:], Body=b"v"
    )
    assert error_code(lambda: env.call("CommitUpload", VodSessionKey=no_cover.VodSessionKey)) == "ResourceNotFound"

    env.cloud.vod.add_sub_app(1500000002)
    assert error_code(lambda: env.call("CommitUpload", VodSessionKey=no_cover.VodSessionKey, SubAppId=1500000002)) == (
        "InvalidParameterValue.SubAppId"
    )


def test_a_session_expires(env: Env) -> None:
    applied = env.call("ApplyUpload", MediaType="mp4")
    env.cos(applied.TempCertificate).put_object(
        Bucket=applied.StorageBucket, Key=applied.MediaStoragePath[1:], Body=b"v"
    )
    env.cloud.clock.advance(env.cloud.vod.session_lifetime_s + 1)
    assert error_code(lambda: env.call("CommitUpload", VodSessionKey=applied.VodSessionKey)) == (
        "InvalidParameterValue.VodSessionKey"
    )


def test_a_second_commit_is_refused_and_the_first_ones_media_is_found_instead(env: Env) -> None:
    applied, committed = upload(env, SourceContext="job-7")
    assert error_code(lambda: env.call("CommitUpload", VodSessionKey=applied.VodSessionKey)) == (
        "InvalidParameterValue.VodSessionKey"
    )
    found = env.call("SearchMedia", FileIds=[committed.FileId])
    assert found.TotalCount == 1
    assert found.MediaInfoSet[0].BasicInfo.SourceInfo.SourceContext == "job-7"


# -- DescribeMediaInfos / SearchMedia / DeleteMedia -------------------------------------------


def test_describe_media_infos_reports_basic_info_metadata_and_unknown_ids(env: Env) -> None:
    env.cloud.vod.add_class(5, name="Films")
    env.cloud.vod.add_class(6, name="Shorts", parent_id=5)
    _, committed = upload(env, body=b"x" * 1234, cover=b"c", MediaName="trailer", ClassId=6, SourceContext="ctx")

    rsp = env.call("DescribeMediaInfos", FileIds=[committed.FileId, "1234567890123456789"])

    assert rsp.NotExistFileIdSet == ["1234567890123456789"]
    (info,) = rsp.MediaInfoSet
    basic = info.BasicInfo
    assert (basic.Name, basic.Type, basic.ClassId, basic.ClassName, basic.ClassPath) == (
        "trailer",
        "mp4",
        6,
        "Shorts",
        "Films-Shorts",
    )
    assert basic.MediaUrl == committed.MediaUrl and basic.CoverUrl == committed.CoverUrl
    assert basic.ExpireTime == "9999-12-31T23:59:59Z"
    assert (basic.SourceInfo.SourceType, basic.SourceInfo.SourceContext) == ("Upload", "ctx")
    assert (basic.StorageRegion, basic.Vid, basic.Category, basic.Status) == (
        REGION,
        committed.FileId,
        "Video",
        "Normal",
    )
    assert basic.StorageClass == "STANDARD" and basic.TagSet == []
    assert info.MetaData.Size == 1234

    only_meta = env.call("DescribeMediaInfos", FileIds=[committed.FileId], Filters=["metaData"]).MediaInfoSet[0]
    assert only_meta.BasicInfo is None and only_meta.MetaData.Size == 1234


def test_describe_media_infos_refusals(env: Env) -> None:
    assert error_code(lambda: env.call("DescribeMediaInfos", FileIds=[])) == "InvalidParameterValue.FileIdsEmpty"
    too_many = [str(10**18 + i) for i in range(21)]
    assert (
        error_code(lambda: env.call("DescribeMediaInfos", FileIds=too_many)) == "InvalidParameterValue.FileIdsTooMany"
    )
    assert error_code(lambda: env.call("DescribeMediaInfos", FileIds=["1"], Filters=["x"])) == "InvalidParameterValue"


def test_media_of_another_sub_app_is_not_visible(env: Env) -> None:
    env.cloud.vod.add_sub_app(1500000003)
    _, committed = upload(env, SubAppId=1500000003)
    assert env.call("DescribeMediaInfos", FileIds=[committed.FileId]).NotExistFileIdSet == [committed.FileId]
    assert env.call("DescribeMediaInfos", FileIds=[committed.FileId], SubAppId=1500000003).MediaInfoSet
    assert env.call("SearchMedia").TotalCount == 0
    assert env.call("SearchMedia", SubAppId=1500000003).TotalCount == 1


def test_search_media_filters_sorts_and_pages(env: Env) -> None:
    env.cloud.vod.add_storage_region("ap-shanghai")
    ids = []
    for name, region in [("cat video", REGION), ("dog video", REGION), ("Cat show", "ap-shanghai")]:
        ids.append(upload(env, MediaName=name, StorageRegion=region)[1].FileId)
        env.cloud.clock.advance(10)

    newest_first = env.call("SearchMedia")
    assert newest_first.TotalCount == 3
    assert [m.FileId for m in newest_first.MediaInfoSet] == ids[::-1]
    oldest_first = env.call("SearchMedia", Sort={"Field": "CreateTime", "Order": "Asc"}, Offset=1, Limit=1)
    assert oldest_first.TotalCount == 3 and [m.FileId for m in oldest_first.MediaInfoSet] == [ids[1]]
    assert {m.FileId for m in env.call("SearchMedia", Names=["cat"]).MediaInfoSet} == {ids[0], ids[2]}
    assert [m.FileId for m in env.call("SearchMedia", NamePrefixes=["dog"]).MediaInfoSet] == [ids[1]]
    assert [m.FileId for m in env.call("SearchMedia", StorageRegions=["ap-shanghai"]).MediaInfoSet] == [ids[2]]
    assert env.call("SearchMedia", SourceTypes=["Record"]).TotalCount == 0
    assert env.call("SearchMedia", ClassIds=[0]).TotalCount == 3


def test_search_media_create_time_window_is_after_inclusive_before_exclusive(env: Env) -> None:
    first = upload(env)[1].FileId
    created = env.call("DescribeMediaInfos", FileIds=[first]).MediaInfoSet[0].BasicInfo.CreateTime
    hit = env.call("SearchMedia", CreateTime={"After": created})
    miss = env.call("SearchMedia", CreateTime={"Before": created})
    assert [m.FileId for m in hit.MediaInfoSet] == [first] and miss.TotalCount == 0


def test_search_media_refusals(env: Env) -> None:
    assert error_code(lambda: env.call("SearchMedia", Sort={"Field": "Name", "Order": "Asc"})) == (
        "InvalidParameterValue.Sort"
    )
    assert error_code(lambda: env.call("SearchMedia", Offset=4990, Limit=20)) == "InvalidParameterValue.LimitTooLarge"
    assert error_code(lambda: env.call("SearchMedia", Names=[str(i) for i in range(11)])) == (
        "InvalidParameterValue.Names"
    )


def test_delete_media_removes_the_record_and_the_stored_objects(env: Env) -> None:
    applied, committed = upload(env, cover=b"c")
    bucket, directory = applied.StorageBucket, applied.MediaStoragePath[1:].rsplit("/", 1)[0]

    env.call("DeleteMedia", FileId=committed.FileId)

    assert env.call("DescribeMediaInfos", FileIds=[committed.FileId]).NotExistFileIdSet == [committed.FileId]
    assert env.cloud.cos.list_objects(bucket, prefix=directory).contents == []
    assert env.get(committed.MediaUrl).status_code == 404
    assert error_code(lambda: env.call("DeleteMedia", FileId=committed.FileId)) == "ResourceNotFound.FileNotExist"


def test_media_past_its_expire_time_is_gone(env: Env) -> None:
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(env.cloud.clock.now() + 3600))
    _, committed = upload(env, ExpireTime=soon)
    assert env.call("SearchMedia").TotalCount == 1
    env.cloud.clock.advance(3601)
    assert env.call("SearchMedia").TotalCount == 0
    assert env.get(committed.MediaUrl).status_code == 404


# -- the media host ---------------------------------------------------------------------------


def test_media_host_ranges(env: Env) -> None:
    _, committed = upload(env, body=bytes(range(256)) * 4)
    whole = env.get(committed.MediaUrl)
    assert (whole.status_code, whole.headers["Accept-Ranges"], len(whole.content)) == (200, "bytes", 1024)
    tail = env.get(committed.MediaUrl, Range="bytes=-4")
    assert (tail.status_code, tail.content, tail.headers["Content-Range"]) == (
        206,
        bytes(range(252, 256)),
        "bytes 1020-1023/1024",
    )
    assert env.get(committed.MediaUrl, Range="bytes=2000-").status_code == 416
    assert env.get(committed.MediaUrl.rsplit("/", 1)[0] + "/missing.ts").status_code == 404


# -- signatures and keys ----------------------------------------------------------------------


def test_wrong_signature_wrong_token_and_unknown_key(env: Env) -> None:
    bad = credential.Credential(env.cloud.secret_id, "wrong-secret-key")
    assert error_code(lambda: env.call("SearchMedia", bad)) == "AuthFailure.SignatureFailure"
    cert = env.call("ApplyUpload", MediaType="mp4").TempCertificate
    forged = credential.Credential(cert.SecretId, cert.SecretKey, "forged")
    assert error_code(lambda: env.call("SearchMedia", forged)) == "AuthFailure.TokenFailure"
    unknown = credential.Credential("AKIDnotakeyatallnotakeyatall00000", "k")
    assert error_code(lambda: env.call("SearchMedia", unknown)) == "AuthFailure.SecretIdNotFound"


def test_the_upload_certificate_cannot_call_the_vod_api(env: Env) -> None:
    cert = env.call("ApplyUpload", MediaType="mp4").TempCertificate
    as_cert = credential.Credential(cert.SecretId, cert.SecretKey, cert.Token)
    assert error_code(lambda: env.call("SearchMedia", as_cert)) == "AuthFailure.UnauthorizedOperation"


def test_region_is_required_for_apply_and_commit(env: Env) -> None:
    req = models.ApplyUploadRequest()
    req.MediaType = "mp4"
    assert error_code(lambda: env.vod(region="").ApplyUpload(req)) == "MissingParameter"


def _post(env: Env, action: str, params: dict[str, Any]) -> None:
    """A hand-signed TC3 request (the SDK cannot send an unknown parameter); raises like the SDK does."""
    body = json.dumps(params).encode()
    ts = int(time.time())
    date = time.strftime("%Y-%m-%d", time.gmtime(ts))
    host = "vod.tencentcloudapi.com"
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:application/json\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{date}/vod/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = mac(mac(mac(("TC3" + env.cloud.secret_key).encode(), date), "vod"), "tc3_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": "2018-07-17",
        "X-TC-Timestamp": str(ts),
        "X-TC-Region": REGION,
        "Authorization": f"TC3-HMAC-SHA256 Credential={env.cloud.secret_id}/{date}/vod/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}",
    }
    url = f"{env.server.url}/" if env.server else f"https://{host}/"
    reply = requests.post(url, data=body, headers=headers).json()["Response"]
    if "Error" in reply:
        raise TencentCloudSDKException(reply["Error"]["Code"], reply["Error"]["Message"], reply["RequestId"])
