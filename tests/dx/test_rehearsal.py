"""The deploy rehearsed end to end: `make deploy` onto a fresh `python -m tencent_emulator serve`, through the SCF API.

A user's story: an empty account with the staging bucket and the execution role (set up through the
CAM and COS SDKs, as the console would), then `make plan`, `make deploy`, the function URL's /health,
a presigned upload through the URL reaching a FileId whose bytes match, a second deploy that changes
nothing, a changed variable updated in place, and `make destroy` that leaves the bucket and its
objects. The functions run the code of the built zip, in the runtime's Python (3.10), not the working tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client
from tencentcloud.cam.v20190116 import cam_client
from tencentcloud.cam.v20190116 import models as cam_models
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416 import models as scf_models
from tencentcloud.scf.v20180416 import scf_client
from tencentcloud.vod.v20180717 import models as vod_models
from tencentcloud.vod.v20180717.vod_client import VodClient

from tests.dx.conftest import BUCKET, ROLE, ROOT, role_policy
from tests.dx.test_package import runtime_python
from vodflow.pipeline.jobs import job_id_for

TOKEN = "rehearsal-token-0123456789"
CHANGING = {"CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration", "UpdateFunctionEventInvokeConfig",
            "CreateTrigger", "UpdateTrigger", "DeleteFunction", "DeleteTrigger"}  # fmt: skip
TRUST = {
    "version": "2.0",
    "statement": [{"action": "name/sts:AssumeRole", "effect": "allow", "principal": {"service": ["scf.qcloud.com"]}}],
}


@dataclass
class Served:
    """A `python -m tencent_emulator serve` process and what a user knows of it."""

    proc: subprocess.Popen[str]
    endpoint: str
    secret_id: str
    secret_key: str
    log: Path

    def profile(self) -> ClientProfile:
        return ClientProfile(httpProfile=HttpProfile(endpoint=self.endpoint.split("://", 1)[1], protocol="http"))

    def cred(self) -> credential.Credential:
        return credential.Credential(self.secret_id, self.secret_key)

    def scf(self) -> scf_client.ScfClient:
        return scf_client.ScfClient(self.cred(), "ap-guangzhou", self.profile())

    def cos(self) -> CosS3Client:
        host, port = self.endpoint.split("://", 1)[1].split(":")
        conf = CosConfig(Region="ap-guangzhou", SecretId=self.secret_id, SecretKey=self.secret_key, IP=host,
                         Port=int(port), Scheme="http")  # fmt: skip
        return CosS3Client(conf)

    def requests_seen(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "VODFLOW_", "MAKEFLAGS", "MFLAGS"))}
        env.update(
            TENCENT_SECRET_ID=self.secret_id,
            TENCENT_SECRET_KEY=self.secret_key,
            VODFLOW_STAGING_BUCKET=BUCKET,
            VODFLOW_API_TOKEN=TOKEN,
            VODFLOW_TENCENT_ENDPOINT=self.endpoint,
        )
        env.update(extra)
        return env

    def make(self, *target: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", *target], cwd=ROOT, env=self.env(**extra), capture_output=True,
            text=True, check=False, timeout=600,
        )  # fmt: skip


def cam_call(served: Served, action: str, **params: Any) -> Any:
    cam = cam_client.CamClient(served.cred(), "", served.profile())
    req = getattr(cam_models, f"{action}Request")()
    req.from_json_string(json.dumps(params))
    return getattr(cam, action)(req)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh emulator server; an account with only the staging bucket and the execution role."""
    keys, log = tmp_path / "keys.json", tmp_path / "requests.jsonl"
    proc = subprocess.Popen(  # the emulator as a user starts it
        [sys.executable, "-m", "tencent_emulator", "serve", "--port", "0", "--data-dir", str(tmp_path / "cloud"),
         "--keys-file", str(keys), "--request-log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        secrets = json.loads(keys.read_text())
        s = Served(proc, info["endpoint"], secrets["secret_id"], secrets["secret_key"], log)
        s.cos().create_bucket(Bucket=BUCKET)
        cam_call(s, "CreateRole", RoleName=ROLE, PolicyDocument=json.dumps(TRUST))
        policy = role_policy({"VODFLOW_STAGING_BUCKET": BUCKET})
        policy_id = cam_call(s, "CreatePolicy", PolicyName="vodflow", PolicyDocument=json.dumps(policy)).PolicyId
        cam_call(s, "AttachRolePolicy", PolicyId=policy_id, AttachRoleName=ROLE)
        yield s
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def list_functions(served: Served) -> list[str]:
    req = scf_models.ListFunctionsRequest()
    req.Limit = 100
    return sorted(f.FunctionName for f in served.scf().ListFunctions(req).Functions or [])


def triggers_of(served: Served, name: str) -> list[tuple[str, str]]:
    req = scf_models.ListTriggersRequest()
    req.FunctionName = name
    return sorted((t.Type, t.TriggerName) for t in served.scf().ListTriggers(req).Triggers or [])


def changes_since(served: Served, mark: int) -> list[str]:
    return sorted(r["action"] for r in served.requests_seen()[mark:] if r["action"] in CHANGING)


def function_url(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("function URL of vodflow-api: ")]
    return line.split(": ", 1)[1].strip()


def test_make_deploy_rehearsed_on_a_fresh_emulator(served: Served) -> None:
    assert runtime_python(), "Python 3.10 (the functions' runtime) is needed to run the deployed zip"
    names = ["vodflow-api", "vodflow-finalize", "vodflow-ingest", "vodflow-part-copy", "vodflow-sweeper"]

    # make plan: everything to create, nothing changed.
    plan = served.make("plan")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "13 to create, 0 to update, 0 unchanged" in plan.stdout  # 5 functions, 5 retry settings, 3 triggers
    assert plan.stdout.count("create    function ") == 5 and "dry run: nothing was changed." in plan.stdout
    assert list_functions(served) == [] and changes_since(served, 0) == []

    # make deploy: five functions from the built zip, their retries and triggers, then the URL.
    first = served.make("deploy")
    assert first.returncode == 0, first.stdout + first.stderr
    assert served.secret_key not in first.stdout + first.stderr
    assert list_functions(served) == names
    assert triggers_of(served, "vodflow-ingest") == [("cos", f"{BUCKET}.cos.ap-guangzhou.myqcloud.com")]
    assert triggers_of(served, "vodflow-sweeper") == [("timer", "vodflow-sweeper-timer")]
    assert triggers_of(served, "vodflow-api") == [("http", "vodflow-url")]
    made = changes_since(served, 0)
    assert made.count("CreateFunction") == 5 and made.count("CreateTrigger") == 3
    assert made.count("UpdateFunctionEventInvokeConfig") == 5
    url = function_url(first.stdout)
    proxies = {"http": served.endpoint}  # the URL's real host form, reached through the emulator as a proxy
    health = requests.get(url + "/health", proxies=proxies, timeout=60)
    assert health.status_code == 200 and health.json()["status"] == "ok"

    # A presigned upload through the URL gets a FileId; VOD holds the same bytes.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    data = os.urandom(300_000)
    grant = requests.post(url + "/uploads", json={"filename": "rehearsal.mp4", "size": len(data)}, headers=auth,
                          proxies=proxies, timeout=60)  # fmt: skip
    assert grant.status_code == 201, grant.text
    plan_up = grant.json()
    put = requests.put(plan_up["url"], data=data, headers=plan_up.get("headers") or {}, proxies=proxies, timeout=60)
    assert put.status_code == 200, put.text
    job_id = job_id_for(plan_up["bucket"], plan_up["key"], put.headers["ETag"])
    deadline, view = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        resp = requests.get(f"{url}/jobs/{job_id}", headers=auth, proxies=proxies, timeout=60)
        view = resp.json() if resp.status_code == 200 else {}
        if view.get("state") in ("committed", "failed"):
            break
        time.sleep(0.5)
    assert view.get("state") == "committed", view
    assert requests.get(view["media_url"], proxies=proxies, timeout=60).content == data
    # The deployed functions ran the zip's code in Python 3.10, not this interpreter's working tree.
    log_lines = [r for r in served.requests_seen() if r["function"] == "vodflow-ingest"]
    assert log_lines, "ingest made no request under its role"

    # A second deploy with nothing changed changes nothing, and says so.
    mark = len(served.requests_seen())
    second = served.make("deploy")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to do: the deployment is as declared." in second.stdout, second.stdout
    assert changes_since(served, mark) == []

    # A changed variable updates the configurations in place (no code, no re-create); a changed CORS
    # origin updates the one trigger.
    mark = len(served.requests_seen())
    third = served.make("deploy", VODFLOW_JOB_DEADLINE_S="7200", VODFLOW_CORS_ORIGINS="https://upload.example.com")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "environment VODFLOW_JOB_DEADLINE_S)" in third.stdout  # the variable's name; values are never shown
    assert changes_since(served, mark) == ["UpdateFunctionConfiguration"] * 5 + ["UpdateTrigger"]

    # make destroy asks first: anything but "yes" deletes nothing.
    from vodflow_ops import deploy

    asked: list[str] = []
    declined = deploy.run_destroy(served.env(), yes=False, echo=lambda _: None, ask=lambda q: asked.append(q) or "no")
    assert declined == deploy.EXIT_ABORTED and asked and list_functions(served) == names

    # make destroy: no function, no trigger; the bucket and its objects stay.
    objects_before = sorted(o["Key"] for o in served.cos().list_objects(Bucket=BUCKET).get("Contents", []))
    gone = served.make("destroy", "YES=1")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert list_functions(served) == []
    objects_after = sorted(o["Key"] for o in served.cos().list_objects(Bucket=BUCKET).get("Contents", []))
    assert objects_after == objects_before and plan_up["key"] in objects_after
    again = served.make("destroy", "YES=1")
    assert again.returncode == 0 and "nothing to destroy" in again.stdout


def test_wrong_keys_stop_make_deploy_at_one_signed_read_naming_the_masked_key(served: Served) -> None:
    wrong = "AKIDnotarealkey000000000000"
    mark = len(served.requests_seen())
    proc = served.make("deploy", TENCENT_SECRET_ID=wrong)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Error 3" in proc.stderr, out  # the preflight's exit code, through make
    assert "AKID****" in out and wrong not in out and "Fix:" in out
    assert [r["action"] for r in served.requests_seen()[mark:]] == ["ListFunctions"]  # one read, nothing created
    assert list_functions(served) == []


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (("- type: timer", "- type: apigw"), "inputs.triggers[1].type"),
        (("handler: api.index.main_handler", "handler: nowhere.index.main_handler"), "inputs.functions.api.handler"),
        (("value: ${env:VODFLOW_REGION}", "value: ${env:VODFLOW_NOT_SET_ANYWHERE}"), "VODFLOW_NOT_SET_ANYWHERE"),
    ],
)
def test_a_bad_declaration_is_named_before_any_cloud_call(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: tuple[str, str], needle: str
) -> None:
    from vodflow_ops import deploy

    yml = tmp_path / "serverless.yml"
    text = (ROOT / "serverless.yml").read_text()
    assert edit[0] in text
    yml.write_text(text.replace(edit[0], edit[1], 1))
    (tmp_path / "functions").symlink_to(ROOT / "functions")
    monkeypatch.setattr(deploy, "YML", yml)
    lines: list[str] = []
    mark = len(served.requests_seen())
    code = deploy.run_scf(served.env(), dry_run=False, echo=lines.append)
    assert code == deploy.EXIT_DECLARATION, lines
    assert needle in "\n".join(lines)
    assert served.requests_seen()[mark:] == []


