"""Parity: the same requests through the official vod-python-sdk and through vodflow, on the emulator.

Both send the same ApplyUpload and CommitUpload bodies and produce the same media (name, type,
class, region, context, bytes). The bodies are recorded where tencentcloud builds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from tencentcloud.common import credential
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.vod.v20180717 import models, vod_client


@pytest.fixture
def bodies(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(action, JSON body) of every VOD API call, whoever makes it."""
    seen: list[tuple[str, str]] = []
    original = AbstractClient.call

    def recording(self: Any, action: str, params: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((action, json.dumps(params, sort_keys=True)))
        return original(self, action, params, *args, **kwargs)

    monkeypatch.setattr(AbstractClient, "call", recording)
    return seen


def media_of(cloud: Any, file_id: str, sub_app_id: Any = None) -> dict[str, Any]:
    client = vod_client.VodClient(credential.Credential(cloud.secret_id, cloud.secret_key), "ap-guangzhou")
    request = models.DescribeMediaInfosRequest()
    request.FileIds = [file_id]
    if sub_app_id is not None:
        request.SubAppId = sub_app_id
    info = client.DescribeMediaInfos(request).MediaInfoSet[0]
    basic = info.BasicInfo
    data = requests.get(basic.MediaUrl, timeout=30).content
    return {
        "name": basic.Name,
        "type": basic.Type,
        "class": basic.ClassId,
        "region": basic.StorageRegion,
        "expire": basic.ExpireTime,
        "context": basic.SourceInfo.SourceContext if basic.SourceInfo else None,
        "size": info.MetaData.Size if info.MetaData else None,
        "bytes": data,
        "has_cover": bool(basic.CoverUrl),
    }


CASES: list[tuple[str, Callable[[Path, Path], dict[str, Any]]]] = [
    ("simple", lambda media, cover: {"MediaFilePath": str(media)}),
    ("cover", lambda media, cover: {"MediaFilePath": str(media), "CoverFilePath": str(cover)}),
    (
        "everything",
        lambda media, cover: {
            "MediaFilePath": str(media),
            "CoverFilePath": str(cover),
            "SubAppId": 101,
            "MediaName": "parity",
            "Procedure": "Your Procedure Name",
            "ExpireTime": "2031-01-01T00:00:00Z",
            "StorageRegion": "ap-chongqing",
            "ClassId": 3,
            "SourceContext": "ctx-1",
            "SessionContext": "session-ctx",
            "ConcurrentUploadNumber": 3,
        },
    ),
    ("multipart", lambda media, cover: {"MediaFilePath": str(media.parent / "big.mp4"), "ConcurrentUploadNumber": 4}),
]


@pytest.mark.filterwarnings("ignore:.*fileds are useless:UserWarning")  # the official SDK's own quirk
@pytest.mark.parametrize(("name", "fields"), CASES, ids=[c[0] for c in CASES])
def test_official_sdk_and_vodflow_send_the_same_bodies_and_make_the_same_media(
    cloud: Any,
    bodies: list[tuple[str, str]],
    wildlife: Path,
    cover: Path,
    data_dir: Path,
    make_file: Callable[[Path, int], Path],
    name: str,
    fields: Callable[[Path, Path], dict[str, Any]],
) -> None:
    make_file(data_dir / "big.mp4", 17 * 1024 * 1024 + 7)
    import qcloud_vod.model
    import qcloud_vod.vod_upload_client

    import vodflow.model
    import vodflow.vod_upload_client

    results = {}
    for label, client_mod, model_mod in (
        ("official", qcloud_vod.vod_upload_client, qcloud_vod.model),
        ("vodflow", vodflow.vod_upload_client, vodflow.model),
    ):
        bodies.clear()
        client = client_mod.VodUploadClient(cloud.secret_id, cloud.secret_key)
        request = model_mod.VodUploadRequest()
        for key, value in fields(wildlife, cover).items():
            setattr(request, key, value)
        response = client.upload("ap-guangzhou", request)
        calls = {action: body for action, body in bodies}
        apply_body = json.loads(calls["ApplyUpload"])
        commit_body = json.loads(calls["CommitUpload"])
        commit_body.pop("VodSessionKey")  # differs per session by design
        results[label] = (apply_body, commit_body, media_of(cloud, response.FileId, request.SubAppId))

    assert results["vodflow"][0] == results["official"][0]
    assert results["vodflow"][1] == results["official"][1]
    assert results["vodflow"][2] == results["official"][2]
