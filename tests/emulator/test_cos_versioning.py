"""COS bucket versioning through the unmodified SDK, on both fronts.

Sources: PUT Bucket versioning 436/19889, GET Bucket versioning 436/19888 (no Status until ever enabled;
Enabled/Suspended, never back), DELETE Object 436/7743 (``versionId``; delete markers, ``x-cos-version-id``,
``x-cos-delete-marker``), Delete markers 436/36716 (GET of one is 404), PUT Object tagging 436/35709
(``VersionId``). Choices where the pages are silent are ⚠ in FIDELITY.md.
"""

from __future__ import annotations

import pytest
from qcloud_cos import CosS3Client, CosServiceError

from tests.emulator.conftest import Endpoint

KEY = "clips/a.mp4"
CREATE_ONCE = {"x-cos-forbid-overwrite": "true"}


def client(ep: Endpoint, name: str = "vers") -> tuple[CosS3Client, str]:
    cos = CosS3Client(ep.cos_config(), retry=0)
    bucket = f"{name}-{ep.cloud.app_id}"
    cos.create_bucket(Bucket=bucket)
    return cos, bucket


def body(cos: CosS3Client, bucket: str, **kw: str) -> bytes:
    data: bytes = cos.get_object(Bucket=bucket, Key=KEY, **kw)["Body"].get_raw_stream().read()
    return data


def status(call: object) -> tuple[int, str]:
    with pytest.raises(CosServiceError) as info:
        call()  # type: ignore[operator]
    return info.value.get_status_code(), info.value.get_error_code()


def test_a_bucket_that_never_had_versioning_behaves_as_before(cloud_and_endpoint: Endpoint) -> None:
    cos, bucket = client(cloud_and_endpoint)
    assert not (cos.get_bucket_versioning(Bucket=bucket) or {}).get("Status")
    put = cos.put_object(Bucket=bucket, Key=KEY, Body=b"1", Metadata=CREATE_ONCE)
    assert "x-cos-version-id" not in put
    assert status(lambda: cos.put_object(Bucket=bucket, Key=KEY, Body=b"2", Metadata=CREATE_ONCE)) == (
        409,
        "FileAlreadyExists",
    )
    assert "x-cos-version-id" not in cos.head_object(Bucket=bucket, Key=KEY)
    deleted = cos.delete_object(Bucket=bucket, Key=KEY)
    assert "x-cos-delete-marker" not in deleted and "x-cos-version-id" not in deleted
    assert cloud_and_endpoint.cloud.cos.head_object(bucket, KEY) is None


def test_versions_are_kept_read_tagged_and_deleted_one_by_one(cloud_and_endpoint: Endpoint) -> None:
    cos, bucket = client(cloud_and_endpoint)
    cos.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    assert cos.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = cos.put_object(Bucket=bucket, Key=KEY, Body=b"one")["x-cos-version-id"]
    v2 = cos.put_object(Bucket=bucket, Key=KEY, Body=b"two")["x-cos-version-id"]
    assert v1 and v2 and v1 != v2
    assert body(cos, bucket) == b"two" and body(cos, bucket, VersionId=v1) == b"one"
    assert cos.head_object(Bucket=bucket, Key=KEY, VersionId=v1)["x-cos-version-id"] == v1
    assert cos.head_object(Bucket=bucket, Key=KEY)["x-cos-version-id"] == v2
    # Tagging one version leaves the other alone.
    tags = {"Tag": [{"Key": "job", "Value": "1"}]}
    cos.put_object_tagging(Bucket=bucket, Key=KEY, VersionId=v1, Tagging={"TagSet": tags})
    assert cos.get_object_tagging(Bucket=bucket, Key=KEY, VersionId=v1)["TagSet"] == tags
    assert not cos.get_object_tagging(Bucket=bucket, Key=KEY).get("TagSet")
    cos.delete_object_tagging(Bucket=bucket, Key=KEY, VersionId=v1)
    assert not cos.get_object_tagging(Bucket=bucket, Key=KEY, VersionId=v1).get("TagSet")
    # DELETE with versionId removes that version only: the current one stays.
    gone = cos.delete_object(Bucket=bucket, Key=KEY, VersionId=v1)
    assert gone["x-cos-version-id"] == v1 and "x-cos-delete-marker" not in gone
    assert body(cos, bucket) == b"two"
    assert status(lambda: body(cos, bucket, VersionId=v1)) == (404, "NoSuchVersion")
    assert (
        status(lambda: cos.put_object_tagging(Bucket=bucket, Key=KEY, VersionId=v1, Tagging={"TagSet": tags}))[0] == 404
    )
    cos.delete_object(Bucket=bucket, Key=KEY, VersionId=v1)  # again: nothing left to delete, 204


