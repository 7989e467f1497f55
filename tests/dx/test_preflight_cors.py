"""`make deploy`'s preflight sets the staging bucket's CORS rule for the upload page; `make plan` only shows it."""

from __future__ import annotations

from tencent_emulator.core.cloud import Cloud
from tencent_emulator.cos.models import CorsRule
from tests.dx.conftest import BUCKET, deploy_env
from vodflow_ops import preflight


def _cors_line(lines: list[str]) -> str:
    [line] = [x for x in lines if f"CORS of {BUCKET}" in x]
    return line


def test_plan_shows_the_change_deploy_sets_it_and_a_second_run_keeps_it(account: Cloud) -> None:
    env = deploy_env(account, VODFLOW_CORS_ORIGINS="https://media.example.com")
    lines: list[str] = []
    preflight.run(env, echo=lines.append)  # make plan: nothing changes
    assert "would set rule vodflow-upload-page: none -> origins" in _cors_line(lines)
    assert account.cos.get_bucket(BUCKET).cors == []
    lines.clear()
    checks = preflight.run(env, echo=lines.append, apply=True)  # make deploy
    assert all(c.ok for c in checks), lines
    assert "set rule vodflow-upload-page" in _cors_line(lines)
    [rule] = account.cos.get_bucket(BUCKET).cors
    assert "https://media.example.com" in rule.origins and "https://*.scf.tencentcs.com" in rule.origins
    assert set(rule.methods) >= {"PUT", "POST"} and "ETag" in rule.expose
    # The page's origin (a function URL) may PUT a part with any header and read ETag.
    page = "https://1250000000-abc-ap-guangzhou.scf.tencentcs.com"
    assert account.cos.cors_rule(BUCKET, page, "PUT", ["content-type", "x-cos-meta-vod-procedure"]) is not None
    assert account.cos.cors_rule(BUCKET, "https://evil.example", "PUT") is None
    lines.clear()
    preflight.run(env, echo=lines.append, apply=True)
    assert "may PUT from" in _cors_line(lines)  # unchanged: nothing written


def test_other_rules_of_the_bucket_are_kept(account: Cloud) -> None:
    theirs = CorsRule(origins=("https://other.example",), methods=("GET",), rule_id="theirs")
    account.cos.put_cors(BUCKET, [theirs])
    checks = preflight.run(deploy_env(account), echo=lambda _: None, apply=True)
    assert all(c.ok for c in checks)
    rules = account.cos.get_bucket(BUCKET).cors
    assert [r.rule_id for r in rules] == ["theirs", "vodflow-upload-page"]
    assert rules[1].origins == ("*",)  # VODFLOW_CORS_ORIGINS defaults to *
