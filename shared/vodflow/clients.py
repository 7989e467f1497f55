"""Factories for the tencentcloud VOD client and the COS client, from Credentials + region + endpoints.

Retries are ours (``retry.py``), so the COS client is built with ``retry=0`` and its own
connection pool sized for the upload's parallelism. The STS token always reaches COS (the official
SDK drops the caller's token when ApplyUpload returns no TempCertificate).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from qcloud_cos import CosConfig, CosS3Client
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.vod.v20180717.vod_client import VodClient

from .credentials import Credentials
from .endpoints import Endpoints

__all__ = ["HttpStatusError", "cos_client", "vod_client"]


class HttpStatusError(TencentCloudSDKException):
    """tencentcloud's ``ServerNetworkError`` plus the HTTP status, so retries can tell 5xx from 4xx."""

    def __init__(self, status: int, body: bytes) -> None:
        text = body[:200].decode("utf-8", "replace") if body else ""
        super().__init__("ServerNetworkError", f"HTTP {status}: {text}")
        self.http_status = status


class _VodClient(VodClient):
    """VodClient whose non-200 error keeps the status (the stock one keeps only the body)."""

    def _check_status(self, resp_inter: Any) -> None:
        if resp_inter.status_code != 200:
            raise HttpStatusError(resp_inter.status_code, resp_inter.content)


def vod_client(creds: Credentials, region: str, endpoints: Optional[Endpoints] = None, timeout: int = 60) -> VodClient:
    """A VOD API client (slim ``tencentcloud.vod.v20180717``); the token goes in ``X-TC-Token``."""
    endpoints = endpoints or Endpoints.from_environment()
    cred = credential.Credential(creds.secret_id, creds.secret_key, creds.token)
    return _VodClient(cred, region, endpoints.client_profile(timeout))


class _Session(requests.Session):
    """A requests session that reads the environment's proxy and CA-bundle settings once per host, not per request.

    With ``trust_env`` (kept: an HTTP proxy or a CA bundle set for the function still applies), every request
    walks ``os.environ`` for ``*_proxy`` names and ``no_proxy`` (``merge_environment_settings``): 15 % of a
    part_copy's GIL-holding samples in a ``py-spy --gil`` profile of a 1 GiB run. A client lives for one
    invocation, whose environment does not change, so the answer for a host is kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], Any] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies:  # explicit proxies for this request: requests' own rules
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(str(url))
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return dict(self._environment[key])


def cos_client(
    creds: Credentials,
    region: str,
    endpoints: Optional[Endpoints] = None,
    *,
    pool_size: int = 10,
    timeout: int = 60,
) -> CosS3Client:
    """A COS client with the token always set, no SDK-level retries, and a pool for ``pool_size`` threads."""
    endpoints = endpoints or Endpoints.from_environment()
    config = CosConfig(
        Region=region,
        SecretId=creds.secret_id,
        SecretKey=creds.secret_key,
        Token=creds.token,
        Timeout=timeout,
        **endpoints.cos_config_kwargs(),
    )
    session = _Session()
    size = max(10, pool_size)
    adapter = requests.adapters.HTTPAdapter(pool_connections=size, pool_maxsize=size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return CosS3Client(config, retry=0, session=session)
