"""API and CLI polish: a valid OpenAPI document (servers, complete schemas) that live replies conform to, job
ids in every reply that creates or finds a job, POST /jobs on a committed object says so, ISO 8601 beside
epochs, ``--json`` errors as JSON, ``vodflow plan`` on the deployment's settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tencent_emulator import mock_tencent
from tests.pipeline.harness import TOKEN, deploy, media_bytes
from vodflow.pipeline.openapi import openapi_document

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def conforms(doc: dict[str, Any], schema_name: str, body: Any) -> None:
    schema = {**doc["components"]["schemas"][schema_name], "components": doc["components"]}
    errors = sorted(OAS30Validator(schema).iter_errors(body), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_openapi_document_is_valid_and_names_its_server() -> None:
    doc = openapi_document()
    validate(doc)  # openapi-spec-validator: the whole document against the OpenAPI 3.0 schema
    assert doc["servers"] and doc["servers"][0]["url"]
    job = doc["components"]["schemas"]["Job"]["properties"]
    for name in ("generation", "created_at", "created_at_iso", "procedure", "processing", "results", "url"):
        assert name in job, name


def test_live_replies_conform_and_carry_the_job_id(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path) as cloud:
        app = deploy(cloud)
        api = app.api_url
        doc = requests.get(f"{api}/openapi.json", timeout=30).json()
        validate(doc)
        app.stage("incoming/clip.mp4", media_bytes(2 * 1024 * 1024))
        app.drain()

        listed = requests.get(f"{api}/jobs", headers=AUTH, timeout=30).json()
        (job,) = listed["jobs"]
        found = requests.get(f"{api}/jobs/{job['id']}", headers=AUTH, timeout=30)
        assert found.status_code == 200
        body = found.json()
        conforms(doc, "Job", body)
        assert body["state"] == "committed" and body["file_id"]
        assert body["created_at_iso"].endswith("Z") and body["committed_at_iso"].startswith("20")

        again = requests.post(f"{api}/jobs", json={"key": "incoming/clip.mp4"}, headers=AUTH, timeout=30)
        assert again.status_code == 200, again.text  # nothing started: the object's job already committed
        answer = again.json()
        conforms(doc, "JobStarted", answer)
        assert answer["status"] == "already committed" and answer["job_id"] == job["id"]

        app.stage("incoming/other.mp4", media_bytes(1024 * 1024, seed=2))
        started = requests.post(f"{api}/jobs", json={"key": "incoming/other.mp4"}, headers=AUTH, timeout=30)
        assert started.status_code in (200, 202) and len(started.json()["job_id"]) == 32
        conforms(doc, "JobStarted", started.json())

        missing = requests.get(f"{api}/jobs/{'0' * 32}", headers=AUTH, timeout=30)
        assert missing.status_code == 404
        conforms(doc, "Error", missing.json())


def test_cli_json_errors_are_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VODFLOW_", "TENCENT"))}
    proc = subprocess.run(
        [sys.executable, "-m", "vodflow", "job", "0" * 32, "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 3
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert "VODFLOW_API_URL" in error["message"] and error["exit_code"] == 3


@pytest.mark.parametrize(("env", "workers"), [({}, 32), ({"VODFLOW_MAX_FANOUT": "8"}, 8)])
def test_plan_defaults_to_the_deployments_settings(env: dict[str, str], workers: int) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VODFLOW_")}
    proc = subprocess.run(
        [sys.executable, "-m", "vodflow", "plan", "100GiB"],
        capture_output=True, text=True, env={**base, **env}, timeout=60, check=True,
    )  # fmt: skip
    assert f"{workers} workers" in proc.stdout, proc.stdout
