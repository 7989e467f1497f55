"""Who may do what in COS: signatures, presigned URLs, temporary keys and their scope, buckets and regions."""

from __future__ import annotations

import pytest
import requests
from qcloud_cos import CosS3Client, CosServiceError

from tencent_emulator.core.iam import KeyRecord, Scope, Statement
from tests.emulator.conftest import Endpoint


def make_bucket(ep: Endpoint) -> str:
    bucket = f"uploads-{ep.cloud.app_id}"
    ep.cloud.cos.create_bucket(bucket)
    return bucket


def error_of(exc: pytest.ExceptionInfo[CosServiceError]) -> tuple[int, str]:
    return exc.value.get_status_code(), exc.value.get_error_code()


def scoped_key(ep: Endpoint, resource: str, duration_s: float = 1800) -> KeyRecord:
    return ep.cloud.iam.issue_temporary("uploader", duration_s, Scope((Statement(("cos:*",), (resource,)),)))


def test_a_presigned_get_works_until_it_expires_and_only_for_its_key(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    ep.cloud.cos.put_object(bucket, "media/a.mp4", b"video bytes")
    ep.cloud.cos.put_object(bucket, "media/b.mp4", b"other bytes")
    signer = CosS3Client(ep.url_config())
    url = signer.get_presigned_url(Bucket=bucket, Key="media/a.mp4", Method="GET", Expired=300)

    ok = requests.get(url, proxies=ep.proxies, timeout=10)
    assert ok.status_code == 200
    assert ok.content == b"video bytes"
    assert ok.headers["Server"] == "tencent-cos"

    other = requests.get(url.replace("media/a.mp4", "media/b.mp4"), proxies=ep.proxies, timeout=10)
    assert other.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in other.text
    assert "<StringToSign>" in other.text

    ep.cloud.clock.advance(301)
    late = requests.get(url, proxies=ep.proxies, timeout=10)
    assert late.status_code == 403
    assert "<Code>AccessDenied</Code>" in late.text
    assert "<Message>Request has expired</Message>" in late.text
    assert "<ServerTime>" in late.text


def test_a_presigned_put_with_a_temporary_key_carries_its_token_in_the_query(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    key = scoped_key(ep, f"{bucket}/incoming/*")
    signer = CosS3Client(ep.url_config(secret_id=key.secret_id, secret_key=key.secret_key, token=key.token))
    url = signer.get_presigned_url(
        Bucket=bucket, Key="incoming/x.bin", Method="PUT", Params={"x-cos-security-token": key.token}
    )
    put = requests.put(url, data=b"from a browser", proxies=ep.proxies, timeout=10)
    assert put.status_code == 200, put.text
    assert ep.cloud.cos.read_object(bucket, "incoming/x.bin") == b"from a browser"

    # Without the token the temporary key is unknown.
    bare = url.split("&x-cos-security-token=")[0]
    refused = requests.put(bare, data=b"again", proxies=ep.proxies, timeout=10)
    assert refused.status_code == 403
    assert "<Code>InvalidAccessKeyId</Code>" in refused.text


def test_a_wrong_secret_key_gives_signature_does_not_match(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    cos = ep.cos_client(secret_key="not-the-right-secret-key")
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert error_of(exc) == (403, "SignatureDoesNotMatch")
    assert exc.value.get_error_msg() == "The Signature you specified is invalid."


def test_a_tampered_header_breaks_the_signature(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    ep.cloud.cos.put_object(bucket, "k.txt", b"x")
    signer = CosS3Client(ep.url_config())
    host = f"{bucket}.cos.{ep.cloud.region}.myqcloud.com"
    auth = signer.get_auth(Method="GET", Bucket=bucket, Key="k.txt", Headers={"Range": "bytes=0-0"})
    url = f"{ep.scheme}://{host}/k.txt"
    good = requests.get(url, headers={"Authorization": auth, "Range": "bytes=0-0"}, proxies=ep.proxies, timeout=10)
    assert good.status_code == 206
    bad = requests.get(url, headers={"Authorization": auth, "Range": "bytes=0-1"}, proxies=ep.proxies, timeout=10)
    assert bad.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in bad.text


def test_an_unknown_secret_id_is_invalid_access_key_id(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    cos = ep.cos_client(secret_id="AKIDnobodyhasthiskeyatallxxxxxxxxxxx")
    with pytest.raises(CosServiceError) as exc:
        cos.get_object(Bucket=bucket, Key="x")
    assert error_of(exc) == (403, "InvalidAccessKeyId")


def test_an_expired_temporary_token_is_expired_token(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    key = scoped_key(ep, f"{bucket}/*", duration_s=60)
    cos = ep.cos_client(secret_id=key.secret_id, secret_key=key.secret_key, token=key.token)
    cos.put_object(Bucket=bucket, Key="early.txt", Body=b"x")
    ep.cloud.clock.advance(120)
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="late.txt", Body=b"x")
    assert error_of(exc) == (400, "ExpiredToken")


def test_a_wrong_token_is_invalid_access_key_id(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    key = scoped_key(ep, f"{bucket}/*")
    cos = ep.cos_client(secret_id=key.secret_id, secret_key=key.secret_key, token="a-token-from-another-session")
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert error_of(exc) == (403, "InvalidAccessKeyId")


def test_a_key_scoped_to_a_prefix_cannot_write_outside_it(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    key = scoped_key(ep, f"{bucket}/jobs/j1/*")
    cos = ep.cos_client(secret_id=key.secret_id, secret_key=key.secret_key, token=key.token)
    cos.put_object(Bucket=bucket, Key="jobs/j1/part.bin", Body=b"mine")
    with pytest.raises(CosServiceError) as exc:
        cos.put_object(Bucket=bucket, Key="jobs/j2/part.bin", Body=b"not mine")
    assert error_of(exc) == (403, "AccessDenied")
    with pytest.raises(CosServiceError) as exc:
        cos.list_objects(Bucket=bucket, Prefix="jobs/")
    assert error_of(exc) == (403, "AccessDenied")
    assert ep.cloud.cos.head_object(bucket, "jobs/j2/part.bin") is None


def test_anonymous_requests_to_a_private_bucket_are_denied(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    ep.cloud.cos.put_object(bucket, "secret.txt", b"x")
    cos = ep.cos_client(Anonymous=True)
    with pytest.raises(CosServiceError) as exc:
        cos.get_object(Bucket=bucket, Key="secret.txt")
    assert error_of(exc) == (403, "AccessDenied")


def test_missing_buckets_and_wrong_regions_are_no_such_bucket(cloud_and_endpoint: Endpoint) -> None:
    ep = cloud_and_endpoint
    bucket = make_bucket(ep)
    with pytest.raises(CosServiceError) as exc:
        ep.cos_client().put_object(Bucket=f"absent-{ep.cloud.app_id}", Key="x", Body=b"x")
    assert error_of(exc) == (404, "NoSuchBucket")
    with pytest.raises(CosServiceError) as exc:
        ep.cos_client(region="ap-shanghai").put_object(Bucket=bucket, Key="x", Body=b"x")
    assert error_of(exc) == (404, "NoSuchBucket")


def test_another_accounts_bucket_needs_a_key_scoped_to_it(cloud_and_endpoint: Endpoint) -> None:
    """VOD's storage buckets belong to VOD's account: the root key is refused, a TempCertificate-like key is not."""
    ep = cloud_and_endpoint
    vod_bucket = "vodgzp1300000000-1300000000"
    ep.cloud.cos.create_bucket(vod_bucket)
    with pytest.raises(CosServiceError) as exc:
        ep.cos_client().put_object(Bucket=vod_bucket, Key="dir/f0.mp4", Body=b"x")
    assert error_of(exc) == (403, "AccessDenied")
    key = scoped_key(ep, f"{vod_bucket}/dir/*")
    cos = ep.cos_client(secret_id=key.secret_id, secret_key=key.secret_key, token=key.token)
    cos.put_object(Bucket=vod_bucket, Key="dir/f0.mp4", Body=b"x")
    assert ep.cloud.cos.read_object(vod_bucket, "dir/f0.mp4") == b"x"
