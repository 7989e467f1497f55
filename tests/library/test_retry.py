"""Retries: throttling, 5xx and network failures are retried with backoff and jitter; 4xx never."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from qcloud_cos.cos_exception import CosClientError, CosServiceError
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from vodflow.clients import HttpStatusError
from vodflow.errors import VodServiceError
from vodflow.retry import RetryPolicy, is_retryable


def cos_error(status: int, code: str, request_id: str = "cos-rid") -> CosServiceError:
    body = (
        f"<?xml version='1.0' encoding='utf-8' ?><Error><Code>{code}</Code><Message>m {code}</Message>"
        f"<Resource>b.cos.ap-guangzhou.myqcloud.com/k</Resource><RequestId>{request_id}</RequestId></Error>"
    )
    return CosServiceError("PUT", body, status)


def network_error() -> CosClientError:
    try:
        try:
            raise requests.ConnectionError("connection reset")
        except Exception as inner:
            raise CosClientError(str(inner)) from None
    except CosClientError as exc:
        exc.__context__ = requests.ConnectionError("connection reset")
        return exc


@pytest.mark.parametrize(
    "exc",
    [
        TencentCloudSDKException("RequestLimitExceeded", "slow down", "rid"),
        TencentCloudSDKException("RequestLimitExceeded.UinLimitExceeded", "slow down", "rid"),
        TencentCloudSDKException("InternalError", "oops", "rid"),
        TencentCloudSDKException("ClientNetworkError", "reset"),
        HttpStatusError(502, b"bad gateway"),
        HttpStatusError(429, b""),
        cos_error(503, "SlowDown"),
        cos_error(500, "InternalError"),
        cos_error(200, "InternalError"),  # Complete: 200 with an error body
        network_error(),
        requests.Timeout("read timed out"),
    ],
)
def test_transient_failures_are_retried(exc: BaseException) -> None:
    assert is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        TencentCloudSDKException("InvalidParameterValue.MediaType", "bad type", "rid"),
        TencentCloudSDKException("AuthFailure.SignatureFailure", "bad sig", "rid"),
        TencentCloudSDKException("ResourceNotFound", "gone", "rid"),
        HttpStatusError(404, b"not found"),
        cos_error(403, "AccessDenied"),
        cos_error(400, "ExpiredToken"),
        cos_error(404, "NoSuchUpload"),
        cos_error(412, "PreconditionFailed"),
        CosClientError("SecretId and SecretKey is Required!"),
    ],
)
def test_client_errors_are_not_retried(exc: BaseException) -> None:
    assert not is_retryable(exc)


def scripted(*outcomes: object) -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)

    return fn, calls


def test_throttled_call_succeeds_after_backoff_with_full_jitter() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=3.0, sleep=sleeps.append, rand=lambda: 0.5)
    fn, calls = scripted(cos_error(503, "SlowDown"), cos_error(503, "SlowDown"), cos_error(503, "SlowDown"), "ok")
    assert policy.call(fn, service="cos", action="UploadPart") == "ok"
    assert len(calls) == 4
    assert sleeps == [0.5, 1.0, 1.5]  # half of min(3, 1*2**n) for n = 0, 1, 2


def test_jitter_spreads_waits_between_zero_and_the_cap() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=100.0, rand=lambda: 0.0)
    assert policy.delay(3) == 0.0
    policy = RetryPolicy(base_delay=2.0, max_delay=100.0, rand=lambda: 0.999)
    assert 15.9 < policy.delay(3) < 16.0


def test_permanent_failure_raises_with_tencent_code_and_request_id_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    fn, calls = scripted(*[TencentCloudSDKException("InternalError", "still broken", "rid-9")] * 3)
    with pytest.raises(VodServiceError) as caught:
        policy.call(fn, service="vod", action="CommitUpload")
    assert len(calls) == 3
    assert (caught.value.code, caught.value.message, caught.value.request_id) == (
        "InternalError",
        "still broken",
        "rid-9",
    )
    assert caught.value.action == "CommitUpload"


def test_client_error_is_raised_at_once_with_its_code() -> None:
    policy = RetryPolicy(max_attempts=5, sleep=lambda s: pytest.fail("must not sleep"))
    fn, calls = scripted(cos_error(403, "AccessDenied", "rid-403"))
    with pytest.raises(VodServiceError) as caught:
        policy.call(fn, service="cos", action="PutObject")
    assert len(calls) == 1
    assert (caught.value.code, caught.value.request_id, caught.value.http_status) == ("AccessDenied", "rid-403", 403)


def test_a_200_with_an_error_body_says_so() -> None:
    policy = RetryPolicy(max_attempts=1)
    fn, _ = scripted(cos_error(200, "InternalError", "rid-200"))
    with pytest.raises(VodServiceError) as caught:
        policy.call(fn, service="cos", action="CompleteMultipartUpload")
    assert caught.value.code == "InternalError"
    assert "200 with an error body" in caught.value.message
    assert caught.value.request_id == "rid-200"


def test_unknown_exceptions_pass_through_untouched() -> None:
    policy = RetryPolicy(max_attempts=3)
    fn, calls = scripted(KeyError("bug"))
    with pytest.raises(KeyError):
        policy.call(fn, service="vod", action="ApplyUpload")
    assert len(calls) == 1
