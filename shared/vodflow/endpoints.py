"""Where requests go: Tencent's real hosts, or a local emulator server.

In-process tests intercept the real hostnames (``mock_tencent()``), so the default must stay the
real hosts over https. ``VODFLOW_TENCENT_ENDPOINT=http://127.0.0.1:PORT`` sends everything to one
local server instead: TC3 APIs by the Authorization header's service, COS by the Host header (the
COS SDK keeps ``Host: <bucket>.cos.<region>.myqcloud.com`` when it is given an IP).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from .errors import VodValidationError

__all__ = ["ENV_VAR", "Endpoints"]

ENV_VAR = "VODFLOW_TENCENT_ENDPOINT"


@dataclass(frozen=True)
class Endpoints:
    """``host`` is ``None`` for the real cloud, else the one server every request goes to."""

    scheme: str = "https"
    host: Optional[str] = None
    port: Optional[int] = None

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> Endpoints:
        env = os.environ if environ is None else environ
        value = (env.get(ENV_VAR) or "").strip()
        return cls.parse(value) if value else cls()

    @classmethod
    def parse(cls, url: str) -> Endpoints:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise VodValidationError("InvalidParameterValue", ENV_VAR, url, "expected http(s)://host[:port]")
        return cls(scheme=parts.scheme, host=parts.hostname, port=parts.port)

    @property
    def is_default(self) -> bool:
        return self.host is None

    def client_profile(self, timeout: int = 60) -> ClientProfile:
        """The tencentcloud profile: real ``<service>.tencentcloudapi.com`` or the one override host."""
        if self.host is None:
            return ClientProfile(httpProfile=HttpProfile(reqTimeout=timeout))
        endpoint = self.host if self.port is None else f"{self.host}:{self.port}"
        return ClientProfile(httpProfile=HttpProfile(protocol=self.scheme, endpoint=endpoint, reqTimeout=timeout))

    def cos_config_kwargs(self) -> dict[str, Any]:
        """Extra ``CosConfig`` arguments: none for the real cloud, IP/Port/Scheme for an override."""
        if self.host is None:
            return {"Scheme": "https"}
        kwargs: dict[str, Any] = {"IP": self.host, "Scheme": self.scheme}
        if self.port is not None:
            kwargs["Port"] = self.port
        return kwargs
