"""Configuration comes from environment variables, checked once, each bad value named."""

from __future__ import annotations

import pytest

from vodflow.errors import VodValidationError
from vodflow.pipeline.config import MIB, VARIABLES, Config

BASE = {"VODFLOW_STAGING_BUCKET": "staging-1250000000"}


def test_defaults_apply_when_only_the_bucket_is_set() -> None:
    cfg = Config.from_environment(BASE)
    assert cfg.region == "ap-guangzhou"
    assert cfg.staging_prefix == "incoming/"
    assert cfg.state_prefix == ".vodflow/"
    assert cfg.jobs_bucket == "staging-1250000000"
    assert cfg.inline_threshold == 64 * MIB
    assert cfg.staging_policy == "keep"
    assert cfg.sub_app_id is None


def test_the_api_token_is_kept_only_as_a_hash() -> None:
    cfg = Config.from_environment({**BASE, "VODFLOW_API_TOKEN": "s3cret-token"})
    assert "s3cret-token" not in repr(cfg)
    assert cfg.api_token_sha256 is not None
    assert len(cfg.api_token_sha256) == 64


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({}, "VODFLOW_STAGING_BUCKET"),
        ({**BASE, "VODFLOW_STAGING_BUCKET": "no_appid"}, "VODFLOW_STAGING_BUCKET"),
        ({**BASE, "VODFLOW_REGION": "guangzhou"}, "VODFLOW_REGION"),
        ({**BASE, "VODFLOW_VOD_SUB_APP_ID": "abc"}, "VODFLOW_VOD_SUB_APP_ID"),
        ({**BASE, "VODFLOW_VOD_SUB_APP_ID": "-3"}, "VODFLOW_VOD_SUB_APP_ID"),
        ({**BASE, "VODFLOW_STAGING_POLICY": "shred"}, "VODFLOW_STAGING_POLICY"),
        ({**BASE, "VODFLOW_STATE_PREFIX": "incoming/state/"}, "VODFLOW_STATE_PREFIX"),
        ({**BASE, "VODFLOW_STATE_PREFIX": "state"}, "VODFLOW_STATE_PREFIX"),
        ({**BASE, "VODFLOW_INLINE_THRESHOLD": "1e6"}, "VODFLOW_INLINE_THRESHOLD"),
        ({**BASE, "VODFLOW_WEBHOOK_URL": "ftp://x"}, "VODFLOW_WEBHOOK_URL"),
    ],
)
def test_a_bad_variable_is_named_with_its_value(env: dict[str, str], field: str) -> None:
    with pytest.raises(VodValidationError) as info:
        Config.from_environment(env)
    assert info.value.field == field
    assert field in str(info.value)


def test_state_in_another_bucket_may_share_the_prefix() -> None:
    cfg = Config.from_environment(
        {**BASE, "VODFLOW_STATE_BUCKET": "jobs-1250000000", "VODFLOW_STATE_PREFIX": "incoming/"}
    )
    assert cfg.jobs_bucket == "jobs-1250000000"


def test_every_variable_has_a_meaning_for_the_readme() -> None:
    assert all(v.meaning and v.name.startswith("VODFLOW_") for v in VARIABLES)
