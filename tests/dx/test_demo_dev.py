"""`make demo` and `make dev` as a developer runs them: real processes, the emulator server, the CLI."""

from __future__ import annotations

import io
import os
import re
import signal
import struct
import subprocess
import sys

import requests

from tests.dx.conftest import ROOT
from vodflow_ops.demo import TS_PACKET, _crc32_mpeg, mpeg_ts


def test_make_demo_prints_three_file_ids_and_checks_the_bytes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vodflow_ops.demo"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    file_ids = re.findall(r"^  FileId   (\d+)$", proc.stdout, re.MULTILINE)
    assert len(set(file_ids)) == 3
    assert proc.stdout.count("played back:") == 3 and "bytes match" in proc.stdout
    assert "part_copy invocations" in proc.stdout and "(0 part_copy" not in proc.stdout
    assert re.search(r"FileIds: \d+, \d+, \d+$", proc.stdout.strip())


def test_the_generated_video_is_mpeg_ts_with_valid_tables() -> None:
    buf = io.BytesIO()
    mpeg_ts(3 * 1024 * 1024)(buf)
    data = buf.getvalue()
    assert len(data) % TS_PACKET == 0 and len(data) > 3_000_000
    packets = [data[i : i + TS_PACKET] for i in range(0, len(data), TS_PACKET)]
    assert all(p[0] == 0x47 for p in packets)
    pids = [struct.unpack(">H", p[1:3])[0] & 0x1FFF for p in packets]
    assert pids[0] == 0 and pids[1] == 0x1000 and set(pids) == {0, 0x1000, 0x100}
    for table in (packets[0], packets[1]):  # PAT, PMT: CRC over the section including its CRC is 0
        length = ((table[6] & 0x0F) << 8) | table[7]
        assert _crc32_mpeg(table[5 : 8 + length]) == 0
    video = [p for p, pid in zip(packets, pids) if pid == 0x100]
    counters = [p[3] & 0x0F for p in video]
    assert all((b - a) % 16 == 1 for a, b in zip(counters, counters[1:]))  # continuity counters
    assert video[0][4:8] == b"\x00\x00\x01\xe0"  # a PES start on the video stream


def test_make_dev_serves_the_api_and_the_cli_reads_it() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vodflow_ops.dev"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
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
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
