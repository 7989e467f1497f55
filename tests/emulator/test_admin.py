"""The emulator server is usable from the README: it prints its keys, and its flags and admin endpoint set up
the account (buckets, sub-applications, procedures, storage regions) and nothing else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

from tencent_emulator import Cloud
from tencent_emulator.core import admin
from tencent_emulator.core.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]


def read_banner(stdout: IO[str]) -> str:
    """The lines ``serve`` prints after its JSON line, up to the one that says how to add more."""
    lines = []
    while not lines or "add more" not in lines[-1]:
        line = stdout.readline()
        assert line, "serve stopped before printing its banner"
        lines.append(line)
    return "".join(lines)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Cloud, str]]:
    cloud = Cloud(mode="server", data_dir=tmp_path)
    server = EmulatorServer(cloud, port=0).start()
    cloud.base_url = server.url
    try:
        yield cloud, server.url
    finally:
        server.stop()
        cloud.close()


def test_admin_endpoint_adds_what_the_console_would(served: tuple[Cloud, str]) -> None:
    cloud, url = served
    key = cloud.secret_key
    assert admin.post(url, key, "buckets", {"name": "media"}) == {"name": "media-1250000000", "region": "ap-guangzhou"}
    assert admin.post(url, key, "sub-apps", {"sub_app_id": 1500000001, "name": "shop"})["sub_app_id"] == 1500000001
    assert admin.post(url, key, "procedures", {"name": "P1", "sub_app_id": 1500000001})["name"] == "P1"
    assert admin.post(url, key, "procedures", {"name": "Your Procedure Name"})["sub_app_id"] is None
    assert admin.post(url, key, "storage-regions", {"region": "ap-chongqing"}) == {"region": "ap-chongqing"}
    again = admin.post(url, key, "buckets", {"name": "media-1250000000"})  # adding what exists is not an error
    assert again["name"] == "media-1250000000"
    account = requests.get(f"{url}/_emulator/account", headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
    assert "media-1250000000" in account["buckets"]
    assert account["procedures"]["1500000001"] == ["P1"] and "Your Procedure Name" in account["procedures"]["0"]
    assert "ap-chongqing" in account["storage_regions"]
    assert key not in json.dumps(account) and cloud.secret_id not in json.dumps(account)
    assert "media-1250000000" in cloud.cos.buckets and "P1" in cloud.vod.procedures[1500000001]


@pytest.mark.parametrize(
    ("kind", "body", "status", "code"),
    [
        ("storage-regions", {"region": "mars-1"}, 400, "InvalidParameterValue.StorageRegion"),
        ("procedures", {"name": "P", "sub_app_id": 42}, 400, "InvalidParameterValue.SubAppId"),
        ("sub-apps", {"sub_app_id": "abc"}, 400, "InvalidParameter"),
        ("buckets", {"name": "Bad_Name"}, 400, "InvalidBucketName"),
        ("keys", {"secret_key": "x"}, 404, "ResourceNotFound"),  # nothing it does not model
    ],
)
def test_admin_endpoint_refuses_what_the_cloud_would(
    served: tuple[Cloud, str], kind: str, body: dict[str, object], status: int, code: str
) -> None:
    cloud, url = served
    with pytest.raises(admin.AdminError) as err:
        admin.post(url, cloud.secret_key, kind, body)
    assert (err.value.status, err.value.code) == (status, code)


def test_admin_endpoint_needs_the_account_key(served: tuple[Cloud, str]) -> None:
    cloud, url = served
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {cloud.secret_id}"}):
        resp = requests.post(f"{url}/_emulator/buckets", json={"name": "x"}, headers=headers, timeout=10)
        assert resp.status_code == 401 and resp.json()["code"] == "AuthFailure"
    assert "x-1250000000" not in cloud.cos.buckets


def test_service_hosts_never_reach_the_admin_endpoint(served: tuple[Cloud, str]) -> None:
    cloud, url = served
    host = {"Host": "staging-1250000000.cos.ap-guangzhou.myqcloud.com", "Authorization": f"Bearer {cloud.secret_key}"}
    resp = requests.post(f"{url}/_emulator/buckets", json={"name": "x"}, headers=host, timeout=10)
    assert resp.status_code != 201 and "x-1250000000" not in cloud.cos.buckets


def test_serve_prints_keys_and_sets_up_the_account_from_its_flags(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tencent_emulator", "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--bucket", "staging", "--sub-app", "1500000001:shop", "--procedure", "Your Procedure Name",
         "--procedure", "P2@1500000001", "--storage-region", "ap-chongqing"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())  # the first line stays one JSON object for scripts
        banner = read_banner(proc.stdout)
        keys = re.search(r"export TENCENT_SECRET_ID=(\S+) TENCENT_SECRET_KEY=(\S+)", banner)
        assert keys, banner
        assert f"export VODFLOW_TENCENT_ENDPOINT={info['endpoint']}" in banner
        auth = {"Authorization": f"Bearer {keys.group(2)}"}
        account = requests.get(f"{info['endpoint']}/_emulator/account", headers=auth, timeout=10).json()
        assert "staging-1250000000" in account["buckets"]
        assert account["procedures"] == {"0": ["Your Procedure Name"], "1500000001": ["P2"]}
        assert "ap-chongqing" in account["storage_regions"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_with_a_keys_file_prints_no_key(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tencent_emulator", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
         "--keys-file", str(keys_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        out = proc.stdout.readline() + read_banner(proc.stdout)
        keys = json.loads(keys_file.read_text())
        assert keys["secret_key"] not in out and str(keys_file) in out
        assert keys_file.stat().st_mode & 0o077 == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_refuses_a_bad_flag_and_says_why(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tencent_emulator", "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--storage-region", "mars-1"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "InvalidParameterValue.StorageRegion" in proc.stderr


def readme_library_example() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n", text.index("### 3. The library")) + len("```python\n")
    return text[start : text.index("```", start)]


def test_serve_then_the_readme_library_example_works(tmp_path: Path) -> None:
    """`python -m tencent_emulator serve` as the README shows it, then the README's library example verbatim, in
    the repo's root, with the keys and endpoint serve printed exported (the example reads them from the
    environment and names the committed fixture video and cover)."""
    example = readme_library_example()
    assert "VodUploadClient(secret_id, secret_key)" in example and "tests/fixtures/media/clip.mp4" in example
    proc = subprocess.Popen(
        [sys.executable, "-m", "tencent_emulator", "serve", "--port", "0", "--data-dir", str(tmp_path / "cloud"),
         "--procedure", "Your Procedure Name"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        keys = re.search(r"export TENCENT_SECRET_ID=(\S+) TENCENT_SECRET_KEY=(\S+)", read_banner(proc.stdout))
        assert keys
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENT", "VODFLOW_"))}
        env.update(
            TENCENT_SECRET_ID=keys.group(1), TENCENT_SECRET_KEY=keys.group(2), VODFLOW_TENCENT_ENDPOINT=info["endpoint"]
        )
        ran = subprocess.run(
            [sys.executable, "-c", example], capture_output=True, text=True, env=env, timeout=120, check=False, cwd=ROOT
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
        file_id, media_url, cover_url, request_id = ran.stdout.split()
        assert file_id.isdigit() and media_url.endswith(".mp4") and cover_url.endswith(".png") and request_id
    finally:
        proc.terminate()
        proc.wait(timeout=30)
