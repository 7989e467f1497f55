"""Known-answer tests: the emulator's signature checks against the official SDKs' signers, both ways.

Fixed keys and a fixed clock. The SDKs sign (``qcloud_cos.cos_auth.CosS3Auth``, tencentcloud's
``AbstractClient._build_req_with_tc3_signature``); the exact signatures are pinned here, recomputed by the
emulator's own code (``cos/auth.py``, ``core/tc3.py``), accepted by its verifiers, and every tampered
variant is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Optional
from unittest import mock

import pytest
import requests
from qcloud_cos import CosConfig
from qcloud_cos.cos_auth import CosS3Auth
from tencentcloud.common import credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator.core.http import Request
from tencent_emulator.core.iam import AuthError, KeyRecord
from tencent_emulator.core.tc3 import ApiError, Tc3Front, tc3_signature
from tencent_emulator.cos import auth
from tencent_emulator.cos.errors import CosError

SECRET_ID = "AKIDKATEXAMPLE0000000000000000000000"
SECRET_KEY = "katSecretKey0000000000000000000000"
NOW = 1700000000  # 2023-11-14T22:13:20Z

COS_URL = "https://kat-1250000000.cos.ap-guangzhou.myqcloud.com/kat/object%20one.bin"
COS_KEY = "kat/object one.bin"
# A parameter name with reserved characters: the signer lists it URL-encoded in q-url-param-list.
COS_PARAMS = {"partNumber": "1", "uploadId": "u/1", "imageMogr2/thumbnail/!50p": ""}
COS_HEADERS = {"Content-Type": "video/mp4", "x-cos-meta-note": "a/b c"}
COS_BODY = b"kat body"
COS_AUTHORIZATION = (
    "q-sign-algorithm=sha1&q-ak=AKIDKATEXAMPLE0000000000000000000000"
    "&q-sign-time=1699999940;1700010000&q-key-time=1699999940;1700010000"
    "&q-header-list=content-length;content-type;host;x-cos-meta-note"
    "&q-url-param-list=imagemogr2%2fthumbnail%2f%2150p;partnumber;uploadid"
    "&q-signature=07f0d72290adf025d07d08c3d0a7731b7f039638"
)
COS_HTTP_STRING = (
    "put\n/kat/object one.bin\n"
    "imagemogr2%2fthumbnail%2f%2150p=&partnumber=1&uploadid=u%2F1\n"
    "content-length=8&content-type=video%2Fmp4&host=kat-1250000000.cos.ap-guangzhou.myqcloud.com"
    "&x-cos-meta-note=a%2Fb%20c\n"
)

TC3_POST_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDKATEXAMPLE0000000000000000000000/2023-11-14/vod/tc3_request, "
    "SignedHeaders=content-type;host, Signature=9f27fc52e3e9091ea09daf8281ac72b111d45e00892df600743a164cf69dcb41"
)
TC3_GET_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDKATEXAMPLE0000000000000000000000/2023-11-14/vod/tc3_request, "
    "SignedHeaders=content-type;host, Signature=f2111d4013d04e7e22b0aa3fb427e2b71fe2b4370824a32d4ba1cc55cd153a1f"
)


class _Clock:
    def now(self) -> float:
        return float(NOW)

    def wall(self) -> float:
        return float(NOW)


class _Iam:
    def authenticate(self, secret_id: str, token: Optional[str]) -> KeyRecord:
        if secret_id != SECRET_ID:
            raise AuthError("not_found", "unknown key")
        return KeyRecord(SECRET_ID, SECRET_KEY, "root")


class _Cloud:
    """What the verifiers read: the keys and the clock."""

    iam = _Iam()
    clock = _Clock()


# -- COS ---------------------------------------------------------------------------------------------
def _cos_signed(
    method: str = "PUT", params: Optional[dict[str, str]] = None, headers: Optional[dict[str, str]] = None
) -> requests.PreparedRequest:
    params = dict(COS_PARAMS if params is None else params)
    conf = CosConfig(Region="ap-guangzhou", SecretId=SECRET_ID, SecretKey=SECRET_KEY)
    prepared = requests.Request(
        method, COS_URL, headers=dict(COS_HEADERS if headers is None else headers), params=params, data=COS_BODY
    ).prepare()
    with mock.patch("qcloud_cos.cos_auth.time.time", return_value=NOW):
        CosS3Auth(conf, COS_KEY, params)(prepared)
    return prepared


def _as_emulator_request(p: requests.PreparedRequest, **changes: Any) -> Request:
    headers = dict(p.headers)
    headers.update(changes.pop("headers", {}))
    return Request.from_url(changes.pop("method", p.method or ""), changes.pop("url", p.url or ""), headers, p.body)


def test_the_cos_sdk_signature_is_the_known_answer() -> None:
    assert _cos_signed().headers["Authorization"] == COS_AUTHORIZATION


def test_the_emulator_computes_the_same_cos_signature() -> None:
    req = _as_emulator_request(_cos_signed())
    sig = auth.parse(req)
    assert sig is not None
    assert sig.param_list == ("imagemogr2%2fthumbnail%2f%2150p", "partnumber", "uploadid")
    http_string = auth.format_string(req, sig, "kat-1250000000.cos.ap-guangzhou.myqcloud.com")
    assert http_string == COS_HTTP_STRING
    string_to_sign, signature = auth.compute(SECRET_KEY, sig.sign_time, sig.key_time, http_string)
    sha = hashlib.sha1(COS_HTTP_STRING.encode()).hexdigest()
    assert string_to_sign == f"sha1\n1699999940;1700010000\n{sha}\n"
    assert signature == "07f0d72290adf025d07d08c3d0a7731b7f039638"


def test_the_emulator_accepts_the_cos_sdk_signature() -> None:
    key = auth.verify(_as_emulator_request(_cos_signed()), _Cloud())
    assert key is not None and key.secret_id == SECRET_ID


def test_a_presigned_url_with_reserved_characters_in_a_parameter_name_verifies() -> None:
    conf = CosConfig(Region="ap-guangzhou", SecretId=SECRET_ID, SecretKey=SECRET_KEY)
    from qcloud_cos import CosS3Client

    client = CosS3Client(conf)
    params = {"a/b;c": "x/y z", "response-content-type": "text/plain"}
    with mock.patch("qcloud_cos.cos_auth.time.time", return_value=NOW):
        url = client.get_presigned_url(Bucket="kat-1250000000", Key=COS_KEY, Method="GET", Params=params)
    key = auth.verify(Request.from_url("GET", url, {}, b""), _Cloud())
    assert key is not None


@pytest.mark.parametrize(
    "change",
    [
        {"method": "POST"},
        {"url": COS_URL.replace("object%20one", "object%20two")},
        {"url": COS_URL + "?partNumber=2&uploadId=u%2F1&imageMogr2%2Fthumbnail%2F%2150p="},
        {"url": COS_URL + "?partNumber=1&uploadIdx=u%2F1&imageMogr2%2Fthumbnail%2F%2150p="},
        {"headers": {"Content-Type": "video/mp2t"}},
        {"headers": {"x-cos-meta-note": "a/b d"}},
        {"headers": {"Host": "other-1250000000.cos.ap-guangzhou.myqcloud.com"}},
        {"headers": {"Authorization": COS_AUTHORIZATION.replace("1700010000", "1700010001")}},
        {"headers": {"Authorization": COS_AUTHORIZATION.replace("q-signature=07f0", "q-signature=07f1")}},
        {"headers": {"Authorization": COS_AUTHORIZATION.replace(";x-cos-meta-note", "")}},
        {"headers": {"Authorization": COS_AUTHORIZATION.replace("%2f%2150p;", "/!50p;")}},
    ],
    ids=[
        "method",
        "path",
        "param-value",
        "param-name",
        "signed-header",
        "meta-header",
        "host",
        "key-time",
        "signature",
        "header-list",
        "decoded-param-list",
    ],
)
def test_a_tampered_cos_request_is_refused(change: dict[str, Any]) -> None:
    url = change.get("url")
    prepared = _cos_signed()
    req = _as_emulator_request(prepared, **change)
    if url is not None:
        req = Request.from_url(prepared.method or "", url, dict(prepared.headers), prepared.body)
    with pytest.raises(CosError) as err:
        auth.verify(req, _Cloud())
    assert err.value.code == "SignatureDoesNotMatch"


def test_a_cos_signature_by_another_key_is_refused() -> None:
    prepared = _cos_signed()
    conf = CosConfig(Region="ap-guangzhou", SecretId=SECRET_ID, SecretKey="another" + SECRET_KEY[7:])
    with mock.patch("qcloud_cos.cos_auth.time.time", return_value=NOW):
        CosS3Auth(conf, COS_KEY, COS_PARAMS)(prepared)
    with pytest.raises(CosError) as err:
        auth.verify(_as_emulator_request(prepared), _Cloud())
    assert err.value.code == "SignatureDoesNotMatch"


# -- TC3 ---------------------------------------------------------------------------------------------
class _VodFront(Tc3Front):
    service = "vod"
    version = "2018-07-17"


def _tc3_signed(method: str) -> RequestInternal:
    client = VodClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou")
    req = RequestInternal("vod.tencentcloudapi.com", method, "/")
    with mock.patch("tencentcloud.common.abstract_client.time.time", return_value=NOW):
        client._build_req_with_tc3_signature("DescribeMediaInfos", {"FileIds": ["5285890781763144364"]}, req)
    return req


def _tc3_request(sdk: RequestInternal, **changes: Any) -> Request:
    headers = dict(sdk.header)
    headers.update(changes.get("headers", {}))
    body = changes.get("body", sdk.data)
    if sdk.method == "GET":
        return Request.from_url("GET", f"https://vod.tencentcloudapi.com/?{body}", headers, b"")
    return Request.from_url("POST", "https://vod.tencentcloudapi.com/", headers, body.encode())


@pytest.mark.parametrize(("method", "expected"), [("POST", TC3_POST_AUTHORIZATION), ("GET", TC3_GET_AUTHORIZATION)])
def test_the_tc3_sdk_signature_is_the_known_answer_and_the_emulator_agrees(method: str, expected: str) -> None:
    sdk = _tc3_signed(method)
    assert sdk.header["Authorization"] == expected
    # The documented algorithm, step by step, gives the same signature as the emulator's key derivation.
    payload = b"" if method == "GET" else sdk.data.encode()
    query = sdk.data if method == "GET" else ""
    canonical = "\n".join(
        [
            method,
            "/",
            query,
            f"content-type:{sdk.header['Content-Type']}\nhost:vod.tencentcloudapi.com\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(NOW), "2023-11-14/vod/tc3_request", hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = tc3_signature(SECRET_KEY, "2023-11-14", "vod", string_to_sign)
    assert expected.endswith(f"Signature={signature}")
    k = hmac.new(("TC3" + SECRET_KEY).encode(), b"2023-11-14", hashlib.sha256).digest()
    k = hmac.new(hmac.new(k, b"vod", hashlib.sha256).digest(), b"tc3_request", hashlib.sha256).digest()
    assert hmac.new(k, string_to_sign.encode(), hashlib.sha256).hexdigest() == signature
    key = _VodFront(_Cloud()).authenticate(_tc3_request(sdk))
    assert key.secret_id == SECRET_ID


@pytest.mark.parametrize(
    "change",
    [
        {"body": '{"FileIds": ["5285890781763144365"]}'},
        {"headers": {"X-TC-Timestamp": str(NOW + 1)}},
        {"headers": {"Content-Type": "application/json; charset=utf-8"}},
        {"headers": {"Host": "vod.ap-guangzhou.tencentcloudapi.com"}},
        {"headers": {"Authorization": TC3_POST_AUTHORIZATION.replace("/vod/", "/scf/")}},
        {"headers": {"Authorization": TC3_POST_AUTHORIZATION.replace("2023-11-14", "2023-11-15")}},
        {"headers": {"Authorization": TC3_POST_AUTHORIZATION.replace("Signature=9f27", "Signature=9f28")}},
    ],
    ids=["body", "timestamp", "content-type", "host", "service", "date", "signature"],
)
def test_a_tampered_tc3_request_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as err:
        _VodFront(_Cloud()).authenticate(_tc3_request(_tc3_signed("POST"), **change))
    assert err.value.code == "AuthFailure.SignatureFailure"


def test_a_tc3_signature_by_another_key_is_refused() -> None:
    client = VodClient(credential.Credential(SECRET_ID, "another" + SECRET_KEY[7:]), "ap-guangzhou")
    req = RequestInternal("vod.tencentcloudapi.com", "POST", "/")
    with mock.patch("tencentcloud.common.abstract_client.time.time", return_value=NOW):
        client._build_req_with_tc3_signature("DescribeMediaInfos", {"FileIds": ["5285890781763144364"]}, req)
    with pytest.raises(ApiError) as err:
        _VodFront(_Cloud()).authenticate(_tc3_request(req))
    assert err.value.code == "AuthFailure.SignatureFailure"
