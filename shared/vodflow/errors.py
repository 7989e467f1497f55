"""One error hierarchy with Tencent-style codes.

Code written for ``qcloud_vod`` catches ``VodClientException`` (local checks) or tencentcloud's
``TencentCloudSDKException`` (service errors). Service errors here are both, so either ``except``
keeps working after the import is changed. Every error carries the Tencent code, the message and
the RequestId, and never a secret: messages name fields and values the caller gave, never keys,
tokens or signatures.
"""

from __future__ import annotations

from typing import Any, Optional

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

__all__ = [
    "CertificateExpiringError",
    "IntegrityError",
    "ManifestError",
    "SourceChangedError",
    "VodClientException",
    "VodServiceError",
    "VodValidationError",
    "http_status_for",
]

_MAX_VALUE_REPR = 120


def _short(value: Any) -> str:
    """A value as it goes into a message: repr, cut short (a 10 MB SourceContext is not a message)."""
    text = repr(value)
    if len(text) > _MAX_VALUE_REPR:
        text = text[: _MAX_VALUE_REPR - 3] + "..."
    return text


class VodClientException(Exception):
    """Base of every vodflow error; same name and ``.message`` as ``qcloud_vod.exception``.

    ``code``, ``request_id``, ``field`` and ``value`` are extras: the official exception only has a message.
    """

    default_code = "ClientError"
    retryable = False  # set on an instance when repeating the same request can succeed

    def __init__(
        self,
        message: str,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
        *,
        field: Optional[str] = None,
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.request_id = request_id
        self.requestId = request_id  # tencentcloud's spelling
        self.field = field
        self.value = value

    # The tencentcloud accessors, so code written for TencentCloudSDKException also reads ours.
    def get_code(self) -> str:
        return self.code

    def get_message(self) -> str:
        return self.message

    def get_request_id(self) -> Optional[str]:
        return self.request_id

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body the API layer serves: ``{code, message, request_id}``."""
        return {"code": self.code, "message": self.message, "request_id": self.request_id}

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.request_id:
            text += f" (RequestId: {self.request_id})"
        return text


class VodValidationError(VodClientException):
    """A local check failed before any request: the field and the value are named."""

    default_code = "InvalidParameterValue"

    def __init__(self, code: str, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{reason}: {field}={_short(value)}", code, None, field=field, value=value)


class VodServiceError(VodClientException, TencentCloudSDKException):
    """Tencent Cloud (VOD API or COS) answered with an error; its code and RequestId come through unchanged."""

    default_code = "InternalError"

    def __init__(
        self,
        code: str,
        message: str,
        request_id: Optional[str] = None,
        *,
        service: str = "vod",
        action: Optional[str] = None,
        http_status: Optional[int] = None,
    ) -> None:
        VodClientException.__init__(self, message, code, request_id)
        self.service = service
        self.action = action
        self.http_status = http_status

    # TencentCloudSDKException defines __str__; ours wins (first base) and shows the same three facts.
    __str__ = VodClientException.__str__


class IntegrityError(VodClientException):
    """The CRC64 COS computed does not match the bytes we sent: never committed."""

    default_code = "FailedOperation.IntegrityCheck"

    def __init__(self, what: str, expected: int, actual: Optional[int], request_id: Optional[str] = None) -> None:
        super().__init__(
            f"CRC64 mismatch for {what}: expected {expected}, COS reported {actual}",
            self.default_code,
            request_id,
        )
        self.expected = expected
        self.actual = actual


class CertificateExpiringError(VodClientException):
    """The VOD temporary certificate expires too soon to start another part."""

    default_code = "FailedOperation.TempCertificateExpiring"

    def __init__(self, expired_time: int, now: float, margin: float) -> None:
        super().__init__(
            f"the VOD temporary certificate expires at {expired_time} (in {int(expired_time - now)} s), "
            f"less than the {int(margin)} s margin needed to start a part; the upload must be restarted",
            self.default_code,
        )
        self.expired_time = expired_time


class ManifestError(VodClientException):
    """An HLS/DASH manifest references something that may not be uploaded (refused before any upload)."""

    default_code = "InvalidParameterValue.MediaManifest"

    def __init__(self, manifest: str, line: Optional[int], reference: str, reason: str) -> None:
        where = f"{manifest}:{line}" if line else manifest
        super().__init__(f"{where}: reference {_short(reference)} {reason}", self.default_code)
        self.manifest = manifest
        self.line = line
        self.reference = reference
        self.reason = reason


class SourceChangedError(VodClientException):
    """The source object changed (ETag no longer matches) while it was being copied."""

    default_code = "FailedOperation.SourceChanged"


_PREFIX_STATUS = [
    ("AuthFailure", 401),
    ("UnauthorizedOperation", 403),
    ("InvalidParameter", 400),
    ("InvalidParameterValue", 400),
    ("MissingParameter", 400),
    ("UnknownParameter", 400),
    ("UnsupportedOperation", 400),
    ("ResourceNotFound", 404),
    ("RequestLimitExceeded", 429),
    ("LimitExceeded", 429),
    ("ResourceUnavailable", 503),
    ("FailedOperation.TempCertificateExpiring", 503),
    ("FailedOperation.SourceChanged", 409),
    ("FailedOperation.IntegrityCheck", 502),
    ("FailedOperation", 500),
    ("InternalError", 500),
    # COS codes
    ("NoSuchKey", 404),
    ("NoSuchBucket", 404),
    ("NoSuchUpload", 404),
    ("PreconditionFailed", 412),
    ("AccessDenied", 403),
    ("SignatureDoesNotMatch", 403),
    ("InvalidAccessKeyId", 403),
    ("ExpiredToken", 400),
    ("SlowDown", 503),
]


def http_status_for(code: str) -> int:
    """The HTTP status an API edge should answer for a Tencent-style error code (500 if unknown)."""
    for prefix, status in _PREFIX_STATUS:
        if code == prefix or code.startswith(prefix + "."):
            return status
    return 500
