"""docs/api.md's curl-only flow, run with curl itself: create an upload, PUT it, learn its job id, poll the job."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from vodflow_ops.dev import LocalStack


def curl(*args: str) -> Any:
    cmd = ["curl", "-sS", "--fail-with-body", *args]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def test_curl_only_flow(stack: LocalStack, tmp_path: Path) -> None:
    assert shutil.which("curl"), "the curl-only flow is run with real curl: install curl (Debian: apt-get install curl)"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 4096)
    auth = f"Authorization: Bearer {stack.token}"
    api = stack.api_url
    up = curl("-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
              "-d", json.dumps({"filename": "clip.mp4", "size": clip.stat().st_size}), f"{api}/uploads")  # fmt: skip
    headers = [a for k, v in up["headers"].items() for a in ("-H", f"{k}: {v}")]
    curl("-x", stack.endpoint, "-T", str(clip), *headers, up["url"])
    job_id = curl("-H", auth, f"{api}/uploads/{up['upload_id']}")["job_id"]
    deadline = time.monotonic() + 60
    while True:
        job = curl("-H", auth, f"{api}/jobs/{job_id}")
        if job["state"] in ("committed", "processed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["state"] in ("committed", "processed") and job["file_id"], job
