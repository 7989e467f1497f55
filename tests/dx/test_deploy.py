"""`make deploy` end to end against the emulator server, with the serverless CLI replaced by a recorder.

The package build needs PyPI the first time (then it is cached under build/cache), so this is slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.server import EmulatorServer
from tests.dx.conftest import BUCKET, ROLE, ROOT, deploy_env, role_policy
from tests.pipeline.harness import TOKEN, deploy, media_bytes, only_result


@pytest.fixture
def server_account(tmp_path: Path) -> Iterator[Cloud]:
    cloud = Cloud(mode="server", data_dir=tmp_path / "cloud")
    server = EmulatorServer(cloud, port=0).start()
    cloud.base_url = server.url
    cloud.cos.create_bucket(BUCKET)
    cloud.cam.create_role(ROLE, role_policy(deploy_env(cloud)))
    try:
        yield cloud
    finally:
        server.stop()
        cloud.close()


@pytest.mark.slow
def test_the_components_deployer_gets_the_app_with_its_function_url_trigger(
    server_account: Cloud, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "VODFLOW_", "MAKEFLAGS", "MFLAGS"))}
    env.update(deploy_env(server_account, VODFLOW_STAGE="prod"))
    env["VODFLOW_TENCENT_ENDPOINT"] = server_account.base_url
    env["VODFLOW_DEPLOYER"] = "components"
    env["VODFLOW_DEPLOY_COMMAND"] = f"{sys.executable} {ROOT / 'tests' / 'dx' / 'recorder.py'} deploy --stage prod"
    env["DX_RECORD_TO"] = str(record)
    proc = subprocess.run(
        ["make", "--no-print-directory", "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout and proc.stdout.count("ok   ") == 8
    assert server_account.secret_key not in proc.stdout + proc.stderr

    rec = json.loads(record.read_text())
    assert rec["argv"] == ["deploy", "--stage", "prod"]
    out = Path(rec["cwd"])
    assert out == ROOT / "build" / "deploy"
    seen = rec["env"]
    assert seen["SERVERLESS_PLATFORM_VENDOR"] == "tencent"
    assert (seen["TENCENT_SECRET_ID"], seen["TENCENT_SECRET_KEY"]) == (
        server_account.secret_id,
        server_account.secret_key,
    )
    assert (seen["VODFLOW_STAGE"], seen["VODFLOW_REGION"], seen["VODFLOW_STAGING_PREFIX"]) == (
        "prod",
        "ap-guangzhou",
        "incoming/",
    )
    assert "VODFLOW_DEPLOY_COMMAND" not in seen

    # Every ${env:...} of the yml the tooling reads has a value; its code is the built package.
    yml_text = (out / "serverless.yml").read_text()
    doc = yaml.safe_load(yml_text)
    assert doc["inputs"]["src"]["src"] == "./package" and doc["component"] == "multi-scf"
    [http] = [t for t in doc["inputs"]["triggers"] if t["type"] == "http"]
    assert http["function"] == "api" and http["parameters"]["authType"] == "NONE"
    assert not [t for t in doc["inputs"]["triggers"] if t["type"] == "apigw"]
    import re

    for name in set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", yml_text)):
        assert name in seen, name
    for fn in doc["inputs"]["functions"].values():
        module = fn["handler"].rsplit(".", 1)[0]
        assert (out / "package" / module.replace(".", "/")).with_suffix(".py").is_file()
    assert (out / "package" / "vodflow" / "crc64.py").is_file()
    assert not (out / "package" / "vodflow" / "cli.py").exists()  # developer tools stay home
    with zipfile.ZipFile(ROOT / "build" / "vodflow-scf.zip") as zf:
        assert "ingest/index.py" in zf.namelist() and "qcloud_cos/cos_client.py" in zf.namelist()

    # The rendered role policy names this bucket; the recorded app deploys into a fresh account and runs.
    policy = json.loads((out / "role-policy.json").read_text())
    assert any(f":{BUCKET}/*" in r for st in policy["statement"] for r in st["resource"])
    assert "${" not in json.dumps(policy)
    with mock_tencent(data_dir=tmp_path / "replay") as cloud:
        cloud.cos.create_bucket(BUCKET)
        variables = {k: v for k, v in seen.items() if k.startswith("VODFLOW_")}
        variables["VODFLOW_API_TOKEN"] = TOKEN
        app = cloud.deploy_app(str(out / "serverless.yml"), variables=variables, role_policy=policy)
        assert {f.name for f in app.functions.values()} == {
            "vodflow-ingest", "vodflow-part-copy", "vodflow-finalize", "vodflow-api", "vodflow-sweeper"
        }  # fmt: skip


def test_the_role_policy_is_enough_for_every_path_of_the_pipeline(tmp_path: Path) -> None:
    """Deploy with only deploy/role-policy.json's actions: inline, fan-out, API, sweeper and tagging all work."""
    import requests

    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        # tag acts on the job's own version: a versioned staging bucket (deploy enables it), job records elsewhere.
        versioned = {"VODFLOW_STAGING_VERSIONED": "true", "VODFLOW_STATE_BUCKET": "state-1250000000"}
        env = {"VODFLOW_STAGING_BUCKET": BUCKET, "VODFLOW_STAGING_POLICY": "tag", **versioned}
        cloud.cos.create_bucket(BUCKET)
        app = deploy(cloud, VODFLOW_STAGING_POLICY="tag", **versioned)
        cloud.deploy_app(str(ROOT / "serverless.yml"), variables=app.variables, role_policy=role_policy(env))
        app.stage("incoming/small.mp4", media_bytes(2048))
        app.drain()
        _, result = only_result(app)
        assert result["file_id"]
        app.stage("incoming/large.mp4", media_bytes(6 * 1024 * 1024, seed=2))
        app.drain()
        assert len([j for j in app.jobs()]) == 2
        for job in app.jobs():
            assert app.record(job["job_id"], "result.json") is not None, app.record(job["job_id"], "failed.json")
        resp = requests.post(
            cloud.scf.function_url("vodflow-api") + "/uploads",
            json={"filename": "c.mp4", "size": 100},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert resp.status_code == 201, resp.text
        assert requests.put(resp.json()["url"], data=b"x" * 100, timeout=30).status_code == 200
        cloud.scf.invoke("vodflow-sweeper", {})
        app.drain()
        denied = [r for r in cloud.requests if r.function and r.status == 403]
        assert denied == []
        assert len(app.jobs()) == 3
