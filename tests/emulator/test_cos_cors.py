"""COS bucket CORS and lifecycle on both fronts, through the official SDK and a browser's requests.

PUT/GET/DELETE Bucket cors; an OPTIONS preflight answered from the first matching rule (403 without CORS
headers when none matches, as COS does); ``Access-Control-*`` on actual replies (errors too); lifecycle
``AbortIncompleteMultipartUpload`` aborting unfinished uploads once the emulator clock has passed the days.
"""

from __future__ import annotations

import pytest
import requests
from qcloud_cos import CosS3Client, CosServiceError

from tests.emulator.conftest import Endpoint

ORIGIN = "http://127.0.0.1:8123"
RULE = {
    "ID": "page",
    "AllowedOrigin": [ORIGIN],
    "AllowedMethod": ["PUT", "POST", "GET", "HEAD"],
    "AllowedHeader": ["content-type", "x-cos-meta-*"],
    "ExposeHeader": ["ETag", "x-cos-request-id"],
    "MaxAgeSeconds": 600,
}


def _bucket(ep: Endpoint) -> str:
    bucket = f"staging-{ep.cloud.app_id}"
    ep.cos_client().create_bucket(Bucket=bucket)
    return bucket


def _url(ep: Endpoint, bucket: str, key: str) -> str:
    return f"{ep.scheme}://{bucket}.cos.{ep.cloud.region}.myqcloud.com/{key}"


def test_put_get_delete_bucket_cors_through_the_sdk(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos = ep.cos_client()
    bucket = _bucket(ep)
    with pytest.raises(CosServiceError) as exc:
        cos.get_bucket_cors(Bucket=bucket)
    assert (exc.value.get_status_code(), exc.value.get_error_code()) == (404, "NoSuchCORSConfiguration")
    cos.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRule": [RULE]})
    got = cos.get_bucket_cors(Bucket=bucket)
    rule = got["CORSRule"][0]
    assert rule["AllowedOrigin"] == [ORIGIN] or rule["AllowedOrigin"] == ORIGIN
    assert "ETag" in str(rule["ExposeHeader"])
    assert str(rule["MaxAgeSeconds"]) == "600"
    cos.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(CosServiceError):
        cos.get_bucket_cors(Bucket=bucket)


def test_preflight_allowed_refused_and_headers_on_replies(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos = ep.cos_client()
    bucket = _bucket(ep)
    url = _url(ep, bucket, "incoming/a.mp4")
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    # No configuration: refused.
    r = requests.options(url, headers=pre, proxies=ep.proxies, timeout=10)
    assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers
    cos.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRule": [RULE]})
    r = requests.options(
        url, headers={**pre, "Access-Control-Request-Headers": "Content-Type"}, proxies=ep.proxies, timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PUT" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert "ETag" in r.headers["Access-Control-Expose-Headers"]
    # Another origin, an unlisted method or header: refused, no CORS headers.
    for bad in (
        {**pre, "Origin": "http://evil.example"},
        {**pre, "Access-Control-Request-Method": "DELETE"},
        {**pre, "Access-Control-Request-Headers": "x-unlisted"},
    ):
        r = requests.options(url, headers=bad, proxies=ep.proxies, timeout=10)
        assert r.status_code == 403 and "AccessForbidden" in r.text
        assert "Access-Control-Allow-Origin" not in r.headers
    # An actual presigned PUT from the origin: the reply exposes ETag to the page; an error reply carries CORS too.
    signer = CosS3Client(ep.url_config())
    signed = signer.get_presigned_url(Bucket=bucket, Key="incoming/a.mp4", Method="PUT", Expired=300)
    r = requests.put(signed, data=b"abc", headers={"Origin": ORIGIN}, proxies=ep.proxies, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN and "ETag" in r.headers["Access-Control-Expose-Headers"]
    r = requests.put(url, data=b"abc", headers={"Origin": ORIGIN}, proxies=ep.proxies, timeout=10)
    assert r.status_code == 403 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    r = requests.put(signed, data=b"abc", headers={"Origin": "http://evil.example"}, proxies=ep.proxies, timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_lifecycle_aborts_incomplete_uploads_on_the_emulator_clock(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    cos = ep.cos_client()
    bucket = _bucket(ep)
    old = cos.create_multipart_upload(Bucket=bucket, Key="incoming/old.mp4")["UploadId"]
    cos.upload_part(Bucket=bucket, Key="incoming/old.mp4", Body=b"x" * 10, PartNumber=1, UploadId=old)
    other = cos.create_multipart_upload(Bucket=bucket, Key="elsewhere/keep.mp4")["UploadId"]
    rule = {
        "ID": "abort-stale",
        "Filter": {"Prefix": "incoming/"},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
    }
    cos.put_bucket_lifecycle(Bucket=bucket, LifecycleConfiguration={"Rule": [rule]})
    got = cos.get_bucket_lifecycle(Bucket=bucket)
    assert str(got["Rule"][0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]) == "2"
    model = ep.cloud.cos
    # Actions the emulator does not model are refused, changing nothing.
    expire = {"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}
    with pytest.raises(CosServiceError) as exc:
        no_retry = CosS3Client(ep.cos_config(), retry=0)
        no_retry.put_bucket_lifecycle(Bucket=bucket, LifecycleConfiguration={"Rule": [expire]})
    assert exc.value.get_status_code() == 501
    assert model.get_bucket(bucket).lifecycle[0].rule_id == "abort-stale"
    assert {u.upload_id for u in model.list_multipart_uploads(bucket)} == {old, other}
    ep.cloud.clock.advance(2 * 86400 - 60)
    assert {u.upload_id for u in model.list_multipart_uploads(bucket)} == {old, other}
    ep.cloud.clock.advance(120)
    assert {u.upload_id for u in model.list_multipart_uploads(bucket)} == {other}
    model.delete_lifecycle(bucket)
    assert model.get_bucket(bucket).lifecycle == []


def test_an_injected_error_carries_cors_headers_like_a_real_one(cloud_and_endpoint: Endpoint) -> None:
    """A fault (e.g. 403 Request has expired) reaches a page as the error it is, not as a CORS failure."""
    ep = cloud_and_endpoint
    bucket = _bucket(ep)
    ep.cos_client().put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRule": [RULE]})
    signed = CosS3Client(ep.url_config()).get_presigned_url(Bucket=bucket, Key="a.mp4", Method="PUT", Expired=300)
    ep.cloud.faults.inject("cos", "PutObject", code="AccessDenied", status=403, message="Request has expired")
    r = requests.put(signed, data=b"abc", headers={"Origin": ORIGIN}, proxies=ep.proxies, timeout=10)
    assert r.status_code == 403 and "Request has expired" in r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
