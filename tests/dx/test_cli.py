"""The `vodflow` command line, run as a user runs it (a subprocess) against the local stack over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import requests

from vodflow_ops.dev import BUCKET, LocalStack

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


# -- vodflow stage: parts in parallel, resumable (issue 15) -------------------------------------------
BIG = 70 * MIB  # over the 64 MiB of a single PUT: 70 parts of 1 MiB with this stack's plan


def cli_env(stack: LocalStack) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "VODFLOW_"))}
    base.update(
        VODFLOW_TENCENT_ENDPOINT=stack.endpoint,
        HOME=str(Path(stack.data_dir or ".") / "home"),
        VODFLOW_API_URL=stack.api_url,
        VODFLOW_API_TOKEN=stack.token,
    )
    return base


def parts_ok(stack: LocalStack, key_part: str) -> list[Any]:
    """Successful UploadParts into the staging bucket whose path holds ``key_part`` (the emulator's log)."""
    return [
        r
        for r in list(stack.cloud.requests)
        if r.action == "UploadPart" and r.status == 200 and r.host.startswith(BUCKET + ".") and key_part in r.path
    ]


def staging(stack: LocalStack, action: str, key_part: str) -> list[Any]:
    return [
        r
        for r in list(stack.cloud.requests)
        if r.action == action and r.status == 200 and r.host.startswith(BUCKET + ".") and key_part in r.path
    ]


def most_at_once(records: list[Any]) -> int:
    """The largest number of requests in flight at the same instant (from their start and duration)."""
    edges = sorted([(r.started, 1) for r in records] + [(r.started + r.duration, -1) for r in records])
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def wait_for(cond: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := cond():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {cond}")


def saved_uploads(stack: LocalStack) -> list[dict[str, Any]]:
    folder = Path(stack.data_dir or ".") / "home" / ".vodflow" / "uploads"
    return [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.is_dir() else []


def test_stage_sends_parts_in_parallel_up_to_the_concurrency(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "parallel.mp4", BIG)
    slow = stack.cloud.faults.inject("cos", "UploadPart", latency=0.05, times=None)  # each part takes ≥ 50 ms
    try:
        out = cli(stack, "stage", str(media), "--concurrency", "4", "--no-wait", "--json")
    finally:
        slow.times = 0
    assert out.returncode == 0, out.stderr
    sent = parts_ok(stack, json.loads(out.stdout)["key"])
    assert len(sent) == 70 and sum(r.bytes_in for r in sent) == BIG
    assert most_at_once(sent) == 4, most_at_once(sent)  # 4 in flight, never more


def test_stage_killed_midway_resumes_sending_no_part_twice(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "killed.mp4", BIG)
    slow = stack.cloud.faults.inject("cos", "UploadPart", latency=0.1, times=None)
    proc = subprocess.Popen(
        [VODFLOW, "stage", str(media), "--concurrency", "2"], env=cli_env(stack), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: len(parts_ok(stack, "/killed.mp4")) >= 10)
    finally:
        proc.kill()
        proc.wait(30)
        slow.times = 0
    [saved] = [s for s in saved_uploads(stack) if s["file"]["path"] == str(media.resolve())]
    upload_id = saved["upload_id"]
    before = len(parts_ok(stack, upload_id))
    assert 10 <= before < 70
    # The same command again: the upload is found by path, size and mtime; only the missing parts are sent.
    out = cli(stack, "stage", str(media), "--timeout", "120")
    assert out.returncode == 0, out.stderr
    assert f"resuming upload {upload_id}" in out.stderr
    sent = parts_ok(stack, upload_id)
    assert len(sent) == 70 and sum(r.bytes_in for r in sent) == BIG, (len(sent), before)
    completes = staging(stack, "CompleteMultipartUpload", upload_id)
    assert len(completes) == 1
    commits = [r for r in stack.cloud.requests if r.action == "CommitUpload" and r.status == 200]
    assert len([c for c in commits if c.started >= completes[0].started]) == 1
    media_url = out.stdout.split("MediaUrl", 1)[1].split()[0]
    assert fetch(stack, media_url) == media.read_bytes()
    assert [s for s in saved_uploads(stack) if s["upload_id"] == upload_id] == []  # done: forgotten


def test_stage_with_cover_refused_midway_resumes_by_id(stack: LocalStack, tmp_path: Path) -> None:
    media = video(tmp_path, "refused-midway.mp4", BIG)
    cover = tmp_path / "poster.png"
    cover.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
    slow = stack.cloud.faults.inject("cos", "UploadPart", latency=0.1, times=None)
    proc = subprocess.Popen(
        [VODFLOW, "stage", str(media), "--cover", str(cover), "--media-name", "Resumed"], env=cli_env(stack),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: len(parts_ok(stack, "/refused-midway.mp4")) >= 8)
        refuse = stack.cloud.faults.inject("cos", "UploadPart", code="AccessDenied", status=403, times=None)
        _, err = proc.communicate(timeout=120)
    finally:
        slow.times = 0
        proc.kill()
    refuse.times = 0
    assert proc.returncode == 1, err
    assert "AccessDenied" in err and "--resume" in err
    upload_id = err.split("--resume ", 1)[1].split()[0].strip(",;")
    before = len(parts_ok(stack, upload_id))
    out = cli(stack, "stage", str(media), "--resume", upload_id, "--json", "--timeout", "120")
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert job["state"] == "committed" and job["cover_url"], job
    sent = parts_ok(stack, upload_id)
    assert len(sent) == 70 and sum(r.bytes_in for r in sent) == BIG, (len(sent), before)
    assert len(staging(stack, "PutObject", f"{upload_id}/poster.png")) == 1  # the cover went once, first
    assert len(staging(stack, "CompleteMultipartUpload", upload_id)) == 1
    assert fetch(stack, job["media_url"]) == media.read_bytes()
