"""Every example on Tencent's "VOD Python SDK" page, with only the import changed, against the emulator.

Each example is written as on the page (``qcloud_vod`` replaced by ``vodflow``); only the key
strings and ``/data/file`` paths point at the emulated account and the test's files. The result is
then checked the way a user would: DescribeMediaInfos and a GET of the MediaUrl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import requests
from tencentcloud.common import credential
from tencentcloud.sts.v20180813 import models as sts_models
from tencentcloud.sts.v20180813 import sts_client
from tencentcloud.vod.v20180717 import models, vod_client

REGION = "ap-guangzhou"


def describe(cloud: Any, file_id: str, sub_app_id: Optional[int] = None) -> Any:
    client = vod_client.VodClient(credential.Credential(cloud.secret_id, cloud.secret_key), REGION)
    request = models.DescribeMediaInfosRequest()
    request.FileIds = [file_id]
    if sub_app_id is not None:
        request.SubAppId = sub_app_id
    response = client.DescribeMediaInfos(request)
    assert response.NotExistFileIdSet in (None, [])
    assert len(response.MediaInfoSet) == 1
    return response.MediaInfoSet[0]


def fetch(url: str) -> bytes:
    reply = requests.get(url, timeout=30)
    assert reply.status_code == 200, reply.status_code
    return reply.content


def test_simple_upload(cloud: Any, wildlife: Path) -> None:
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)

    from vodflow.model import VodUploadRequest

    request = VodUploadRequest()
    request.MediaFilePath = str(wildlife)

    response = client.upload("ap-guangzhou", request)
    assert response.FileId
    assert response.RequestId

    info = describe(cloud, response.FileId)
    assert info.BasicInfo.Name == "Wildlife"
    assert info.BasicInfo.Type == "mp4"
    assert info.BasicInfo.MediaUrl == response.MediaUrl
    assert info.MetaData.Size == wildlife.stat().st_size
    assert fetch(response.MediaUrl) == wildlife.read_bytes()
    # The caller's request was not changed behind its back (the official SDK fills it in).
    assert request.MediaType is None
    assert request.MediaName is None


def test_cover(cloud: Any, wildlife: Path, cover: Path) -> None:
    from vodflow.model import VodUploadRequest
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    request = VodUploadRequest()
    request.MediaFilePath = str(wildlife)
    request.CoverFilePath = str(cover)
    response = client.upload("ap-guangzhou", request)
    assert response.FileId
    assert response.CoverUrl
    assert describe(cloud, response.FileId).BasicInfo.CoverUrl == response.CoverUrl
    assert fetch(response.CoverUrl) == cover.read_bytes()
    assert fetch(response.MediaUrl) == wildlife.read_bytes()


def test_procedure(cloud: Any, wildlife: Path) -> None:
    from vodflow.model import VodUploadRequest
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    request = VodUploadRequest()
    request.MediaFilePath = str(wildlife)
    request.Procedure = "Your Procedure Name"
    response = client.upload("ap-guangzhou", request)
    assert response.FileId
    assert cloud.vod.media(response.FileId).procedure == "Your Procedure Name"


def test_sub_app_id(cloud: Any, wildlife: Path) -> None:
    from vodflow.model import VodUploadRequest
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    request = VodUploadRequest()
    request.MediaFilePath = str(wildlife)
    request.SubAppId = 101
    response = client.upload("ap-guangzhou", request)
    info = describe(cloud, response.FileId, sub_app_id=101)
    assert info.FileId == response.FileId
    assert fetch(response.MediaUrl) == wildlife.read_bytes()


def test_storage_region(cloud: Any, wildlife: Path) -> None:
    from vodflow.model import VodUploadRequest
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    request = VodUploadRequest()
    request.MediaFilePath = str(wildlife)
    request.StorageRegion = "ap-chongqing"
    response = client.upload("ap-guangzhou", request)
    assert describe(cloud, response.FileId).BasicInfo.StorageRegion == "ap-chongqing"
    assert fetch(response.MediaUrl) == wildlife.read_bytes()


def test_concurrent_upload_number(cloud: Any, big_wildlife: Path) -> None:
    from vodflow.model import VodUploadRequest
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    request = VodUploadRequest()
    request.MediaFilePath = str(big_wildlife)
    request.ConcurrentUploadNumber = 5
    response = client.upload("ap-guangzhou", request)
    info = describe(cloud, response.FileId)
    assert info.MetaData.Size == big_wildlife.stat().st_size
    assert fetch(response.MediaUrl) == big_wildlife.read_bytes()
    # It went up in parts (8 MiB, 8 MiB, the rest), not as one PUT.
    counts = cloud.request_counts("cos")
    assert counts.get("cos:UploadPart") == 3
    assert counts.get("cos:CompleteMultipartUpload") == 1


def test_temporary_credentials(cloud: Any, wildlife: Path) -> None:
    sts = sts_client.StsClient(credential.Credential(cloud.secret_id, cloud.secret_key), REGION)
    federation = sts_models.GetFederationTokenRequest()
    federation.Name = "uploader"
    federation.Policy = '{"version":"2.0","statement":[{"effect":"allow","action":["vod:*"],"resource":["*"]}]}'
    tmp = sts.GetFederationToken(federation).Credentials  # TmpSecretId, TmpSecretKey, Token

    from vodflow.model import VodUploadRequest
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(tmp.TmpSecretId, tmp.TmpSecretKey, tmp.Token)
    request = VodUploadRequest()
    request.MediaFilePath = str(wildlife)
    response = client.upload("ap-guangzhou", request)
    assert fetch(response.MediaUrl) == wildlife.read_bytes()
    assert describe(cloud, response.FileId).BasicInfo.Name == "Wildlife"


def test_adaptive_bitrate_package(cloud: Any, data_dir: Path) -> None:
    (data_dir / "v1").mkdir()
    (data_dir / "prog_index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv1/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nlow.m3u8\n"
    )
    (data_dir / "v1/index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nseg1.ts\n#EXT-X-ENDLIST\n"
    )
    (data_dir / "low.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nlow0.ts\n#EXT-X-ENDLIST\n")
    segments = {"v1/seg0.ts": b"a" * 1000, "v1/seg1.ts": b"b" * 2000, "low0.ts": b"c" * 500}
    for name, data in segments.items():
        (data_dir / name).write_bytes(data)

    from vodflow.model import VodUploadRequest
    from vodflow.vod_upload_client import VodUploadClient

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    request = VodUploadRequest()
    request.MediaFilePath = str(data_dir / "prog_index.m3u8")
    response = client.upload("ap-guangzhou", request)
    assert response.FileId
    assert fetch(response.MediaUrl) == (data_dir / "prog_index.m3u8").read_bytes()
    base = response.MediaUrl.rsplit("/", 1)[0]
    for name, data in segments.items():
        assert fetch(f"{base}/{name}") == data
    assert fetch(f"{base}/v1/index.m3u8") == (data_dir / "v1/index.m3u8").read_bytes()


def test_every_option_reaches_the_media(cloud: Any, wildlife: Path) -> None:
    from vodflow import VodUploadClient, VodUploadRequest

    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    request = VodUploadRequest()
    request.MediaFilePath = str(wildlife)
    request.MediaName = "My wildlife"
    request.ClassId = 3
    request.ExpireTime = "2031-05-06T07:08:09Z"
    request.StorageRegion = "ap-chongqing"
    request.SourceContext = "order=42"
    request.Procedure = "Your Procedure Name"
    response = client.upload("ap-guangzhou", request)
    basic = describe(cloud, response.FileId).BasicInfo
    assert basic.Name == "My wildlife"
    assert basic.ClassId == 3
    assert basic.ExpireTime == "2031-05-06T07:08:09Z"
    assert basic.StorageRegion == "ap-chongqing"
    assert basic.SourceInfo.SourceContext == "order=42"
    assert cloud.vod.media(response.FileId).procedure == "Your Procedure Name"
