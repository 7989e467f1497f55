"""COS objects through the official SDK on both fronts: put, get, head, delete, ranges, copies, tags, listing."""

from __future__ import annotations

import base64
import hashlib

import pytest
from qcloud_cos import CosS3Client, CosServiceError

from tencent_emulator.cos.crc64 import crc64
from tests.emulator.conftest import Endpoint


def make_bucket(ep: Endpoint, name: str = "media") -> str:
    bucket = f"{name}-{ep.cloud.app_id}"
    ep.cos_client().create_bucket(Bucket=bucket)
    return bucket


def error_of(exc: pytest.ExceptionInfo[CosServiceError]) -> tuple[int, str]:
    return exc.value.get_status_code(), exc.value.get_error_code()


def test_an_object_goes_in_and_comes_back_with_its_metadata(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    body = b"the quick brown fox " * 1000

    put = cos.put_object(
        Bucket=bucket,
        Key="inbox/clip 1.mp4",
        Body=body,
        ContentType="video/mp4",
        Metadata={"x-cos-meta-job": "j-42"},
        CacheControl="no-cache",
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["x-cos-hash-crc64ecma"] == str(crc64(body))
    assert put["Server"] == "tencent-cos"
    assert put["x-cos-request-id"]

    head = cos.head_object(Bucket=bucket, Key="inbox/clip 1.mp4")
    assert head["Content-Length"] == str(len(body))
    assert head["Content-Type"] == "video/mp4"
    assert head["x-cos-meta-job"] == "j-42"
    assert head["Cache-Control"] == "no-cache"
    assert head["ETag"] == put["ETag"]
    assert head["x-cos-hash-crc64ecma"] == str(crc64(body))

    got = cos.get_object(Bucket=bucket, Key="inbox/clip 1.mp4")
    assert got["Body"].get_raw_stream().read() == body

    info = ep.cloud.cos.head_object(bucket, "inbox/clip 1.mp4")
    assert (info.size, info.etag, info.crc64, info.version) == (len(body), put["ETag"], crc64(body), 1)

    cos.delete_object(Bucket=bucket, Key="inbox/clip 1.mp4")
    with pytest.raises(CosServiceError) as exc:
        cos.head_object(Bucket=bucket, Key="inbox/clip 1.mp4")
    assert exc.value.get_status_code() == 404
    with pytest.raises(CosServiceError) as exc:
        cos.get_object(Bucket=bucket, Key="inbox/clip 1.mp4")
    assert error_of(exc) == (404, "NoSuchKey")
    # Deleting what is not there is not an error.
    cos.delete_object(Bucket=bucket, Key="inbox/clip 1.mp4")


def test_ranges_return_206_and_the_right_bytes(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    body = bytes(range(256)) * 40
    cos.put_object(Bucket=bucket, Key="r.bin", Body=body)

    first = cos.get_object(Bucket=bucket, Key="r.bin", Range="bytes=10-19")
    assert first["Body"].get_raw_stream().read() == body[10:20]
    assert first["Content-Range"] == f"bytes 10-19/{len(body)}"
    tail = cos.get_object(Bucket=bucket, Key="r.bin", Range="bytes=-5")
    assert tail["Body"].get_raw_stream().read() == body[-5:]
    open_ended = cos.get_object(Bucket=bucket, Key="r.bin", Range=f"bytes={len(body) - 3}-")
    assert open_ended["Body"].get_raw_stream().read() == body[-3:]
    assert b"".join(ep.cloud.cos.iter_object(bucket, "r.bin", 100, 199)) == body[100:200]

    with pytest.raises(CosServiceError) as exc:
        cos.get_object(Bucket=bucket, Key="r.bin", Range=f"bytes={len(body)}-")
    assert error_of(exc) == (416, "InvalidRange")


def test_conditional_gets_answer_304_and_412(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    etag = cos.put_object(Bucket=bucket, Key="c.txt", Body=b"v1")["ETag"]

    assert cos.get_object(Bucket=bucket, Key="c.txt", IfMatch=etag)["Body"].get_raw_stream().read() == b"v1"
    with pytest.raises(CosServiceError) as exc:
        cos.get_object(Bucket=bucket, Key="c.txt", IfMatch='"00000000000000000000000000000000"')
    assert error_of(exc) == (412, "PreconditionFailed")
    assert exc.value.get_error_msg() == "Precondition not match."

    # 304 is below 400, so the SDK hands it back as a (bodiless) success.
    not_modified = cos.get_object(Bucket=bucket, Key="c.txt", IfNoneMatch=etag)
    assert not_modified["Body"].get_raw_stream().read() == b""
    assert ep.cloud.requests[-1].status == 304


def test_a_wrong_content_md5_is_bad_digest_and_stores_nothing(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="d.txt", Body=b"payload", ContentMD5=wrong)
    assert error_of(exc) == (400, "BadDigest")
    assert ep.cloud.cos.head_object(bucket, "d.txt") is None

    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="d.txt", Body=b"payload", ContentMD5="not-base64!")
    assert error_of(exc) == (400, "InvalidDigest")

    cos.put_object(Bucket=bucket, Key="d.txt", Body=b"payload", EnableMD5=True)
    assert ep.cloud.cos.read_object(bucket, "d.txt") == b"payload"


def test_forbid_overwrite_makes_a_put_create_once(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    cos.put_object(
        Bucket=bucket, Key="jobs/j1.json", Body=b'{"state":"new"}', Metadata={"x-cos-forbid-overwrite": "true"}
    )
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(
            Bucket=bucket, Key="jobs/j1.json", Body=b'{"state":"other"}', Metadata={"x-cos-forbid-overwrite": "true"}
        )
    assert error_of(exc) == (409, "FileAlreadyExists")
    assert ep.cloud.cos.read_object(bucket, "jobs/j1.json") == b'{"state":"new"}'
    # Without the header an overwrite is fine, and the version moves on.
    cos.put_object(Bucket=bucket, Key="jobs/j1.json", Body=b'{"state":"done"}')
    info = ep.cloud.cos.head_object(bucket, "jobs/j1.json")
    assert info.version == 2


def test_metadata_over_two_kilobytes_is_refused(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="m.txt", Body=b"x", Metadata={"x-cos-meta-big": "v" * 2100})
    assert error_of(exc) == (400, "MetadataTooLarge")


def test_copy_object_keeps_or_replaces_metadata(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    put = cos.put_object(Bucket=bucket, Key="src/a.mp4", Body=b"A" * 5000, Metadata={"x-cos-meta-origin": "cam"})
    source = {"Bucket": bucket, "Key": "src/a.mp4", "Region": ep.cloud.region}

    copied = cos.copy_object(Bucket=bucket, Key="dst/a.mp4", CopySource=source)
    assert copied["ETag"] == put["ETag"]
    assert copied["CRC64"] == put["x-cos-hash-crc64ecma"]
    assert cos.head_object(Bucket=bucket, Key="dst/a.mp4")["x-cos-meta-origin"] == "cam"
    assert ep.cloud.cos.read_object(bucket, "dst/a.mp4") == b"A" * 5000

    cos.copy_object(
        Bucket=bucket,
        Key="dst/b.mp4",
        CopySource=source,
        CopyStatus="Replaced",
        Metadata={"x-cos-meta-origin": "edited"},
        ContentType="video/mp4",
    )
    head = cos.head_object(Bucket=bucket, Key="dst/b.mp4")
    assert (head["x-cos-meta-origin"], head["Content-Type"]) == ("edited", "video/mp4")

    with pytest.raises(CosServiceError) as exc:
        cos.copy_object(Bucket=bucket, Key="dst/c.mp4", CopySource=source, CopySourceIfMatch='"deadbeef"')
    assert error_of(exc) == (412, "PreconditionFailed")
    with pytest.raises(CosServiceError) as exc:
        cos.copy_object(Bucket=bucket, Key="dst/d.mp4", CopySource={**source, "Key": "src/missing.mp4"})
    assert error_of(exc) == (404, "NoSuchKey")

    # Deleting the source leaves the copy intact (bytes are shared, not moved).
    cos.delete_object(Bucket=bucket, Key="src/a.mp4")
    assert ep.cloud.cos.read_object(bucket, "dst/a.mp4") == b"A" * 5000


def test_object_tags_can_be_set_read_and_removed(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    cos.put_object(Bucket=bucket, Key="staging/x.mp4", Body=b"x")
    tagging = {"TagSet": {"Tag": [{"Key": "vodflow-state", "Value": "committed"}, {"Key": "job", "Value": "j1"}]}}
    cos.put_object_tagging(Bucket=bucket, Key="staging/x.mp4", Tagging=tagging)
    got = cos.get_object_tagging(Bucket=bucket, Key="staging/x.mp4")
    assert {t["Key"]: t["Value"] for t in got["TagSet"]["Tag"]} == {"vodflow-state": "committed", "job": "j1"}

    cos.delete_object_tagging(Bucket=bucket, Key="staging/x.mp4")
    assert ep.cloud.cos.get_tags(bucket, "staging/x.mp4") == {}

    too_many = {"TagSet": {"Tag": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}}
    with pytest.raises(CosServiceError) as exc:
        cos.put_object_tagging(Bucket=bucket, Key="staging/x.mp4", Tagging=too_many)
    assert error_of(exc) == (400, "InvalidTag")
    with pytest.raises(CosServiceError) as exc:
        cos.get_object_tagging(Bucket=bucket, Key="staging/none.mp4")
    assert error_of(exc) == (404, "NoSuchKey")


def test_listing_pages_with_prefix_marker_and_url_encoding(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    keys = ["in/a b.mp4", "in/ü-2.mp4", "in/c+d.mp4", "in/sub/e.mp4", "out/z.mp4"]
    for k in keys:
        cos.put_object(Bucket=bucket, Key=k, Body=k.encode())

    seen: list[str] = []
    marker = ""
    pages = 0
    while True:
        page = cos.list_objects(Bucket=bucket, Prefix="in/", Marker=marker, MaxKeys=2)
        pages += 1
        seen += [c["Key"] for c in page.get("Contents", [])]
        if page["IsTruncated"] == "false":
            break
        marker = page["NextMarker"]
    assert seen == sorted(k for k in keys if k.startswith("in/"))
    assert pages == 2

    folders = cos.list_objects(Bucket=bucket, Prefix="in/", Delimiter="/")
    assert [c["Key"] for c in folders["Contents"]] == ["in/a b.mp4", "in/c+d.mp4", "in/ü-2.mp4"]
    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["in/sub/"]

    with pytest.raises(CosServiceError) as exc:
        cos.list_objects(Bucket=bucket, MaxKeys="many")
    assert error_of(exc) == (400, "InvalidArgument")


def test_bucket_lifecycle_put_head_delete(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos = ep.cos_client()
    bucket = f"fresh-{ep.cloud.app_id}"
    cos.create_bucket(Bucket=bucket)
    assert cos.head_bucket(Bucket=bucket)["x-cos-bucket-region"] == ep.cloud.region
    with pytest.raises(CosServiceError) as exc:
        cos.create_bucket(Bucket=bucket)
    assert error_of(exc) == (409, "BucketAlreadyExists")
    # GET Service goes to service.cos.myqcloud.com whatever the IP setting: reach the server as a proxy.
    service = CosS3Client(ep.url_config(Proxies=ep.proxies)) if ep.server else cos
    assert bucket in [b["Name"] for b in service.list_buckets()["Buckets"]["Bucket"]]

    cos.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(CosServiceError) as exc:
        cos.delete_bucket(Bucket=bucket)
    assert error_of(exc) == (409, "BucketNotEmpty")
    cos.delete_object(Bucket=bucket, Key="k")
    cos.delete_bucket(Bucket=bucket)
    with pytest.raises(CosServiceError) as exc:
        cos.head_bucket(Bucket=bucket)
    assert exc.value.get_status_code() == 404
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_of(exc) == (404, "NoSuchBucket")


def test_error_bodies_carry_every_field_the_sdk_needs(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    with pytest.raises(CosServiceError) as exc:
        cos.get_object(Bucket=bucket, Key="nothing/here.txt")
    err = exc.value
    assert err.get_error_code() == "NoSuchKey"
    assert err.get_error_msg() == "The specified key does not exist."
    assert err.get_resource_location() == f"{bucket}.cos.{ep.cloud.region}.myqcloud.com/nothing/here.txt"
    assert err.get_request_id()
    assert err.get_trace_id() != "Unknown"


def test_delete_objects_removes_many_at_once(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    for k in ("tmp/1", "tmp/2", "keep"):
        cos.put_object(Bucket=bucket, Key=k, Body=b"x")
    result = cos.delete_objects(
        Bucket=bucket, Delete={"Object": [{"Key": "tmp/1"}, {"Key": "tmp/2"}, {"Key": "tmp/missing"}], "Quiet": "false"}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["tmp/1", "tmp/2", "tmp/missing"]
    assert [o.key for o in ep.cloud.cos.list_objects(bucket).contents] == ["keep"]


def test_utf8_metadata_round_trips_as_raw_bytes(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket, cos = make_bucket(ep), ep.cos_client()
    cos.put_object(Bucket=bucket, Key="u", Body=b"x", Metadata={"x-cos-meta-title": "视频"})
    assert ep.cloud.cos.head_object(bucket, "u").metadata["x-cos-meta-title"] == "视频"
    raw = cos.head_object(Bucket=bucket, Key="u")["x-cos-meta-title"]
    assert raw.encode("latin-1").decode("utf-8") == "视频"


def test_racing_create_once_puts_have_exactly_one_winner(cloud_and_endpoint: Endpoint) -> None:
    import threading

    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        cos = ep.cos_client()
        try:
            cos.put_object(Bucket=bucket, Key="lock", Body=f"{n}".encode(), Metadata={"x-cos-forbid-overwrite": "true"})
            result = "won"
        except CosServiceError as exc:
            result = exc.get_error_code()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["FileAlreadyExists"] * 7 + ["won"]
    assert ep.cloud.cos.head_object(bucket, "lock").version == 1
