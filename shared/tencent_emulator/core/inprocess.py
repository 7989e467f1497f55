"""The in-process front: ``responses`` intercepts Tencent hostnames and hands them to the Cloud.

The unmodified SDKs (tencentcloud-sdk-python, cos-python-sdk-v5, vod-python-sdk) all send through
``requests``, which ``responses`` patches at the adapter; anything that is not a Tencent host
passes through to the real network (or, in practice, to loopback servers of the tests).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import requests
import responses

from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.http import ClientTimeout, DropConnection, Request

TENCENT_URL = re.compile(
    r"^https?://([^/]+\.)?(tencentcloudapi\.com|myqcloud\.com|tencentcs\.com|tencentscf\.com|vod-qcloud\.com)(:\d+)?(/.*)?$"
)
NOT_TENCENT_URL = re.compile(
    r"^https?://(?!([^/]+\.)?(tencentcloudapi\.com|myqcloud\.com|tencentcs\.com|tencentscf\.com|vod-qcloud\.com)(:\d+)?(/|$))"
)
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH")


# What a function's process has besides its own variables (as in subprocess mode): the rest of the developer's
# environment (their keys, VODFLOW_TENCENT_ENDPOINT, proxies...) is not the cloud's and stays invisible.
PROCESS_VARIABLES = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV"})


class ThreadEnviron(MutableMapping[str, str]):
    """``os.environ`` with a per-thread overlay.

    SCF functions run as threads here, but each has its own environment (its role's keys, its
    variables). While the emulator is active, ``os.environ`` is this proxy: a thread running a
    function sees its overlay and the few process variables (:data:`PROCESS_VARIABLES`), never
    the developer's; every other thread sees the real environment.
    """

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self.local = threading.local()

    def _overlay(self) -> dict[str, str] | None:
        return getattr(self.local, "overlay", None)

    def set_overlay(self, overlay: dict[str, str] | None) -> None:
        self.local.overlay = overlay

    def _visible_base(self) -> list[str]:
        return [k for k in PROCESS_VARIABLES if k in self.base]

    def __getitem__(self, key: str) -> str:
        ov = self._overlay()
        if ov is None:
            return self.base[key]
        if key in ov:
            return ov[key]
        if key in PROCESS_VARIABLES:
            return self.base[key]
        raise KeyError(key)

    def __setitem__(self, key: str, value: str) -> None:
        ov = self._overlay()
        if ov is not None:
            ov[key] = value
        else:
            self.base[key] = value

    def __delitem__(self, key: str) -> None:
        ov = self._overlay()
        if ov is None:
            del self.base[key]
        elif key in ov:
            del ov[key]
        else:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        ov = self._overlay()
        if ov is None:
            yield from self.base
            return
        yield from ov
        yield from (k for k in self._visible_base() if k not in ov)

    def __len__(self) -> int:
        ov = self._overlay()
        if ov is None:
            return len(self.base)
        return len(set(ov) | set(self._visible_base()))

    def copy(self) -> dict[str, str]:
        return dict(self)


def _callback(cloud: Cloud) -> Any:
    def handle(preq: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        req = Request.from_url(preq.method or "GET", preq.url or "", dict(preq.headers), preq.body)
        try:
            resp = cloud.dispatch(req)
        except DropConnection as exc:
            raise requests.ConnectionError(f"Connection aborted: emulated drop ({exc})") from None
        except ClientTimeout as exc:
            raise requests.ReadTimeout(f"Read timed out: emulated timeout ({exc})") from None
        body = resp.body_bytes()
        headers = dict(resp.headers)
        if req.method == "HEAD":
            body = b""
        return resp.status, headers, body

    return handle


class InProcess:
    """Installs and removes the interception; used by ``mock_tencent``."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._saved_environ: Any = None

    def start(self) -> None:
        cb = _callback(self.cloud)
        for method in METHODS:
            self.mock.add_callback(method, TENCENT_URL, callback=cb, content_type=None)
        self.mock.add_passthru(NOT_TENCENT_URL)
        self.mock.start()
        self._saved_environ = os.environ
        os.environ = ThreadEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003  (a proxy, on purpose)

    def stop(self) -> None:
        if self._saved_environ is not None:
            os.environ = self._saved_environ  # noqa: B003  (restores the real mapping)
            self._saved_environ = None
        self.mock.stop()
        self.mock.reset()
