"""Both fronts for every emulator test: the same story through ``mock_tencent()`` and through the HTTP server.

``cloud_and_endpoint`` yields an :class:`Endpoint`: the Cloud, plus how to point an official SDK at
it (``cos_client()``, ``cos_config()``, ``tc_profile()``). In "inprocess" mode the SDKs talk to the
real hostnames and ``responses`` intercepts them; in "server" mode COS clients use
``CosConfig(IP="127.0.0.1", Port=...)`` and tencentcloud clients an ``HttpProfile`` endpoint override.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from qcloud_cos import CosConfig, CosS3Client
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from tencent_emulator import Cloud, mock_tencent
from tencent_emulator.core.server import EmulatorServer

MODES = ("inprocess", "server")


@dataclass
class Endpoint:
    """A running emulated cloud and the way SDK clients reach it."""

    mode: str
    cloud: Cloud
    server: Optional[EmulatorServer] = None

    @property
    def port(self) -> Optional[int]:
        return self.server.port if self.server else None

    @property
    def proxies(self) -> dict[str, str]:
        """For plain ``requests`` calls to real hostnames (presigned URLs): route them to the server."""
        return {"http": self.server.url, "https": self.server.url} if self.server else {}

    @property
    def scheme(self) -> str:
        return "http" if self.server else "https"

    def cos_config(
        self,
        secret_id: Optional[str] = None,
        secret_key: Optional[str] = None,
        token: Optional[str] = None,
        region: Optional[str] = None,
        **kwargs: Any,
    ) -> CosConfig:
        """A CosConfig for this cloud; the root keys unless others are given."""
        conf: dict[str, Any] = {
            "Region": region or self.cloud.region,
            "SecretId": secret_id or self.cloud.secret_id,
            "SecretKey": secret_key or self.cloud.secret_key,
            "Token": token,
            "Scheme": self.scheme,
        }
        if self.server is not None:
            conf.update(IP="127.0.0.1", Port=self.server.port)
        conf.update(kwargs)
        return CosConfig(**conf)

    def cos_client(self, **kwargs: Any) -> CosS3Client:
        return CosS3Client(self.cos_config(**kwargs))

    def url_config(self, **kwargs: Any) -> CosConfig:
        """A CosConfig that builds real-hostname URLs (for presigned URLs), whatever the mode."""
        return CosConfig(
            Region=kwargs.pop("region", None) or self.cloud.region,
            SecretId=kwargs.pop("secret_id", None) or self.cloud.secret_id,
            SecretKey=kwargs.pop("secret_key", None) or self.cloud.secret_key,
            Token=kwargs.pop("token", None),
            Scheme=self.scheme,
            **kwargs,
        )

    def credential(self) -> credential.Credential:
        return credential.Credential(self.cloud.secret_id, self.cloud.secret_key)

    def tc_profile(self) -> ClientProfile:
        """A tencentcloud ClientProfile: the default one in-process, an endpoint override for the server."""
        if self.server is None:
            return ClientProfile()
        return ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{self.server.port}"))


def open_endpoint(mode: str, data_dir: Path) -> Iterator[Endpoint]:
    """The emulated cloud through one front ("inprocess" or "server"), closed when the generator ends."""
    if mode == "inprocess":
        with mock_tencent(data_dir=data_dir) as cloud:
            yield Endpoint(mode, cloud)
        return
    cloud = Cloud(data_dir=data_dir, mode="server")
    server = EmulatorServer(cloud).start()
    cloud.base_url = server.url
    try:
        yield Endpoint(mode, cloud, server)
    finally:
        server.stop()
        cloud.close()


@pytest.fixture(params=MODES)
def cloud_and_endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """The emulated cloud through each front in turn ("inprocess", then "server")."""
    yield from open_endpoint(request.param, tmp_path_factory.mktemp("cloud"))


@pytest.fixture
def server_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """The emulated cloud through the HTTP server only (large bodies, sockets)."""
    yield from open_endpoint("server", tmp_path_factory.mktemp("cloud"))


SCF_APP = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
SCF_APP_VARS = {"STAGE": "test", "STAGING_BUCKET": "staging-1250000000"}


@pytest.fixture
def subprocess_app() -> Iterator[Cloud]:
    """The fixture app deployed on an emulator server, its functions in child processes (real kills)."""
    cloud = Cloud(mode="server")
    server = EmulatorServer(cloud).start()
    cloud.base_url = server.url
    try:
        cloud.deploy_app(str(SCF_APP), SCF_APP_VARS, run_mode="subprocess")
        yield cloud
    finally:
        server.stop()
        cloud.close()
