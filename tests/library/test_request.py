"""VodUploadRequest: the official surface, effective defaults without mutation, local validation first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vodflow import VodUploadRequest, VodUploadResponse
from vodflow.errors import ManifestError, VodValidationError
from vodflow.model import DEFAULT_CONCURRENCY, parse_expire_time, resolve_request
from vodflow.model import VodUploadRequest as ModelRequest
from vodflow.vod_upload_client import VodUploadClient as ModuleClient


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "Wildlife.mp4"
    path.write_bytes(b"\0" * 1000)
    return path


def test_official_import_lines_work() -> None:
    from vodflow import VodClientException, VodUploadClient

    assert ModelRequest is VodUploadRequest
    assert ModuleClient is VodUploadClient
    client = VodUploadClient("AKIDabcdefgh", "secretkey")
    assert client.ignore_check is False
    assert client.retry_time >= 3
    assert issubclass(VodClientException, Exception)


def test_defaults_come_from_the_file_and_the_request_is_not_changed(video: Path, tmp_path: Path) -> None:
    cover = tmp_path / "Wildlife-Cover.png"
    cover.write_bytes(b"png")
    request = VodUploadRequest()
    request.MediaFilePath = str(video)
    request.CoverFilePath = str(cover)
    request.Procedure = "LongVideoPreset"
    resolved = resolve_request("ap-guangzhou", request)
    assert resolved.apply_fields == {
        "MediaType": "mp4",
        "MediaName": "Wildlife",
        "CoverType": "png",
        "Procedure": "LongVideoPreset",
    }
    assert list(resolved.apply_fields) == ["MediaType", "MediaName", "CoverType", "Procedure"]
    assert request.MediaType is None
    assert request.MediaName is None
    assert request.CoverType is None
    assert resolved.concurrency == DEFAULT_CONCURRENCY == 8  # chosen by the bench's sweep (see model.py)


def test_explicit_values_win_over_defaults(video: Path) -> None:
    request = VodUploadRequest()
    request.MediaFilePath = str(video)
    request.MediaType = "MOV"
    request.MediaName = "Named"
    request.SubAppId = 101
    request.ClassId = 3
    request.ExpireTime = "2030-01-01T00:00:00Z"
    request.StorageRegion = "ap-chongqing"
    request.SourceContext = "ctx"
    request.ConcurrentUploadNumber = 7
    resolved = resolve_request("ap-guangzhou", request)
    assert resolved.apply_fields == {
        "MediaType": "MOV",
        "SubAppId": 101,
        "MediaName": "Named",
        "ExpireTime": "2030-01-01T00:00:00Z",
        "StorageRegion": "ap-chongqing",
        "ClassId": 3,
        "SourceContext": "ctx",
    }
    assert resolved.concurrency == 7


def test_serialisation_keeps_local_fields_readable_and_sources_out(video: Path) -> None:
    request = VodUploadRequest()
    request.MediaFilePath = str(video)
    request.ConcurrentUploadNumber = 3
    data = json.loads(request.to_json_string())
    assert data["MediaFilePath"] == str(video)
    assert data["ConcurrentUploadNumber"] == 3
    assert "EdiaFilePath" not in data
    assert "MediaSource" not in data
    copy = VodUploadRequest()
    copy.from_json_string(request.to_json_string())
    assert copy.MediaFilePath == str(video)


def test_response_has_the_official_fields() -> None:
    response = VodUploadResponse()
    response.from_json_string('{"FileId": "1", "MediaUrl": "http://m", "CoverUrl": null, "RequestId": "r"}')
    assert (response.FileId, response.MediaUrl, response.CoverUrl, response.RequestId) == ("1", "http://m", None, "r")


def request_for(path: Path, **fields: object) -> VodUploadRequest:
    request = VodUploadRequest()
    request.MediaFilePath = str(path)
    for name, value in fields.items():
        setattr(request, name, value)
    return request


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"ExpireTime": "next tuesday"}, "InvalidParameter.ExpireTime", "ExpireTime"),
        ({"ExpireTime": "2030-02-30T00:00:00Z"}, "InvalidParameter.ExpireTime", "ExpireTime"),
        ({"ExpireTime": "2030-01-01T00:00:00"}, "InvalidParameter.ExpireTime", "ExpireTime"),
        ({"MediaType": "exe"}, "InvalidParameterValue.MediaType", "MediaType"),
        ({"SourceContext": "x" * 251}, "InvalidParameterValue.SourceContext", "SourceContext"),
        ({"SessionContext": "x" * 1001}, "InvalidParameterValue.SessionContextTooLong", "SessionContext"),
        ({"SubAppId": "abc"}, "InvalidParameterValue.SubAppId", "SubAppId"),
        ({"SubAppId": 0}, "InvalidParameterValue.SubAppId", "SubAppId"),
        ({"ClassId": -1}, "InvalidParameterValue.ClassId", "ClassId"),
        ({"ConcurrentUploadNumber": 0}, "InvalidParameterValue.ConcurrentUploadNumber", "ConcurrentUploadNumber"),
        ({"MediaStoragePath": "no/slash.mp4"}, "InvalidParameterValue.MediaStoragePath", "MediaStoragePath"),
    ],
)
def test_local_validation_raises_the_service_codes_naming_field_and_value(
    video: Path, fields: dict[str, object], code: str, field: str
) -> None:
    with pytest.raises(VodValidationError) as caught:
        resolve_request("ap-guangzhou", request_for(video, **fields))
    assert caught.value.code == code
    assert caught.value.field == field
    assert caught.value.value == fields[field]
    assert field in caught.value.message


def test_exactly_250_characters_of_source_context_are_fine(video: Path) -> None:
    resolved = resolve_request("ap-guangzhou", request_for(video, SourceContext="y" * 250))
    assert resolved.apply_fields["SourceContext"] == "y" * 250


def test_unknown_cover_extension(video: Path, tmp_path: Path) -> None:
    cover = tmp_path / "cover.exe"
    cover.write_bytes(b"x")
    with pytest.raises(VodValidationError) as caught:
        resolve_request("ap-guangzhou", request_for(video, CoverFilePath=str(cover)))
    assert caught.value.code == "InvalidParameterValue.CoverType"
    assert caught.value.value == "exe"


def test_missing_files_and_region(tmp_path: Path, video: Path) -> None:
    with pytest.raises(VodValidationError) as caught:
        resolve_request("ap-guangzhou", request_for(tmp_path / "nope.mp4"))
    assert (caught.value.code, caught.value.field) == ("ResourceNotFound", "MediaFilePath")
    with pytest.raises(VodValidationError) as caught:
        resolve_request("ap-guangzhou", request_for(video, CoverFilePath=str(tmp_path / "nope.jpg")))
    assert (caught.value.code, caught.value.field) == ("ResourceNotFound", "CoverFilePath")
    with pytest.raises(VodValidationError) as caught:
        resolve_request("", request_for(video))
    assert caught.value.field == "region"
    with pytest.raises(VodValidationError) as caught:
        resolve_request("ap-guangzhou", VodUploadRequest())
    assert (caught.value.code, caught.value.field) == ("MissingParameter", "MediaFilePath")


def test_file_without_extension_needs_a_media_type(tmp_path: Path) -> None:
    bare = tmp_path / "noext"
    bare.write_bytes(b"x")
    with pytest.raises(VodValidationError) as caught:
        resolve_request("ap-guangzhou", request_for(bare))
    assert caught.value.field == "MediaType"
    assert resolve_request("ap-guangzhou", request_for(bare, MediaType="mp4")).apply_fields["MediaType"] == "mp4"


def test_ignore_check_leaves_value_checks_to_the_service(video: Path) -> None:
    resolved = resolve_request(
        "ap-guangzhou", request_for(video, MediaType="exe", ExpireTime="soon"), ignore_check=True
    )
    assert resolved.apply_fields["MediaType"] == "exe"


def test_manifest_media_is_parsed_before_anything_is_sent(tmp_path: Path) -> None:
    manifest = tmp_path / "prog_index.M3U8"
    manifest.write_text("#EXTM3U\n#EXTINF:4,\nhttp://evil.example.com/a.ts\n")
    with pytest.raises(ManifestError) as caught:
        resolve_request("ap-guangzhou", request_for(manifest))
    assert caught.value.line == 3


def test_expire_time_accepts_offsets_and_fractions() -> None:
    assert (
        parse_expire_time("2030-01-01T08:00:00+08:00").timestamp()
        == parse_expire_time("2030-01-01T00:00:00Z").timestamp()
    )
    assert parse_expire_time("2030-01-01T00:00:00.123Z").year == 2030
