"""What the COS emulator does not model it refuses (501 NotImplemented) before touching any state; what it models
it models as COS does. Issue 18's cases, through the unmodified SDK on both fronts.

Clients here use ``retry=0``: the SDK retries every 5xx (501 included) with 1 s, 2 s, 3 s sleeps.
"""

from __future__ import annotations

import hashlib
import http.client
import time
from typing import Any, Callable

import pytest
import requests
from qcloud_cos import CosS3Client, CosServiceError

from tests.emulator.conftest import Endpoint

BODY = b"original bytes " * 100
KEY = "clips/a.mp4"


def setup(ep: Endpoint, **config: Any) -> tuple[CosS3Client, str]:
    cos = CosS3Client(ep.cos_config(**config), retry=0)
    bucket = f"strict-{ep.cloud.app_id}"
    cos.create_bucket(Bucket=bucket)
    cos.put_object(Bucket=bucket, Key=KEY, Body=BODY)
    return cos, bucket


def state(ep: Endpoint) -> Any:
    cos = ep.cloud.cos
    return [
        (b.name, sorted((k, cos.read_object(b.name, k), cos.get_tags(b.name, k)) for k in b.objects), sorted(b.uploads))
        for b in sorted(cos.list_buckets(), key=lambda b: b.name)
    ]


def refused(ep: Endpoint, call: Callable[[], Any], code: str = "NotImplemented", status: int = 501) -> None:
    before = state(ep)
    with pytest.raises(CosServiceError) as exc:
        call()
    assert (exc.value.get_status_code(), exc.value.get_error_code()) == (status, code)
    assert state(ep) == before


# -- issue 18's sub-resource cases -------------------------------------------------------------------
def test_object_acl_is_refused_and_the_object_keeps_its_bytes(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    refused(ep, lambda: cos.put_object_acl(Bucket=bucket, Key=KEY, ACL="private"))
    refused(ep, lambda: cos.get_object_acl(Bucket=bucket, Key=KEY))
    assert ep.cloud.cos.read_object(bucket, KEY) == BODY
    assert ep.cloud.requests[-1].action == "GetObjectAcl"


def test_live_channels_and_append_do_not_create_objects(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    refused(ep, lambda: cos.put_live_channel(Bucket=bucket, ChannelName="ch"))
    refused(ep, lambda: cos.append_object(Bucket=bucket, Key="appended", Position=0, Data=b"x"))
    refused(ep, lambda: cos.put_symlink(Bucket=bucket, SymlinkName="link", SymlinkTarget=KEY))
    assert ep.cloud.cos.head_object(bucket, "ch") is None


def test_bucket_sub_resources_neither_list_nor_create_nor_delete(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    refused(ep, lambda: cos.get_bucket_location(Bucket=bucket))
    missing = f"missing-{ep.cloud.app_id}"
    refused(ep, lambda: cos.put_bucket_origin(Bucket=missing, OriginConfiguration={}))
    assert missing not in [b.name for b in ep.cloud.cos.list_buckets()]
    empty = f"empty-{ep.cloud.app_id}"
    cos.create_bucket(Bucket=empty)
    refused(ep, lambda: cos.delete_bucket_origin(Bucket=empty))
    refused(ep, lambda: cos.delete_bucket_referer(Bucket=empty))
    refused(ep, lambda: cos.delete_bucket_policy(Bucket=empty))
    assert empty in [b.name for b in ep.cloud.cos.list_buckets()]


def test_unknown_query_parameters_are_refused_and_a_version_id_never_means_the_current_object(
    cloud_and_endpoint: Endpoint,
) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    # versionId is modelled (test_cos_versioning.py): a version the bucket never had is 404, never the current bytes.
    with pytest.raises(CosServiceError) as info:
        cos.get_object(Bucket=bucket, Key=KEY, VersionId="MTg0NDUxNzc2ODQ2NjY4NzEyNjk")
    assert (info.value.get_status_code(), info.value.get_error_code()) == (404, "NoSuchVersion")
    cos.delete_object(Bucket=bucket, Key=KEY, VersionId="MTg0NDUxNzc2ODQ2NjY4NzEyNjk")
    assert ep.cloud.cos.read_object(bucket, KEY) == BODY
    # Image processing: a GET with a processing rule must not return the original bytes as if processed.
    refused(ep, lambda: cos.ci_get_object(Bucket=bucket, Key=KEY, DestImagePath="/dev/null", Rule="imageMogr2/th"))
    got = cos.get_object(Bucket=bucket, Key=KEY, ResponseContentType="text/plain")
    assert got["Content-Type"] == "text/plain"
    assert got["Body"].get_raw_stream().read() == BODY


# -- semantic headers --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=",
         "SSECustomerKeyMD5": "U5L61r7jcwdNvT7frmUG8g=="},
        {"ServerSideEncryption": "cos/kms"},
        {"StorageClass": "ARCHIVE"},
        {"StorageClass": "DEEP_ARCHIVE"},
        {"StorageClass": "INTELLIGENT_TIERING"},
        {"TrafficLimit": "819200"},
        {"ACL": "public-read"},
        {"GrantRead": 'id="qcs::cam::uin/100000000001:uin/100000000001"'},
        {"IfNoneMatch": "*"},
        {"Metadata": {"x-cos-website-redirect-location": "/x"}},
    ],
    ids=["sse-c", "sse-kms", "archive", "deep-archive", "tiering", "traffic-limit", "acl", "grant", "if-none-match",
         "unknown-x-cos"],
)  # fmt: skip
def test_unmodelled_headers_refuse_the_put_and_nothing_is_written(
    cloud_and_endpoint: Endpoint, headers: dict[str, Any]
) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    refused(ep, lambda: cos.put_object(Bucket=bucket, Key=KEY, Body=b"new", **headers))
    refused(ep, lambda: cos.create_multipart_upload(Bucket=bucket, Key="mp", **headers))
    assert ep.cloud.cos.read_object(bucket, KEY) == BODY


