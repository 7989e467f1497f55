"""`make demo` and `make dev` as a developer runs them: real processes, the emulator server, the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.dx.conftest import ROOT
from vodflow_ops import video

MEDIA = ROOT / "tests" / "fixtures" / "media"


def test_make_demo_prints_three_file_ids_and_checks_the_bytes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vodflow_ops.demo"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    file_ids = re.findall(r"^  FileId   (\d+)$", proc.stdout, re.MULTILINE)
    assert len(set(file_ids)) == 3
    assert proc.stdout.count("played back:") == 3 and "bytes match" in proc.stdout
    assert proc.stdout.count("decodes: h264") == 2 and "4 segments decode" in proc.stdout  # a video one can watch
    assert "part_copy invocations" in proc.stdout and "(0 part_copy" not in proc.stdout
    assert re.search(r"FileIds: \d+, \d+, \d+$", proc.stdout.strip())


def test_the_demo_and_fixture_videos_decode(tmp_path: Path) -> None:
    """Real H.264: the MP4, the large MPEG-TS and every HLS segment decode (PyAV's own FFmpeg)."""
    clip = video.decode(video.mp4(tmp_path / "a.mp4", seconds=1).read_bytes())
    assert (clip.codec, clip.width, clip.height, clip.frames) == ("h264", 320, 240, 25)
    large = video.large_ts(tmp_path / "big.ts", 8 * 1024 * 1024)
    assert large.stat().st_size >= 8 * 1024 * 1024
    assert video.decode(large.read_bytes()).frames >= 20
    files = video.hls_package(tmp_path / "p.hls", segments=2, seconds=0.4)
    assert files["index.m3u8"].startswith(b"#EXTM3U") and b"720p/index.m3u8" in files["index.m3u8"]
    for rel, data in files.items():
        if rel.endswith(".ts"):
            assert video.decode(data).frames == 10, rel
    with pytest.raises(ValueError, match=r"decode|video"):
        video.decode(b"\x47" + bytes(187) * 50)  # MPEG-TS-looking filler: no picture in it
    fixture = video.decode((MEDIA / "clip.mp4").read_bytes())  # the committed fixtures (make_media.py made them)
    assert (fixture.codec, fixture.width, fixture.frames) == ("h264", 320, 50)
    for seg in sorted((MEDIA / "trailer.hls").rglob("*.ts")):
        assert video.decode(seg.read_bytes()).frames == 25, seg


def test_make_dev_serves_the_api_and_the_cli_reads_it(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vodflow_ops.dev", "--procedure", "Your Procedure Name", "--bucket", "media",
         "--log-file", str(tmp_path / "dev.jsonl")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "curl -x" in line:  # the last line of the instructions
                break
        text = "".join(lines)
        m = re.search(r"export VODFLOW_API_URL=(\S+) VODFLOW_API_TOKEN=(\S+) VODFLOW_TENCENT_ENDPOINT=(\S+)", text)
        assert m, text
        api, token = m.group(1), m.group(2)
        assert "Ctrl-C" in text and "vodflow stage" in text and "curl -s" in text
        assert requests.get(f"{api}/health", timeout=10).status_code == 200
        assert requests.get(f"{api}/jobs", timeout=10).status_code == 401  # the token is required

        # A job started through the API's POST /jobs for an object staged with the COS SDK, seen by the CLI.
        env = {**os.environ, "VODFLOW_API_URL": api, "VODFLOW_API_TOKEN": token}
        auth = {"Authorization": f"Bearer {token}"}
        assert (
            requests.post(
                f"{api}/uploads", json={"filename": "clip.mp4", "size": 1000}, headers=auth, timeout=10
            ).status_code
            == 201
        )
        listed = subprocess.run(
            [sys.executable, "-m", "vodflow", "jobs"], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        assert listed.returncode == 0 and listed.stdout.strip() == "no jobs"
        as_json = subprocess.run(
            [sys.executable, "-m", "vodflow", "jobs", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert '"jobs": []' in as_json.stdout
        keys = re.search(r"export TENCENT_SECRET_ID=\S+ TENCENT_SECRET_KEY=(\S+)", text)
        assert keys, text  # the account's keys, and what the options added through the admin endpoint
        account = requests.get(
            f"{m.group(3)}/_emulator/account", headers={"Authorization": f"Bearer {keys.group(1)}"}, timeout=10
        ).json()
        assert "media-1250000000" in account["buckets"] and "Your Procedure Name" in account["procedures"]["0"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
    # One readable line per event on the console (no JSON, no duplicates, no traceback); the JSON in the file.
    assert "Traceback" not in err and not any(line.startswith("{") for line in err.splitlines())
    requests_logged = [line for line in err.splitlines() if " request  method=GET path=/health" in line]
    assert len(requests_logged) == 1, err[-3000:]
    logged = [json.loads(line) for line in (tmp_path / "dev.jsonl").read_text().splitlines()]
    assert any(line["msg"] == "request" and line["path"] == "/health" for line in logged)
