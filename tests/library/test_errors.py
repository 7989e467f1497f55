"""Errors carry Tencent's code, message and RequestId, read like the official ones, and map to HTTP statuses."""

from __future__ import annotations

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from vodflow import VodClientException
from vodflow.errors import (
    CertificateExpiringError,
    IntegrityError,
    ManifestError,
    VodServiceError,
    VodValidationError,
    http_status_for,
)


def test_a_service_error_shows_code_message_and_request_id() -> None:
    err = VodServiceError("InvalidParameterValue.SubAppId", "Invalid SubAppId.", "req-123")
    assert str(err) == "[InvalidParameterValue.SubAppId] Invalid SubAppId. (RequestId: req-123)"
    assert err.message == "Invalid SubAppId."
    assert (err.code, err.request_id) == ("InvalidParameterValue.SubAppId", "req-123")


def test_code_written_for_either_official_exception_still_catches_service_errors() -> None:
    err = VodServiceError("ResourceNotFound", "gone", "r1")
    with pytest.raises(VodClientException):
        raise err
    with pytest.raises(TencentCloudSDKException) as caught:
        raise err
    assert caught.value.get_code() == "ResourceNotFound"
    assert caught.value.get_request_id() == "r1"
    assert caught.value.get_message() == "gone"


def test_validation_error_names_field_and_value_without_request_id() -> None:
    err = VodValidationError("InvalidParameter.ExpireTime", "ExpireTime", "tomorrow", "is not ISO 8601")
    assert err.field == "ExpireTime"
    assert err.value == "tomorrow"
    assert "ExpireTime='tomorrow'" in err.message
    assert str(err) == f"[InvalidParameter.ExpireTime] {err.message}"
    assert err.request_id is None


def test_a_huge_value_is_cut_short_in_the_message() -> None:
    err = VodValidationError("InvalidParameterValue.SourceContext", "SourceContext", "x" * 10_000, "too long")
    assert len(err.message) < 200
    assert err.value == "x" * 10_000


def test_manifest_error_names_manifest_line_and_reference() -> None:
    err = ManifestError("/pkg/index.m3u8", 7, "../etc/passwd", "contains '..'")
    assert (err.manifest, err.line, err.reference) == ("/pkg/index.m3u8", 7, "../etc/passwd")
    assert "/pkg/index.m3u8:7" in str(err)
    assert "'../etc/passwd'" in str(err)


def test_integrity_and_certificate_errors_say_what_happened() -> None:
    crc = IntegrityError("part 3 of a.mp4", 1, 2, "rid")
    assert "part 3 of a.mp4" in str(crc)
    assert crc.request_id == "rid"
    cert = CertificateExpiringError(1000, 950.0, 120)
    assert "expires" in cert.message
    assert "50 s" in cert.message


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InvalidParameterValue.MediaType", 400),
        ("InvalidParameter.ExpireTime", 400),
        ("MissingParameter", 400),
        ("AuthFailure.SignatureFailure", 401),
        ("UnauthorizedOperation", 403),
        ("ResourceNotFound", 404),
        ("NoSuchUpload", 404),
        ("RequestLimitExceeded", 429),
        ("InternalError", 500),
        ("FailedOperation.IntegrityCheck", 502),
        ("FailedOperation.TempCertificateExpiring", 503),
        ("SomethingNew", 500),
    ],
)
def test_codes_map_to_http_statuses(code: str, status: int) -> None:
    assert http_status_for(code) == status


def test_to_dict_is_the_api_error_body() -> None:
    assert VodServiceError("InternalError", "boom", "r").to_dict() == {
        "code": "InternalError",
        "message": "boom",
        "request_id": "r",
    }
