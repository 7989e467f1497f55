"""The `vodflow` command line, run as a user runs it (a subprocess) against the local stack over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest
import requests

from vodflow_ops.dev import LocalStack

VODFLOW = str(Path(sys.executable).parent / "vodflow")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    plan = {"VODFLOW_INLINE_THRESHOLD": str(4 * MIB), "VODFLOW_PART_SIZE": str(MIB), "VODFLOW_BATCH_PARTS": "4"}
    with LocalStack(data_dir=tmp_path_factory.mktemp("cli-stack"), plan=plan) as running:
        yield running


def cli(
    stack: LocalStack, *args: str, env: Optional[dict[str, str]] = None, keys: bool = True, api: bool = True
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "VODFLOW_"))}
    base["VODFLOW_TENCENT_ENDPOINT"] = stack.endpoint
    base["HOME"] = str(Path(stack.data_dir or ".") / "home")  # no profile file of the developer's
    if keys:
        base.update(TENCENTCLOUD_SECRETID=stack.cloud.secret_id, TENCENTCLOUD_SECRETKEY=stack.cloud.secret_key)
    if api:
        base.update(VODFLOW_API_URL=stack.api_url, VODFLOW_API_TOKEN=stack.token)
    base.update(env or {})
    return subprocess.run([VODFLOW, *args], capture_output=True, text=True, env=base, timeout=300, check=False)


def video(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(bytes((i * 7 + size) % 251 for i in range(4096)) * (size // 4096) + b"\x47" * (size % 4096))
    return path


def fetch(stack: LocalStack, url: str) -> bytes:
    return requests.get(url, proxies={"http": stack.endpoint}, timeout=60).content


def test_upload_prints_the_file_id_with_a_progress_bar(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "direct.mp4", 20 * MIB)
    out = cli(stack, "upload", str(media), "--media-name", "Direct upload", "--concurrency", "3")
    assert out.returncode == 0, out.stderr
    assert "FileId" in out.stdout and "MediaUrl" in out.stdout
    assert "100%" in out.stderr  # the tqdm bar, on stderr
    media_url = out.stdout.split("MediaUrl", 1)[1].split()[0]
    assert fetch(stack, media_url) == media.read_bytes()


def test_upload_json_is_machine_readable_and_quiet(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "json.mp4", 300_000)
    out = cli(stack, "upload", str(media), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"file_id", "media_url", "cover_url", "request_id"}
    assert "%" not in out.stderr
    assert fetch(stack, data["media_url"]) == media.read_bytes()


def test_upload_without_credentials_exits_3_naming_the_variables(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "nokeys.mp4", 1000)
    out = cli(stack, "upload", str(media), keys=False)
    assert out.returncode == 3
    assert "TENCENTCLOUD_SECRETID" in out.stderr


def test_upload_refused_by_vod_exits_1_with_the_code(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "refused.txt", 1000)
    out = cli(stack, "upload", str(media))
    assert out.returncode == 1
    assert "InvalidParameterValue.MediaType" in out.stderr


def test_stage_uploads_through_the_api_and_follows_the_job(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "staged.mp4", 6 * MIB)
    out = cli(stack, "stage", str(media), "--media-name", "Staged", "--timeout", "120")
    assert out.returncode == 0, out.stderr
    assert "state    committed" in out.stdout
    assert "FileId" in out.stdout
    assert "stage staged.mp4" in out.stderr  # the upload's progress bar
    media_url = out.stdout.split("MediaUrl", 1)[1].split()[0]
    assert fetch(stack, media_url) == media.read_bytes()


def test_stage_no_wait_then_job_and_jobs_in_json(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "later.mp4", 2 * MIB)
    started = cli(stack, "stage", str(media), "--no-wait", "--json")
    assert started.returncode == 0, started.stderr
    job_id = json.loads(started.stdout)["job_id"]
    waited = cli(stack, "job", job_id, "--wait", "--json", "--timeout", "120")
    assert waited.returncode == 0, waited.stderr
    job = json.loads(waited.stdout)
    assert job["state"] == "committed"
    assert job["bytes_done"] == job["bytes_total"] == 2 * MIB
    listing = cli(stack, "jobs", "--json", "--limit", "100")
    assert job_id in [j["id"] for j in json.loads(listing.stdout)["jobs"]]
    text = cli(stack, "jobs")
    assert job_id in text.stdout and "committed" in text.stdout


def test_stage_with_a_bad_option_exits_1_naming_the_field(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "bad.mp4", 1000)
    out = cli(stack, "stage", str(media), "--expire-time", "2001-01-01T00:00:00Z")
    assert out.returncode == 1
    assert "x-cos-meta-vod-expire-time" in out.stderr


@pytest.mark.parametrize(
    ("env", "code", "text"),
    [
        ({"VODFLOW_API_TOKEN": ""}, 3, "VODFLOW_API_TOKEN"),
        ({"VODFLOW_API_TOKEN": "wrong"}, 3, "AuthFailure.Token"),
        ({"VODFLOW_API_URL": "http://127.0.0.1:9"}, 4, "could not reach the API"),
    ],
)
def test_api_commands_fail_with_their_exit_codes(stack: LocalStack, env: dict[str, str], code: int, text: str) -> None:
    out = cli(stack, "jobs", env=env)
    assert out.returncode == code, out.stderr
    assert text in out.stderr
    assert stack.token not in out.stderr + out.stdout


def test_an_unknown_job_exits_1(stack: LocalStack) -> None:
    out = cli(stack, "job", "0" * 32)
    assert out.returncode == 1
    assert "ResourceNotFound.Job" in out.stderr


def test_plan_text_and_json(stack: LocalStack) -> None:
    text = cli(stack, "plan", "48TB", keys=False, api=False)
    assert text.returncode == 0
    assert "parts             10000 (limit 10000)" in text.stdout
    data = json.loads(cli(stack, "plan", "1GiB", "--json", keys=False, api=False).stdout)
    assert data["parts"] * data["part_size"] >= 1024**3
    assert data["largest_payload_bytes"] < 128 * 1024
    small = json.loads(cli(stack, "plan", "10MB", "--json", keys=False, api=False).stdout)
    assert small["inline"] is True
    bad = cli(stack, "plan", "lots", keys=False, api=False)
    assert bad.returncode == 2
    assert "not a size" in bad.stderr
