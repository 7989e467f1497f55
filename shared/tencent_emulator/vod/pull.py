"""PullUpload: the task record and the HTTP fetch (VOD pulling a URL itself).

Shapes: tencentcloud-sdk-python ``PullUploadRequest`` / ``PullUploadTask`` (ErrCode 0 ok; 40000 input error,
e.g. the URL cannot be fetched; 60000 source file error; 70000 internal error). A URL on one of the emulator's
own hosts (the media host, COS, a function URL) is answered by ``cloud.dispatch`` without a socket; any other
URL (a loopback test server) is fetched with plain ``requests`` (in-process, ``responses`` passes it through).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import requests

from tencent_emulator.core.http import Request

FETCH_TIMEOUT_S = 10.0
FETCH_MAX_BYTES = 5 * 1024**3  # ⚠ PullUpload's size limit is not documented here
SESSION_ID_MAX = 50
DEDUP_WINDOW_S = 3 * 24 * 3600.0
TASK_KEEP_S = 3 * 24 * 3600.0  # DescribeTaskDetail: tasks of the last 3 days


@dataclass
class PullTask:
    task_id: str
    sub_app_id: int
    media_url: str
    media_type: str
    media_name: str
    cover_url: Optional[str]
    procedure: Optional[str]
    expire_time: Optional[float]
    storage_region: str
    class_id: int
    tasks_priority: int
    session_context: str
    session_id: str
    ext_info: Optional[str]
    source_context: str
    media_storage_path: Optional[str]
    created: float
    status: str = "WAITING"  # WAITING | PROCESSING | FINISH
    err_code: int = 0
    message: str = ""
    file_id: str = ""
    procedure_task_id: str = ""
    begin: Optional[float] = None
    finish: Optional[float] = None


class FetchError(Exception):
    """The URL could not be fetched: ``code`` is the PullUploadTask ErrCode to report."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def http_get(cloud: Any, url: str, timeout: float = FETCH_TIMEOUT_S) -> bytes:
    """GET ``url`` (emulator hosts in-process, others over the network); FetchError(40000) unless 2xx."""
    status, body = http_call(cloud, "GET", url, {}, b"", timeout)
    if not 200 <= status < 300:
        raise FetchError(40000, f"Failed to fetch the media URL: HTTP {status}.")
    if len(body) > FETCH_MAX_BYTES:
        raise FetchError(40000, "The media file is too large.")
    return body


def http_call(
    cloud: Any, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, bytes]:
    """One HTTP exchange; (status, body). Connection errors raise FetchError(40000)."""
    req = Request.from_url(method, url, headers, body)
    if cloud.front_for(req) is not None:
        try:
            resp = cloud.dispatch(req)
        except Exception as exc:  # an emulated drop, timeout or kill
            raise FetchError(40000, f"Failed to fetch the media URL: {type(exc).__name__}.") from None
        return resp.status, resp.body_bytes()
    try:
        with requests.Session() as session:
            session.trust_env = False  # never through a proxy: loopback or the real network
            r = session.request(method, url, headers=headers, data=body or None, timeout=timeout)
            return r.status_code, r.content
    except requests.RequestException as exc:
        raise FetchError(40000, f"Failed to fetch the media URL: {type(exc).__name__}.") from None
