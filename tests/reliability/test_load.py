"""Load: many objects staged at once against a low concurrency limit; every one committed exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tencent_emulator import mock_tencent
from tests.pipeline.harness import BUCKET, Deployed, deploy, function_runtime, media_bytes, open_uploads
from tests.reliability.report import REPORT
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep


def all_jobs(app: Deployed) -> list[dict[str, Any]]:
    """Every job.json (the harness's ``jobs()`` reads one listing page, 1000 keys)."""
    listing = app.cloud.cos.list_objects(BUCKET, prefix=".vodflow/jobs/", max_keys=10**7).contents
    return [json.loads(app.cloud.cos.read_object(BUCKET, o.key)) for o in listing if o.key.endswith("/job.json")]


def run_load(tmp_path: Path, small: int, large: int, large_size: int, concurrency: int) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud)
        cloud.scf.concurrency = concurrency
        staged: dict[str, bytes] = {}
        for i in range(small):
            staged[f"incoming/load/small-{i:04d}.mp4"] = media_bytes(1000 + 37 * i, seed=1000 + i)
        for i in range(large):
            staged[f"incoming/load/large-{i}.mp4"] = media_bytes(large_size + i, seed=2000 + i)
        started = time.monotonic()
        for key, data in staged.items():
            app.stage(key, data)
        app.drain(timeout_s=600)
        elapsed = time.monotonic() - started
        jobs = all_jobs(app)
        assert len(jobs) == len(staged)
        unfinished = [j["source"]["key"] for j in jobs if app.record(j["job_id"], "result.json") is None]
        assert unfinished == [], f"jobs stuck or failed: {unfinished[:5]}"
        media = app.all_media()
        assert len(media) == len(staged), "every object committed exactly once"
        assert len({m.file_id for m in media}) == len(staged)
        for job in jobs:
            result = app.record(job["job_id"], "result.json")
            assert result is not None
            assert app.fetch(result["media_url"]) == staged[job["source"]["key"]]
        assert open_uploads(app) == []
        actions = sweep(function_runtime(app))
        assert set(actions) <= {"finished"}, f"the sweeper found work left over: {actions}"
        peak = cloud.scf.peak_concurrency
        assert peak <= concurrency
        invocations = len(cloud.scf.invocations)
    REPORT.count("load: objects committed once", len(staged))
    REPORT.note(
        f"load: {small} small + {large} x {large_size // MIB} MiB staged at once, concurrency limit {concurrency}: "
        f"{len(staged)} committed once, 0 stuck, {invocations} invocations, peak workers {peak}, {elapsed:.1f} s"
    )


def test_load_200_small_and_5_large_under_a_low_concurrency_limit(tmp_path: Path) -> None:
    run_load(tmp_path, small=200, large=5, large_size=9 * MIB, concurrency=4)


@pytest.mark.slow
def test_load_1000_small_and_10_large(tmp_path: Path) -> None:
    run_load(tmp_path, small=1000, large=10, large_size=24 * MIB, concurrency=8)
