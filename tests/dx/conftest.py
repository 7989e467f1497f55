"""Fixtures of the developer-experience tests: an emulated account ready for `make deploy`'s preflight."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud
from vodflow.pipeline.config import Config, deployment_variables
from vodflow_ops.deploy import render_role_policy

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "staging-1250000000"
ROLE = "vodflow-scf-role"


def deploy_env(cloud: Cloud, **extra: str) -> dict[str, str]:
    """What a developer exports before `make deploy` (the emulator account's own keys)."""
    return {
        "TENCENT_SECRET_ID": cloud.secret_id,
        "TENCENT_SECRET_KEY": cloud.secret_key,
        "VODFLOW_STAGING_BUCKET": BUCKET,
        "VODFLOW_API_TOKEN": "dx-test-token-0123456789",
        **extra,
    }


def role_policy(env: dict[str, str]) -> dict[str, object]:
    config = Config.from_environment(deployment_variables(env))
    return dict(json.loads(render_role_policy(config)))


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Cloud]:
    """An account with the staging bucket and the execution role (deploy/role-policy.json) in place."""
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        cloud.cos.create_bucket(BUCKET)
        cloud.cam.create_role(ROLE, role_policy(deploy_env(cloud)))
        yield cloud
