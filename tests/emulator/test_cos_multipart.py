"""Multipart uploads through the official SDK on both fronts: upload_file, by hand, every Complete error, copies."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from qcloud_cos import CosS3Client, CosServiceError

from tencent_emulator.cos.crc64 import crc64
from tests.emulator.conftest import Endpoint

MiB = 1024 * 1024


def make_bucket(ep: Endpoint) -> str:
    bucket = f"staging-{ep.cloud.app_id}"
    ep.cos_client().create_bucket(Bucket=bucket)
    return bucket


def error_of(exc: pytest.ExceptionInfo[CosServiceError]) -> tuple[int, str]:
    return exc.value.get_status_code(), exc.value.get_error_code()


def start(cos: CosS3Client, bucket: str, key: str, parts: list[bytes]) -> tuple[str, list[dict[str, object]]]:
    upload_id = cos.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        etag = cos.upload_part(Bucket=bucket, Key=key, Body=data, PartNumber=n, UploadId=upload_id)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    return upload_id, done


def test_upload_file_sends_parts_in_parallel_and_the_object_is_whole(
    cloud_and_endpoint: Endpoint, tmp_path: Path
) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    data = os.urandom(12 * MiB + 12345)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)

    result = cos.upload_file(Bucket=bucket, Key="in/clip.mp4", LocalFilePath=str(path), PartSize=1, MAXThread=5)

    parts = [data[i : i + MiB] for i in range(0, len(data), MiB)]
    expected_etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert result["ETag"] == f'"{expected_etag}-{len(parts)}"'
    assert result["x-cos-hash-crc64ecma"] == str(crc64(data))
    head = cos.head_object(Bucket=bucket, Key="in/clip.mp4")
    assert head["x-cos-hash-crc64ecma"] == str(crc64(data))
    assert int(head["Content-Length"]) == len(data)
    assert ep.cloud.cos.read_object(bucket, "in/clip.mp4") == data
    assert ep.cloud.request_counts("cos")["cos:UploadPart"] == len(parts)
    assert ep.cloud.cos.list_multipart_uploads(bucket) == []


def test_a_multipart_upload_by_hand_with_list_parts_paging(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    parts = [os.urandom(MiB) for _ in range(3)] + [b"tail"]
    upload_id, done = start(cos, bucket, "by/hand.bin", parts)

    uploads = cos.list_multipart_uploads(Bucket=bucket, Prefix="by/")
    assert [(u["Key"], u["UploadId"]) for u in uploads["Upload"]] == [("by/hand.bin", upload_id)]
    assert [u.upload_id for u in ep.cloud.cos.list_multipart_uploads(bucket, prefix="by/")] == [upload_id]

    listed: list[dict[str, str]] = []
    marker = 0
    while True:
        page = cos.list_parts(Bucket=bucket, Key="by/hand.bin", UploadId=upload_id, PartNumberMarker=marker, MaxParts=3)
        listed += page["Part"]
        if page["IsTruncated"] == "false":
            break
        marker = int(page["NextPartNumberMarker"])
    assert [int(p["PartNumber"]) for p in listed] == [1, 2, 3, 4]
    assert [p["ETag"] for p in listed] == [f'"{hashlib.md5(p).hexdigest()}"' for p in parts]
    assert [int(p["Size"]) for p in listed] == [len(p) for p in parts]

    result = cos.complete_multipart_upload(
        Bucket=bucket, Key="by/hand.bin", UploadId=upload_id, MultipartUpload={"Part": done}
    )
    whole = b"".join(parts)
    assert result["x-cos-hash-crc64ecma"] == str(crc64(whole))
    assert result["Location"].endswith(f"{bucket}.cos.{ep.cloud.region}.myqcloud.com/by/hand.bin")
    assert ep.cloud.cos.read_object(bucket, "by/hand.bin") == whole
    assert b"".join(ep.cloud.cos.iter_object(bucket, "by/hand.bin", MiB - 2, MiB + 1)) == whole[MiB - 2 : MiB + 2]


def test_complete_refuses_a_part_under_one_megabyte_that_is_not_last(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    upload_id, done = start(cos, bucket, "small.bin", [b"a" * 1000, b"b" * MiB])
    with pytest.raises(CosServiceError) as exc:
        cos.complete_multipart_upload(
            Bucket=bucket, Key="small.bin", UploadId=upload_id, MultipartUpload={"Part": done}
        )
    assert error_of(exc) == (400, "EntityTooSmall")


def test_complete_refuses_an_unknown_part_or_etag(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    upload_id, done = start(cos, bucket, "p.bin", [b"a" * MiB, b"b"])
    wrong_etag = [done[0], {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}]
    with pytest.raises(CosServiceError) as exc:
        cos.complete_multipart_upload(
            Bucket=bucket, Key="p.bin", UploadId=upload_id, MultipartUpload={"Part": wrong_etag}
        )
    assert error_of(exc) == (400, "InvalidPart")
    missing = [*done, {"PartNumber": 3, "ETag": done[1]["ETag"]}]
    with pytest.raises(CosServiceError) as exc:
        cos.complete_multipart_upload(Bucket=bucket, Key="p.bin", UploadId=upload_id, MultipartUpload={"Part": missing})
    assert error_of(exc) == (400, "InvalidPart")
    # Nothing was consumed: the right list still completes.
    cos.complete_multipart_upload(Bucket=bucket, Key="p.bin", UploadId=upload_id, MultipartUpload={"Part": done})


def test_complete_refuses_parts_out_of_order(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    upload_id, done = start(cos, bucket, "o.bin", [b"a" * MiB, b"b"])
    with pytest.raises(CosServiceError) as exc:
        cos.complete_multipart_upload(
            Bucket=bucket, Key="o.bin", UploadId=upload_id, MultipartUpload={"Part": list(reversed(done))}
        )
    assert error_of(exc) == (400, "InvalidPartOrder")


def test_complete_or_upload_to_an_unknown_upload_is_no_such_upload(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    bogus = "1700000000deadbeef"
    with pytest.raises(CosServiceError) as exc:
        cos.complete_multipart_upload(
            Bucket=bucket, Key="n.bin", UploadId=bogus, MultipartUpload={"Part": [{"PartNumber": 1, "ETag": '"x"'}]}
        )
    assert error_of(exc) == (404, "NoSuchUpload")
    with pytest.raises(CosServiceError) as exc:
        cos.upload_part(Bucket=bucket, Key="n.bin", Body=b"x", PartNumber=1, UploadId=bogus)
    assert error_of(exc) == (404, "NoSuchUpload")


def test_abort_drops_the_upload_and_its_parts(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    upload_id, done = start(cos, bucket, "gone.bin", [b"a" * MiB])
    cos.abort_multipart_upload(Bucket=bucket, Key="gone.bin", UploadId=upload_id)
    assert ep.cloud.cos.list_multipart_uploads(bucket) == []
    with pytest.raises(CosServiceError) as exc:
        cos.list_parts(Bucket=bucket, Key="gone.bin", UploadId=upload_id)
    assert error_of(exc) == (404, "NoSuchUpload")
    with pytest.raises(CosServiceError) as exc:
        cos.complete_multipart_upload(Bucket=bucket, Key="gone.bin", UploadId=upload_id, MultipartUpload={"Part": done})
    assert error_of(exc) == (404, "NoSuchUpload")
    with pytest.raises(CosServiceError) as exc:
        cos.abort_multipart_upload(Bucket=bucket, Key="gone.bin", UploadId=upload_id)
    assert error_of(exc) == (404, "NoSuchUpload")


def test_upload_part_copy_takes_a_range_of_another_object(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    source = os.urandom(3 * MiB)
    cos.put_object(Bucket=bucket, Key="src.bin", Body=source)
    upload_id = cos.create_multipart_upload(Bucket=bucket, Key="joined.bin")["UploadId"]
    copy_source = {"Bucket": bucket, "Key": "src.bin", "Region": ep.cloud.region}

    first = cos.upload_part_copy(
        Bucket=bucket,
        Key="joined.bin",
        PartNumber=1,
        UploadId=upload_id,
        CopySource=copy_source,
        CopySourceRange=f"bytes={MiB}-{2 * MiB + 9}",
    )
    assert first["ETag"] == f'"{hashlib.md5(source[MiB : 2 * MiB + 10]).hexdigest()}"'
    second = cos.upload_part(Bucket=bucket, Key="joined.bin", Body=b"end", PartNumber=2, UploadId=upload_id)
    with pytest.raises(CosServiceError) as exc:
        cos.upload_part_copy(
            Bucket=bucket,
            Key="joined.bin",
            PartNumber=3,
            UploadId=upload_id,
            CopySource=copy_source,
            CopySourceRange=f"bytes=0-{3 * MiB}",
        )
    assert error_of(exc) == (400, "InvalidArgument")

    result = cos.complete_multipart_upload(
        Bucket=bucket,
        Key="joined.bin",
        UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]},
    )
    expected = source[MiB : 2 * MiB + 10] + b"end"
    assert ep.cloud.cos.read_object(bucket, "joined.bin") == expected
    assert result["x-cos-hash-crc64ecma"] == str(crc64(expected))