def test_a_plain_delete_writes_a_delete_marker_and_removing_it_restores_the_object(
    cloud_and_endpoint: Endpoint,
) -> None:
    cos, bucket = client(cloud_and_endpoint)
    cos.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    v1 = cos.put_object(Bucket=bucket, Key=KEY, Body=b"one")["x-cos-version-id"]
    marker = cos.delete_object(Bucket=bucket, Key=KEY)
    assert marker["x-cos-delete-marker"] == "true" and marker["x-cos-version-id"] not in ("", v1)
    assert status(lambda: body(cos, bucket))[0] == 404
    assert not cos.list_objects(Bucket=bucket).get("Contents")
    listed = cos.list_objects_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Version"]] == [(v1, "false")]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarker"]] == [(marker["x-cos-version-id"], "true")]
    removed = cos.delete_object(Bucket=bucket, Key=KEY, VersionId=marker["x-cos-version-id"])
    assert removed["x-cos-delete-marker"] == "true"
    assert body(cos, bucket) == b"one"
    with pytest.raises(CosServiceError):
        cos.delete_bucket(Bucket=bucket)  # versions left: not empty


def test_suspended_writes_null_versions_and_keeps_older_ones(cloud_and_endpoint: Endpoint) -> None:
    cos, bucket = client(cloud_and_endpoint)
    cos.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    v1 = cos.put_object(Bucket=bucket, Key=KEY, Body=b"one")["x-cos-version-id"]
    cos.put_bucket_versioning(Bucket=bucket, Status="Suspended")
    assert cos.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    assert cos.put_object(Bucket=bucket, Key=KEY, Body=b"two")["x-cos-version-id"] == "null"
    assert cos.put_object(Bucket=bucket, Key=KEY, Body=b"three")["x-cos-version-id"] == "null"
    listed = cos.list_objects_versions(Bucket=bucket)["Version"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [("null", "true"), (v1, "false")]
    assert body(cos, bucket, VersionId="null") == b"three" and body(cos, bucket, VersionId=v1) == b"one"


def test_create_once_stops_working_on_a_bucket_that_ever_had_versioning(cloud_and_endpoint: Endpoint) -> None:
    """DESIGN.md §4 (reported, ⚠): ``x-cos-forbid-overwrite`` no longer refuses; the preflight detects it."""
    cos, bucket = client(cloud_and_endpoint)
    cos.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    cos.put_bucket_versioning(Bucket=bucket, Status="Suspended")
    cos.put_object(Bucket=bucket, Key=KEY, Body=b"1", Metadata=CREATE_ONCE)
    cos.put_object(Bucket=bucket, Key=KEY, Body=b"2", Metadata=CREATE_ONCE)  # no 409
    assert body(cos, bucket) == b"2"


def test_copy_reads_the_named_source_version(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = client(ep)
    cos.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    v1 = cos.put_object(Bucket=bucket, Key=KEY, Body=b"one")["x-cos-version-id"]
    cos.put_object(Bucket=bucket, Key=KEY, Body=b"two")
    source = {"Bucket": bucket, "Key": KEY, "Region": ep.cloud.region, "VersionId": v1}
    copied = cos.copy_object(Bucket=bucket, Key="copy.mp4", CopySource=source)
    assert copied["x-cos-version-id"]
    assert cos.get_object(Bucket=bucket, Key="copy.mp4")["Body"].get_raw_stream().read() == b"one"