def test_invalid_header_values_are_400s(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    for headers in ({"StorageClass": "COLD"}, {"ServerSideEncryption": "DES"}):
        refused(ep, lambda h=headers: cos.put_object(Bucket=bucket, Key=KEY, Body=b"x", **h), "InvalidArgument", 400)


def test_traffic_limit_on_a_get_is_refused(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    refused(ep, lambda: cos.get_object(Bucket=bucket, Key=KEY, TrafficLimit="819200"))


def test_sse_cos_is_echoed_on_put_head_get_copy_and_multipart(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    put = cos.put_object(Bucket=bucket, Key="enc", Body=b"secret", ServerSideEncryption="AES256")
    assert put["x-cos-server-side-encryption"] == "AES256"
    assert cos.head_object(Bucket=bucket, Key="enc")["x-cos-server-side-encryption"] == "AES256"
    got = cos.get_object(Bucket=bucket, Key="enc")
    assert got["x-cos-server-side-encryption"] == "AES256"
    assert got["Body"].get_raw_stream().read() == b"secret"
    assert "x-cos-server-side-encryption" not in cos.head_object(Bucket=bucket, Key=KEY)

    src = {"Bucket": bucket, "Key": KEY, "Region": ep.cloud.region}
    cos.copy_object(Bucket=bucket, Key="enc-copy", CopySource=src, ServerSideEncryption="AES256")
    assert cos.head_object(Bucket=bucket, Key="enc-copy")["x-cos-server-side-encryption"] == "AES256"

    init = cos.create_multipart_upload(Bucket=bucket, Key="enc-mp", ServerSideEncryption="AES256")
    part = cos.upload_part(Bucket=bucket, Key="enc-mp", Body=b"p", PartNumber=1, UploadId=init["UploadId"])
    assert part["x-cos-server-side-encryption"] == "AES256"
    cos.complete_multipart_upload(
        Bucket=bucket,
        Key="enc-mp",
        UploadId=init["UploadId"],
        MultipartUpload={"Part": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert cos.head_object(Bucket=bucket, Key="enc-mp")["x-cos-server-side-encryption"] == "AES256"


def test_standard_ia_is_stored_echoed_and_listed(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    cos.put_object(Bucket=bucket, Key="ia", Body=b"cold-ish", StorageClass="STANDARD_IA")
    assert cos.head_object(Bucket=bucket, Key="ia")["x-cos-storage-class"] == "STANDARD_IA"
    assert cos.get_object(Bucket=bucket, Key="ia")["Body"].get_raw_stream().read() == b"cold-ish"
    listed = {c["Key"]: c["StorageClass"] for c in cos.list_objects(Bucket=bucket)["Contents"]}
    assert listed == {KEY: "STANDARD", "ia": "STANDARD_IA"}
    cos.change_object_storage_class(Bucket=bucket, Key=KEY, StorageClass="STANDARD_IA")
    assert cos.head_object(Bucket=bucket, Key=KEY)["x-cos-storage-class"] == "STANDARD_IA"
    assert ep.cloud.cos.read_object(bucket, KEY) == BODY
    refused(ep, lambda: cos.change_object_storage_class(Bucket=bucket, Key=KEY, StorageClass="ARCHIVE"))


def test_copy_keeps_the_source_tags_unless_replaced(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    cos.put_object_tagging(Bucket=bucket, Key=KEY, Tagging={"TagSet": {"Tag": [{"Key": "stage", "Value": "in"}]}})
    src = {"Bucket": bucket, "Key": KEY, "Region": ep.cloud.region}
    cos.copy_object(Bucket=bucket, Key="copy1", CopySource=src)
    assert ep.cloud.cos.get_tags(bucket, "copy1") == {"stage": "in"}
    cos.copy_object(
        Bucket=bucket, Key="copy2", CopySource=src, Metadata={"x-cos-tagging-directive": "Replaced"}, Tagging="a=b"
    )
    assert ep.cloud.cos.get_tags(bucket, "copy2") == {"a": "b"}


def test_private_acl_headers_are_accepted(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    cos.put_object(Bucket=bucket, Key="p", Body=b"x", ACL="private")
    cos.create_bucket(Bucket=f"private-{ep.cloud.app_id}", ACL="private")


def test_cors_preflight_without_rules_is_forbidden(server_endpoint: Endpoint) -> None:
    ep = server_endpoint
    setup(ep)
    resp = requests.options(
        f"http://strict-{ep.cloud.app_id}.cos.{ep.cloud.region}.myqcloud.com/{KEY}",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "PUT"},
        proxies=ep.proxies,
        timeout=10,
    )
    assert resp.status_code == 403  # modelled now (test_cos_cors.py): a bucket without CORS rules refuses
    assert "<Code>AccessForbidden</Code>" in resp.text


def test_other_products_hosts_are_refused(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    if ep.server is None:
        refused(ep, lambda: cos.ci_get_media_queue(Bucket=bucket))


# -- the three object-level divergences --------------------------------------------------------------
def test_upload_part_copy_without_a_range_copies_the_whole_source(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    src = {"Bucket": bucket, "Key": KEY, "Region": ep.cloud.region}
    up = cos.create_multipart_upload(Bucket=bucket, Key="whole")
    # The SDK sends "x-cos-copy-source-range: " (empty) when CopySourceRange is not given.
    part = cos.upload_part_copy(Bucket=bucket, Key="whole", PartNumber=1, UploadId=up["UploadId"], CopySource=src)
    assert part["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'
    cos.complete_multipart_upload(
        Bucket=bucket,
        Key="whole",
        UploadId=up["UploadId"],
        MultipartUpload={"Part": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert ep.cloud.cos.read_object(bucket, "whole") == BODY


def test_connection_close_is_answered_with_connection_close(server_endpoint: Endpoint) -> None:
    ep = server_endpoint
    cos, bucket = setup(ep, KeepAlive=False)  # the SDK then sends "Connection: close" on every request
    for i in range(5):  # the pooled connection is not reused after the server closed it
        cos.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x" * i)
        assert cos.head_object(Bucket=bucket, Key=f"k{i}")["Connection"] == "close"
    conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=10)
    conn.request("GET", "/", headers={"Host": f"cos.{ep.cloud.region}.myqcloud.com", "Connection": "close"})
    resp = conn.getresponse()
    assert resp.getheader("Connection") == "close"
    resp.read()
    assert resp.will_close
    conn.close()
    started = time.monotonic()
    assert [c["Key"] for c in cos.list_objects(Bucket=bucket)["Contents"]][:1] == [KEY]
    assert time.monotonic() - started < 5


def test_a_signed_parameter_name_with_reserved_characters_verifies(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    # The SDK lists "imagemogr2%2fformat%2favif" in q-url-param-list: the signature verifies, then the
    # processing (not modelled) is refused. Before the fix this was 403 SignatureDoesNotMatch.
    refused(ep, lambda: cos.ci_download_compress_image(Bucket=bucket, Key=KEY, DestImagePath="/dev/null",
                                                      CompressType="avif"))  # fmt: skip
    assert ep.cloud.requests[-1].status == 501
    # A presigned GET with reserved characters in a parameter value verifies and is served.
    url = CosS3Client(ep.url_config()).get_presigned_url(
        Bucket=bucket, Key=KEY, Method="GET", Params={"response-content-disposition": "attachment; filename=a/b;c"}
    )
    resp = requests.get(url, proxies=ep.proxies, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Disposition"] == "attachment; filename=a/b;c"
    assert resp.content == BODY


def test_service_listing_pages_with_marker_and_max_keys(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos, bucket = setup(ep)
    for name in ("aaa", "bbb"):
        cos.create_bucket(Bucket=f"{name}-{ep.cloud.app_id}")
    # GET Service goes to service.cos.myqcloud.com whatever the IP setting: reach the server as a proxy.
    cos = CosS3Client(ep.url_config(Proxies=ep.proxies), retry=0) if ep.server else cos
    page = cos.list_buckets(MaxKeys=2)
    assert [b["Name"] for b in page["Buckets"]["Bucket"]] == [f"aaa-{ep.cloud.app_id}", f"bbb-{ep.cloud.app_id}"]
    assert page["IsTruncated"] == "true"
    rest = cos.list_buckets(Marker=page["NextMarker"])
    assert [b["Name"] for b in rest["Buckets"]["Bucket"]] == [bucket]
    refused(ep, lambda: cos.list_buckets(TagKey="a", TagValue="b"))
