"""Retry policy: exponential backoff with full jitter, for throttling, 5xx and network failures.

The official SDK retries VOD calls 3 times without pause, and only when no RequestId came back, so
a ``RequestLimitExceeded`` (which has a RequestId) is never retried. Here every call (VOD API and
COS) goes through one policy. It retries: throttling (``RequestLimitExceeded*``, COS ``SlowDown``,
HTTP 429/503), 5xx and ``InternalError``, connection errors and timeouts, and COS's "200 with an
error body" on Complete. It never retries 4xx client errors: they fail the same way every time.

Each caller says why its call is safe to repeat (see ``flow.py``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional, TypeVar

import requests
from qcloud_cos.cos_exception import CosClientError, CosServiceError
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from .errors import VodClientException, VodServiceError

__all__ = ["NO_RETRY", "RetryPolicy", "cos_error_fields", "is_retryable", "to_vod_error"]

T = TypeVar("T")
logger = logging.getLogger("vodflow.retry")

_THROTTLING_PREFIXES = ("RequestLimitExceeded", "SlowDown", "LimitExceeded.Throttl")
_SERVER_CODE_PREFIXES = ("InternalError", "ServiceUnavailable", "ResourceUnavailable", "InternalServerError")
_NETWORK_CODES = ("ClientNetworkError",)


def _code_matches(code: Optional[str], prefixes: tuple[str, ...]) -> bool:
    return bool(code) and any(str(code).startswith(p) for p in prefixes)


def cos_error_fields(exc: CosServiceError) -> tuple[str, str, Optional[str]]:
    """(code, message, request_id) of a COS error, tolerating bodies the SDK could not digest."""
    digest = exc.get_digest_msg()
    if isinstance(digest, dict) or hasattr(digest, "get"):
        code = str(digest.get("code") or "Unknown")
        message = str(digest.get("message") or "")
        request_id = digest.get("requestid") or digest.get("x-cos-request-id") or None
    else:
        code, message, request_id = "Unknown", str(exc.get_origin_msg() or "")[:300], None
    if request_id == "Unknown":
        request_id = None
    return code, message, (str(request_id) if request_id else None)


def _is_network_exception(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def is_retryable(exc: BaseException) -> bool:
    """True for failures that may pass on a later attempt (throttling, 5xx, network); never for 4xx."""
    if isinstance(exc, VodClientException):
        return bool(getattr(exc, "retryable", False)) or _retryable_service(exc)
    if isinstance(exc, CosServiceError):
        status = int(exc.get_status_code() or 0)
        code = cos_error_fields(exc)[0]
        if status == 200:  # "200 with an error body": Complete failed after the 200 was sent
            return True
        return status >= 500 or status == 429 or _code_matches(code, _THROTTLING_PREFIXES)
    if isinstance(exc, CosClientError):
        return _is_network_exception(exc)
    if isinstance(exc, TencentCloudSDKException):
        code = exc.get_code()
        http_status = getattr(exc, "http_status", None)
        if http_status is not None:
            return int(http_status) >= 500 or int(http_status) == 429
        if code == "ServerNetworkError" or code in _NETWORK_CODES:
            return True
        return _code_matches(code, _THROTTLING_PREFIXES) or _code_matches(code, _SERVER_CODE_PREFIXES)
    return _is_network_exception(exc)


def _retryable_service(exc: VodClientException) -> bool:
    if not isinstance(exc, VodServiceError):
        return False
    status = exc.http_status
    if exc.code in _NETWORK_CODES:
        return True
    if exc.service == "cos":
        if status == 200:
            return True
        if status is not None and (status >= 500 or status == 429):
            return True
        return _code_matches(exc.code, _THROTTLING_PREFIXES)
    if status is not None and status != 200:
        return status >= 500 or status == 429
    return (
        exc.code in _NETWORK_CODES
        or exc.code == "ServerNetworkError"
        or _code_matches(exc.code, _THROTTLING_PREFIXES)
        or _code_matches(exc.code, _SERVER_CODE_PREFIXES)
    )


def to_vod_error(exc: BaseException, service: str, action: str) -> VodClientException:
    """Any SDK failure as a ``VodServiceError`` with Tencent's code, message and RequestId unchanged."""
    if isinstance(exc, VodClientException):
        return exc
    if isinstance(exc, CosServiceError):
        status = int(exc.get_status_code() or 0)
        code, message, request_id = cos_error_fields(exc)
        if code == "Unknown":
            code = "InternalError" if status >= 500 or status == 200 else f"HTTP{status}"
            message = f"{action} failed with HTTP {status} and no error body"
        if status == 200:
            message = f"{action} returned 200 with an error body: {message}"
        return VodServiceError(code, message, request_id, service=service, action=action, http_status=status)
    if isinstance(exc, CosClientError):
        return VodServiceError("ClientNetworkError", str(exc)[:300], None, service=service, action=action)
    if isinstance(exc, TencentCloudSDKException):
        return VodServiceError(
            exc.get_code() or "InternalError",
            str(exc.get_message())[:500],
            exc.get_request_id() or None,
            service=service,
            action=action,
            http_status=getattr(exc, "http_status", None),
        )
    if _is_network_exception(exc):
        return VodServiceError("ClientNetworkError", str(exc)[:300], None, service=service, action=action)
    raise exc


@dataclass
class RetryPolicy:
    """``max_attempts`` tries in all; the n-th wait is uniform in [0, min(max_delay, base_delay * 2**n)].

    ``sleep`` and ``rand`` are injectable so tests run without waiting and deterministically.
    """

    max_attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)
    classify: Callable[[BaseException], bool] = field(default=is_retryable, repr=False)

    def delay(self, attempt: int) -> float:
        """Full jitter: spreads retries of many clients hitting the same throttle."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        return cap * self.rand()

    def call(self, fn: Callable[[], T], *, service: str, action: str) -> T:
        """Run ``fn`` until it succeeds, fails with a non-retryable error, or attempts run out.

        Failures come out as ``VodClientException``s carrying Tencent's code and RequestId.
        """
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:  # classified below; anything unknown is re-raised as is
                error = to_vod_error(exc, service, action)
                attempt += 1
                if attempt >= self.max_attempts or not self.classify(exc):
                    if error is exc:
                        raise
                    raise error from exc
                wait = self.delay(attempt - 1)
                logger.warning(
                    "retrying",
                    extra={
                        "service": service,
                        "action": action,
                        "attempt": attempt,
                        "code": error.code,
                        "cloud_request_id": error.request_id,
                        "wait_s": round(wait, 3),
                    },
                )
                self.sleep(wait)


NO_RETRY = RetryPolicy(max_attempts=1)