def test_a_package_over_the_code_size_limit_is_refused_before_any_cloud_call(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vodflow_ops import deploy, scf_deploy

    monkeypatch.setattr(scf_deploy, "CODE_UNPACKED_LIMIT", 1024)  # the real limit is 500 MB
    lines: list[str] = []
    mark = len(served.requests_seen())
    code = deploy.run_scf(served.env(), dry_run=False, echo=lines.append)
    assert code == deploy.EXIT_DECLARATION, lines
    assert "unpacked, over SCF's" in "\n".join(lines)
    assert served.requests_seen()[mark:] == []


def test_make_deploy_sets_vod_push_events_to_the_function_url_once(served: Served) -> None:
    """VODFLOW_EVENTS_MODE=push: the plan shows the current event config, the deploy points VOD's callbacks at
    the function URL's /vod/events with the SignKey (never printed), and a second deploy leaves it alone."""
    sign_key = "RehearsalSignKey0123456789"
    events = {"VODFLOW_EVENTS_MODE": "push", "VODFLOW_EVENTS_SIGN_KEY": sign_key}
    plan = served.make("plan", **events)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "VOD events: now Mode=" in plan.stdout and "ModifyEventConfig" not in changes_since(served, 0)
    first = served.make("deploy", **events)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sign_key not in first.stdout + first.stderr
    url = function_url(first.stdout)
    vod = VodClient(served.cred(), "ap-guangzhou", served.profile())
    config = vod.DescribeEventConfig(vod_models.DescribeEventConfigRequest())
    assert (config.Mode, config.NotificationUrl) == ("PUSH", f"{url}/vod/events")
    mark = len(served.requests_seen())
    second = served.make("deploy", **events)
    assert second.returncode == 0 and "VOD events: unchanged" in second.stdout, second.stdout
    assert [r["action"] for r in served.requests_seen()[mark:] if r["action"] == "ModifyEventConfig"] == []
