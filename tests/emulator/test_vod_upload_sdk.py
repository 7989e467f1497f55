"""The official, unmodified vod-python-sdk uploads against ``mock_tencent()``; the bytes come back unchanged."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Optional
from urllib.parse import quote

import pytest
import requests
from qcloud_vod.model import VodUploadRequest
from qcloud_vod.vod_upload_client import VodUploadClient
from tencentcloud.common import credential
from tencentcloud.sts.v20180813 import models as sts_models
from tencentcloud.sts.v20180813.sts_client import StsClient
from tencentcloud.vod.v20180717 import models as vod_models
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator import Cloud, mock_tencent

REGION = "ap-guangzhou"
MiB = 1024 * 1024
# vod-python-sdk serialises its three local-path attributes under mangled names that tencentcloud drops.
pytestmark = pytest.mark.filterwarnings("ignore:.*fileds are useless:UserWarning")


@pytest.fixture
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with mock_tencent(data_dir=tmp_path_factory.mktemp("vod-sdk")) as c:
        yield c


def describe(cloud: Cloud, file_id: str) -> vod_models.MediaInfo:
    client = VodClient(credential.Credential(cloud.secret_id, cloud.secret_key), REGION)
    req = vod_models.DescribeMediaInfosRequest()
    req.FileIds = [file_id]
    rsp = client.DescribeMediaInfos(req)
    assert rsp.NotExistFileIdSet == []
    (info,) = rsp.MediaInfoSet
    return info


def upload(cloud: Cloud, media: Path, cover: Optional[Path] = None, **fields: object) -> object:
    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    req = VodUploadRequest()
    req.MediaFilePath = str(media)
    if cover is not None:
        req.CoverFilePath = str(cover)
    for name, value in fields.items():
        setattr(req, name, value)
    return client.upload(REGION, req)


def test_a_small_file_uploads_in_one_put_and_plays_back_byte_for_byte(cloud: Cloud, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    (tmp_path / "holiday.mp4").write_bytes(data)

    rsp = upload(cloud, tmp_path / "holiday.mp4")

    assert rsp.FileId.isdigit()  # type: ignore[attr-defined]
    assert rsp.MediaUrl.startswith(f"http://{cloud.app_id}.vod2.myqcloud.com/")  # type: ignore[attr-defined]
    assert rsp.CoverUrl is None  # type: ignore[attr-defined]
    assert requests.get(rsp.MediaUrl).content == data  # type: ignore[attr-defined]
    info = describe(cloud, rsp.FileId)  # type: ignore[attr-defined]
    assert info.BasicInfo.Name == "holiday"
    assert info.BasicInfo.Type == "mp4"
    assert info.BasicInfo.SourceInfo.SourceType == "Upload"
    assert info.MetaData.Size == len(data)
    counts = cloud.request_counts("cos")
    assert counts.get("cos:PutObject") == 1 and "cos:UploadPart" not in counts


def test_a_12_mib_file_goes_through_multipart_with_a_cover(cloud: Cloud, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB + 12345)
    (tmp_path / "big.mp4").write_bytes(data)
    (tmp_path / "poster.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(5000))

    rsp = upload(cloud, tmp_path / "big.mp4", tmp_path / "poster.jpg", SourceContext="job-42")

    counts = cloud.request_counts("cos")
    assert counts["cos:UploadPart"] == 13  # 1 MiB parts, the SDK default
    assert counts["cos:CompleteMultipartUpload"] == 1
    assert requests.get(rsp.MediaUrl).content == data  # type: ignore[attr-defined]
    assert requests.get(rsp.CoverUrl).content == (tmp_path / "poster.jpg").read_bytes()  # type: ignore[attr-defined]
    ranged = requests.get(rsp.MediaUrl, headers={"Range": "bytes=5000000-5000099"})  # type: ignore[attr-defined]
    assert ranged.status_code == 206
    assert ranged.content == data[5_000_000:5_000_100]
    info = describe(cloud, rsp.FileId)  # type: ignore[attr-defined]
    assert info.BasicInfo.CoverUrl == rsp.CoverUrl  # type: ignore[attr-defined]
    assert info.BasicInfo.SourceInfo.SourceContext == "job-42"
    assert info.MetaData.Size == len(data)


def write_hls(root: Path) -> dict[str, bytes]:
    """A master playlist, two variant playlists in subfolders, and their segments."""
    files: dict[str, bytes] = {
        "master.m3u8": (
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow/index.m3u8\n"
            b"#EXT-X-STREAM-INF:BANDWIDTH=2400000,RESOLUTION=1280x720\nhigh/index.m3u8\n"
        )
    }
    for variant in ("low", "high"):
        files[f"{variant}/index.m3u8"] = (
            b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n"
            b"#EXTINF:4.0,\nseg0.ts\n#EXTINF:4.0,\nseg1.ts\n#EXTINF:2.0,\nseg2.ts\n#EXT-X-ENDLIST\n"
        )
        for i in range(3):
            files[f"{variant}/seg{i}.ts"] = os.urandom(50_000 + i)
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    return files


def test_an_hls_package_uploads_and_every_segment_is_served_under_the_media_url(cloud: Cloud, tmp_path: Path) -> None:
    files = write_hls(tmp_path)

    rsp = upload(cloud, tmp_path / "master.m3u8")

    base = rsp.MediaUrl.rsplit("/", 1)[0]  # type: ignore[attr-defined]
    assert requests.get(rsp.MediaUrl).content == files["master.m3u8"]  # type: ignore[attr-defined]
    for rel, body in files.items():
        if rel != "master.m3u8":
            got = requests.get(f"{base}/{rel}")
            assert got.status_code == 200, rel
            assert got.content == body, rel
    assert cloud.request_counts("vod")["vod:ParseStreamingManifest"] == 3  # master + two variants
    assert describe(cloud, rsp.FileId).BasicInfo.Type == "m3u8"  # type: ignore[attr-defined]


def test_an_upload_with_temporary_keys_from_sts(cloud: Cloud, tmp_path: Path) -> None:
    doc = {"version": "2.0", "statement": [{"effect": "allow", "action": ["name/vod:*"], "resource": "*"}]}
    sts = StsClient(credential.Credential(cloud.secret_id, cloud.secret_key), REGION)
    req = sts_models.GetFederationTokenRequest()
    req.Name = "uploader"
    req.Policy = quote(json.dumps(doc))
    creds = sts.GetFederationToken(req).Credentials
    data = os.urandom(3 * MiB)
    (tmp_path / "clip.mov").write_bytes(data)

    client = VodUploadClient(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)
    media = VodUploadRequest()
    media.MediaFilePath = str(tmp_path / "clip.mov")
    rsp = client.upload(REGION, media)

    assert requests.get(rsp.MediaUrl).content == data
    assert describe(cloud, rsp.FileId).BasicInfo.Type == "mov"


def test_an_uncommitted_upload_is_not_served(cloud: Cloud, tmp_path: Path) -> None:
    client = VodClient(credential.Credential(cloud.secret_id, cloud.secret_key), REGION)
    req = vod_models.ApplyUploadRequest()
    req.MediaType = "mp4"
    applied = client.ApplyUpload(req)
    cloud.cos.put_object(applied.StorageBucket, applied.MediaStoragePath[1:], b"bytes")

    url = f"http://{cloud.app_id}.vod2.myqcloud.com{applied.MediaStoragePath}"
    assert requests.get(url).status_code == 404
