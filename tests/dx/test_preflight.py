"""`make deploy`'s preflight against the emulated account: each failure names its cause and its fix."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tencent_emulator.core.cloud import Cloud
from tests.dx.conftest import BUCKET, ROLE, ROOT, deploy_env
from vodflow_ops import preflight


def failures(env: dict[str, str]) -> list[preflight.Check]:
    lines: list[str] = []
    checks = preflight.run(env, echo=lines.append)
    assert [c.line() for c in checks] == lines  # every check is shown as it runs
    return [c for c in checks if not c.ok]


def test_a_ready_account_passes_every_check(account: Cloud) -> None:
    checks = preflight.run(deploy_env(account), echo=lambda _: None)
    assert [c.name for c in checks] == [
        "credentials",
        "configuration",
        "keys",
        f"staging bucket {BUCKET}",
        f"create-once writes on {BUCKET}",
        f"CORS of {BUCKET}",
        f"execution role {ROLE}",
        "VOD",
    ]
    assert all(c.ok for c in checks), [c.line() for c in checks]
    # The create-once probe cleans up after itself.
    assert list(account.cos.list_objects(BUCKET).contents) == []


def test_the_secret_key_never_appears_in_the_output(account: Cloud) -> None:
    lines: list[str] = []
    preflight.run(deploy_env(account), echo=lines.append)
    text = "\n".join(lines)
    assert account.secret_key not in text and account.secret_id not in text


@pytest.mark.parametrize("missing", [("TENCENT_SECRET_ID",), ("TENCENT_SECRET_KEY",), preflight.CREDENTIAL_VARS])
def test_missing_credentials_are_named(account: Cloud, missing: tuple[str, ...]) -> None:
    env = {k: v for k, v in deploy_env(account).items() if k not in missing}
    [failed] = failures(env)
    assert failed.name == "credentials"
    assert f"{' and '.join(missing)} not set" in failed.message
    assert "export TENCENT_SECRET_ID" in failed.message
    assert not account.requests  # nothing was asked of the cloud


@pytest.mark.parametrize(
    ("field", "value"),
    [("TENCENT_SECRET_ID", "AKIDwrongwrongwrong0000"), ("TENCENT_SECRET_KEY", "not-the-secret-key-at-all")],
)
def test_wrong_keys_fail_fast_naming_the_masked_key_id_and_nothing_is_written(
    account: Cloud, field: str, value: str
) -> None:
    import time

    env = deploy_env(account, **{field: value})
    started = time.monotonic()
    [failed] = failures(env)
    assert time.monotonic() - started < 5
    assert failed.name == "keys" and "was refused" in failed.message and "Fix:" in failed.message
    masked = env["TENCENT_SECRET_ID"][:4] + "****"
    assert masked in failed.message and env["TENCENT_SECRET_ID"] not in failed.message
    assert {r.action for r in account.requests} == {"ListFunctions"}  # one signed read, nothing else
    assert list(account.cos.list_objects(BUCKET).contents) == []


def test_the_keys_are_also_read_under_the_tencentcloud_names(account: Cloud) -> None:
    env = deploy_env(account)
    env["TENCENTCLOUD_SECRETID"] = env.pop("TENCENT_SECRET_ID")
    env["TENCENTCLOUD_SECRETKEY"] = env.pop("TENCENT_SECRET_KEY")
    checks = preflight.run(env, echo=lambda _: None)
    assert all(c.ok for c in checks), [c.line() for c in checks]
    assert checks[0].message.startswith("TENCENTCLOUD_SECRETID ")


def test_a_missing_staging_bucket_variable_is_named(account: Cloud) -> None:
    env = deploy_env(account)
    del env["VODFLOW_STAGING_BUCKET"]
    [failed] = failures(env)
    assert failed.name == "configuration" and "VODFLOW_STAGING_BUCKET" in failed.message


def test_a_bucket_that_does_not_exist(account: Cloud) -> None:
    [failed] = failures(deploy_env(account, VODFLOW_STAGING_BUCKET="nothere-1250000000"))
    assert "does not exist in ap-guangzhou" in failed.message and "Fix: create it" in failed.message


def test_a_bucket_in_another_region_names_its_region(account: Cloud) -> None:
    account.cos.create_bucket("faraway-1250000000", "ap-shanghai")
    [failed] = failures(deploy_env(account, VODFLOW_STAGING_BUCKET="faraway-1250000000"))
    assert "is in ap-shanghai, not VODFLOW_REGION=ap-guangzhou" in failed.message
    assert "export VODFLOW_REGION=ap-shanghai" in failed.message


@pytest.mark.parametrize("history", [["Enabled"], ["Enabled", "Suspended"]])
def test_a_bucket_that_does_not_honour_forbid_overwrite_is_refused(account: Cloud, history: list[str]) -> None:
    """A bucket that ever had versioning ignores the header (DESIGN.md §4, ⚠ in FIDELITY.md): the probe's
    second write then succeeds, and the job records are refused there, with the fix."""
    for status in history:
        account.cos.put_versioning(BUCKET, status)
    [failed] = failures(deploy_env(account))
    assert failed.name == f"create-once writes on {BUCKET}"
    assert "accepted an overwrite" in failed.message and "VODFLOW_STATE_BUCKET" in failed.message


def versioned_env(account: Cloud, policy: str = "tag") -> dict[str, str]:
    account.cos.create_bucket("jobs-1250000000")
    return deploy_env(
        account,
        VODFLOW_STAGING_POLICY=policy,
        VODFLOW_STAGING_VERSIONED="true",
        VODFLOW_STATE_BUCKET="jobs-1250000000",
    )


@pytest.mark.parametrize("policy", ["tag", "delete"])
def test_tag_and_delete_pass_with_a_versioned_staging_bucket_and_a_separate_state_bucket(
    account: Cloud, policy: str
) -> None:
    env = versioned_env(account, policy)
    account.cos.put_versioning(BUCKET, "Enabled")
    checks = preflight.run(env, echo=lambda _: None)
    assert all(c.ok for c in checks), [c.line() for c in checks]
    names = [c.name for c in checks]
    assert f"versioning on {BUCKET} (VODFLOW_STAGING_POLICY={policy})" in names
    assert "create-once writes on jobs-1250000000" in names  # the records' bucket never had versioning


@pytest.mark.parametrize("status", ["", "Suspended"])
def test_tag_is_refused_when_the_staging_bucket_does_not_version_objects(account: Cloud, status: str) -> None:
    env = versioned_env(account)
    if status:
        account.cos.put_versioning(BUCKET, "Enabled")
        account.cos.put_versioning(BUCKET, status)
    [failed] = failures(env)
    assert failed.name == f"versioning on {BUCKET} (VODFLOW_STAGING_POLICY=tag)"
    assert f"versioning is {status or 'not enabled'}" in failed.message
    assert "VODFLOW_STAGING_POLICY=keep" in failed.message


def test_a_separate_state_bucket_is_checked_and_probed(account: Cloud) -> None:
    account.cos.create_bucket("jobs-1250000000")
    checks = preflight.run(deploy_env(account, VODFLOW_STATE_BUCKET="jobs-1250000000"), echo=lambda _: None)
    names = [c.name for c in checks]
    assert "job-state bucket jobs-1250000000" in names and "create-once writes on jobs-1250000000" in names
    assert all(c.ok for c in checks), [c.line() for c in checks]


def test_a_missing_role(account: Cloud) -> None:
    [failed] = failures(deploy_env(account, VODFLOW_ROLE="nosuchrole"))
    assert failed.name == "execution role nosuchrole" and "does not exist" in failed.message
    assert "build/role-policy.json" in failed.message
    # The file the message points to exists, filled in for this account (no ${...} left).
    rendered = (ROOT / "build" / "role-policy.json").read_text()
    assert BUCKET in rendered and "${" not in rendered


def test_a_role_without_the_needed_permissions_names_what_is_missing(account: Cloud) -> None:
    account.cam.create_role(
        "narrow", {"version": "2.0", "statement": [{"effect": "allow", "action": ["name/cos:*"], "resource": ["*"]}]}
    )
    [failed] = failures(deploy_env(account, VODFLOW_ROLE="narrow"))
    assert "vod:ApplyUpload" in failed.message and "vod:CommitUpload" in failed.message
    assert "scf:Invoke" in failed.message and "cos:GetObject" not in failed.message


def test_a_role_that_scf_may_not_assume(account: Cloud) -> None:
    everything = {"version": "2.0", "statement": [{"effect": "allow", "action": ["*"], "resource": ["*"]}]}
    account.cam.create_role("cvmonly", everything, trust_services=("cvm.qcloud.com",))
    [failed] = failures(deploy_env(account, VODFLOW_ROLE="cvmonly"))
    assert "scf.qcloud.com" in failed.message


def test_vod_not_enabled(account: Cloud) -> None:
    account.faults.inject("vod", "SearchMedia", code="ResourceNotFound.ServiceNotExist", status=200, times=None)
    [failed] = failures(deploy_env(account))
    assert failed.name == "VOD" and "not enabled" in failed.message and preflight.VOD_CONSOLE in failed.message


def test_wildcards_and_the_cam_name_of_invoke_grant_actions() -> None:
    needed = preflight.required_actions()
    assert preflight.missing_actions(needed, ["*"]) == []
    assert preflight.missing_actions(needed, ["vod:*", "cos:*", "scf:InvokeFunction"]) == []
    assert preflight.missing_actions(["vod:ApplyUpload"], ["vod:Describe*"]) == ["vod:ApplyUpload"]


def test_make_deploy_without_credentials_fails_before_installing_anything(tmp_path: Path) -> None:
    """The check runs on the system Python before the venv: a venv that does not exist stays absent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT_", "MAKEFLAGS", "MFLAGS"))}
    venv = tmp_path / "venv-that-must-not-be-created"
    proc = subprocess.run(
        ["make", "--no-print-directory", "deploy", f"VENV={venv}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "TENCENT_SECRET_ID and TENCENT_SECRET_KEY not set" in proc.stderr
    assert not venv.exists()
