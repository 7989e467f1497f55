"""COS events for subscribers (what SCF triggers are made of), injected faults, and large objects streaming."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from qcloud_cos import CosS3Client, CosServiceError

from tencent_emulator.cos import CosEvent
from tencent_emulator.cos.crc64 import crc64
from tests.emulator.conftest import Endpoint

MiB = 1024 * 1024


def make_bucket(ep: Endpoint) -> str:
    bucket = f"events-{ep.cloud.app_id}"
    ep.cos_client().create_bucket(Bucket=bucket)
    return bucket


def test_subscribers_see_put_copy_complete_and_delete(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    events: list[CosEvent] = []
    ep.cloud.cos.subscribe(events.append)

    put = cos.put_object(
        Bucket=bucket, Key="in/a b.mp4", Body=b"x" * 100, ContentType="video/mp4", Metadata={"x-cos-meta-job": "7"}
    )
    cos.copy_object(
        Bucket=bucket, Key="in/copy.mp4", CopySource={"Bucket": bucket, "Key": "in/a b.mp4", "Region": ep.cloud.region}
    )
    parts = [os.urandom(MiB), b"end"]
    upload_id = cos.create_multipart_upload(Bucket=bucket, Key="in/big.mp4")["UploadId"]
    done = [
        {
            "PartNumber": n,
            "ETag": cos.upload_part(Bucket=bucket, Key="in/big.mp4", Body=p, PartNumber=n, UploadId=upload_id)["ETag"],
        }
        for n, p in enumerate(parts, start=1)
    ]
    complete = cos.complete_multipart_upload(
        Bucket=bucket, Key="in/big.mp4", UploadId=upload_id, MultipartUpload={"Part": done}
    )
    cos.delete_object(Bucket=bucket, Key="in/a b.mp4")
    cos.delete_object(Bucket=bucket, Key="in/never-existed.mp4")

    assert [(e.event_name, e.key) for e in events] == [
        ("cos:ObjectCreated:Put", "in/a b.mp4"),
        ("cos:ObjectCreated:Copy", "in/copy.mp4"),
        ("cos:ObjectCreated:CompleteMultipartUpload", "in/big.mp4"),
        ("cos:ObjectRemove:Delete", "in/a b.mp4"),
    ]
    first = events[0]
    assert (first.bucket, first.region, first.size, first.etag) == (bucket, ep.cloud.region, 100, put["ETag"])
    assert first.crc64 == crc64(b"x" * 100)
    assert first.metadata == {"x-cos-meta-job": "7", "Content-Type": "video/mp4"}
    assert first.request_headers["Authorization"].startswith("q-sign-algorithm=sha1&q-ak=")
    assert first.version == 1
    assert first.source_ip
    whole = events[2]
    assert whole.crc64 == crc64(b"".join(parts)) == int(complete["x-cos-hash-crc64ecma"])
    assert whole.etag == complete["ETag"]
    assert whole.size == MiB + 3


def test_a_failing_subscriber_does_not_fail_the_upload(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()

    def broken(event: CosEvent) -> None:
        raise RuntimeError("subscriber bug")

    ep.cloud.cos.subscribe(broken)
    cos.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert ep.cloud.cos.read_object(bucket, "k") == b"x"


def test_slow_down_on_a_part_is_retried_by_the_sdk(cloud_and_endpoint: Endpoint, tmp_path: Path) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    data = os.urandom(2 * MiB + 1)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    fault = ep.cloud.faults.inject("cos", "UploadPart", code="SlowDown", status=503, times=1)

    cos.upload_file(Bucket=bucket, Key="retried.bin", LocalFilePath=str(path), PartSize=1, MAXThread=1)

    assert fault.fired == 1
    assert ep.cloud.cos.read_object(bucket, "retried.bin") == data
    statuses = [r.status for r in ep.cloud.requests if r.action == "UploadPart"]
    assert statuses.count(503) == 1
    assert statuses.count(200) == 3


def test_an_injected_error_body_is_rendered_in_cos_shape(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    cos = CosS3Client(ep.cos_config(), retry=0)  # no retries: the fault reaches the caller at once
    ep.cloud.faults.inject("cos", "PutObject", code="SlowDown", status=503, times=1)
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert (exc.value.get_status_code(), exc.value.get_error_code()) == (503, "SlowDown")
    assert exc.value.get_request_id()


def test_complete_answering_200_with_an_error_body_raises_and_changes_nothing(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    upload_id = cos.create_multipart_upload(Bucket=bucket, Key="c.bin")["UploadId"]
    etag = cos.upload_part(Bucket=bucket, Key="c.bin", Body=b"only", PartNumber=1, UploadId=upload_id)["ETag"]
    parts = {"Part": [{"PartNumber": 1, "ETag": etag}]}
    ep.cloud.faults.inject("cos", "CompleteMultipartUpload", error_body=True, code="InternalError")

    with pytest.raises(CosServiceError) as exc:
        cos.complete_multipart_upload(Bucket=bucket, Key="c.bin", UploadId=upload_id, MultipartUpload=parts)
    assert exc.value.get_status_code() == 200
    assert exc.value.get_error_code() == "InternalError"
    assert ep.cloud.cos.head_object(bucket, "c.bin") is None
    assert [u.upload_id for u in ep.cloud.cos.list_multipart_uploads(bucket)] == [upload_id]

    cos.complete_multipart_upload(Bucket=bucket, Key="c.bin", UploadId=upload_id, MultipartUpload=parts)
    assert ep.cloud.cos.read_object(bucket, "c.bin") == b"only"


def test_copy_answering_200_with_an_error_body_raises(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    cos.put_object(Bucket=bucket, Key="src", Body=b"x")
    ep.cloud.faults.inject("cos", "CopyObject", error_body=True, code="InternalError")
    with pytest.raises(CosServiceError) as exc:
        cos.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "Region": ep.cloud.region}
        )
    assert (exc.value.get_status_code(), exc.value.get_error_code()) == (200, "InternalError")
    assert ep.cloud.cos.head_object(bucket, "dst") is None


def test_a_large_object_streams_to_disk_and_back(server_endpoint: Endpoint, tmp_path: Path) -> None:
    ep = server_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    size = 64 * MiB
    src = tmp_path / "big.bin"
    block = os.urandom(MiB)
    digest, crc = hashlib.md5(), 0
    with open(src, "wb") as fh:
        for _ in range(size // MiB):
            fh.write(block)
            digest.update(block)
            crc = crc64(block, crc)

    with open(src, "rb") as fh:
        put = cos.put_object(Bucket=bucket, Key="big.bin", Body=fh)
    assert put["ETag"] == f'"{digest.hexdigest()}"'
    assert put["x-cos-hash-crc64ecma"] == str(crc)

    # The bytes live in a file under the data dir, not in the model.
    blobs = [p for p in (ep.cloud.data_dir / "cos" / "blobs").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in blobs) == size

    got = cos.get_object(Bucket=bucket, Key="big.bin")
    assert got["Content-Length"] == str(size)
    stream = got["Body"].get_raw_stream()
    back_crc, total = 0, 0
    while chunk := stream.read(MiB):
        back_crc = crc64(chunk, back_crc)
        total += len(chunk)
    assert (total, back_crc) == (size, crc)
