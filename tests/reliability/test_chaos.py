"""Chaos: random faults on about a fifth of the cloud calls, over many uploads of mixed sizes, to the end.

Every object is staged first (the uploader is not the system under test); then faults are drawn
at random (seeded, so a failing run replays) on every call the functions and the sweeper make:
5xx errors and throttling, dropped connections, functions killed before and after a call, and
aborts that fail half the time. The app runs through SCF's retries and the sweeper's passes (past
every lease, then past the deadline). Then, with the faults gone, the invariants:

- each staged object has one job, committed exactly once with its bytes, or failed with a code and a
  message (and no media);
- no multipart upload is left open, in VOD's storage or in staging;
- every staging object is untouched (same ETag, same bytes);
- no job is outside a final state after the sweeper's deadline.

``make test`` runs one small seed; ``make test-full`` (``-m slow``) several seeds of 40+ uploads.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tencent_emulator import mock_tencent
from tests.pipeline.harness import BUCKET, Deployed, deploy, function_runtime, media_bytes, open_uploads
from tests.reliability.report import REPORT
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep

FUNCTIONS = ("vodflow-ingest", "vodflow-part-copy", "vodflow-finalize")


@dataclass
class ChaosResult:
    seed: int
    uploads: int
    multipart: int
    calls: int
    faults: int
    committed: int
    failed: dict[str, int]
    sweeps: int
    sweep_crashes: int


def inject_chaos(app: Deployed, seed: int) -> list[Any]:
    """About 20% of calls get a fault; aborts fail half of the time on top."""
    f = app.cloud.faults
    s = seed * 100
    return [
        f.inject("cos", "*", code="InternalError", status=500, probability=0.10, times=None, seed=s + 1),
        f.inject("cos", "*", code="SlowDown", status=503, probability=0.03, times=None, seed=s + 2),
        f.inject("*", "*", drop=True, probability=0.05, times=None, seed=s + 3),
        f.inject("vod", "*", code="InternalError", status=500, probability=0.06, times=None, seed=s + 4),
        f.inject("scf", "Invoke", code="RequestLimitExceeded", status=200, probability=0.06, times=None, seed=s + 5),
        *[
            f.inject("*", "*", kill=point, function=fn, probability=0.015, times=None, seed=s + 10 + i)
            for i, (point, fn) in enumerate((p, fn) for p in ("before", "after") for fn in FUNCTIONS)
        ],
        f.inject("cos", "AbortMultipartUpload", code="InternalError", status=500, probability=0.5, times=None, seed=s),
    ]


def _sweep(app: Deployed, now: float) -> bool:
    """One sweeper pass (its own calls get faults too: a pass that dies is simply followed by the next)."""
    try:
        sweep(function_runtime(app), now=now)
    except Exception:  # a crashed pass is what the next pass is for
        return False
    finally:
        app.drain()
    return True


def run_chaos(tmp: Path, seed: int, uploads: int, multipart_share: float = 0.3) -> ChaosResult:
    rng = random.Random(seed)
    with mock_tencent(data_dir=tmp / "cloud") as cloud:
        app = deploy(cloud)
        staged: dict[str, tuple[bytes, str]] = {}
        multipart = 0
        for i in range(uploads):
            big = rng.random() < multipart_share
            multipart += big
            size = rng.randint(4 * MIB + 1, 7 * MIB) if big else rng.randint(1, 400_000)
            data = media_bytes(size, seed=seed * 1000 + i)
            key = f"incoming/chaos-{seed}/{i:03d}.mp4"
            staged[key] = (data, str(app.stage(key, data)["ETag"]).strip('"'))
        # The events are queued by the staging; the faults start with the functions' first call.
        faults = inject_chaos(app, seed)
        first_request = len(cloud.requests)
        app.drain()
        rt = function_runtime(app)
        start = time.time()
        sweeps = crashes = 0
        for i in range(1, 7):  # the timer, past each lease: stalled work redone, lost events reconciled
            crashes += not _sweep(app, start + i * (rt.config.lease_s + 1))
            sweeps += 1
        deadline = max([j["deadline"] for j in app.jobs()] + [start])
        for i in range(1, 5):  # past the deadline: every job ends, every abort retried until confirmed
            crashes += not _sweep(app, deadline + i * 120)
            sweeps += 1
        fired = sum(f.fired for f in faults)
        app.cloud.faults.clear()
        committed, failed = check_chaos_invariants(app, staged)
        result = ChaosResult(
            seed, uploads, multipart, len(cloud.requests) - first_request, fired, committed, failed, sweeps, crashes
        )
    REPORT.note(
        f"chaos seed {seed}: {uploads} uploads ({multipart} multipart), {result.faults} faults on "
        f"{result.calls} calls ({100 * result.faults / max(1, result.calls):.0f}%), {committed} committed once, "
        f"{sum(failed.values())} failed cleanly {dict(sorted(failed.items()))}, {sweeps} sweeps "
        f"({crashes} crashed and were followed by the next); 0 open uploads, staging untouched"
    )
    REPORT.count("chaos: uploads", uploads)
    REPORT.count("chaos: faults injected", result.faults)
    return result


def check_chaos_invariants(app: Deployed, staged: dict[str, tuple[bytes, str]]) -> tuple[int, dict[str, int]]:
    jobs = app.jobs()
    by_key: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        by_key.setdefault(job["source"]["key"], []).append(job)
    media = {m.file_id: m for m in app.all_media()}
    committed = 0
    failed: dict[str, int] = {}
    for key, (data, etag) in staged.items():
        assert len(by_key.get(key, [])) == 1, f"{key}: {len(by_key.get(key, []))} jobs for one staged version"
        [job] = by_key[key]
        result = app.record(job["job_id"], "result.json")
        failure = app.record(job["job_id"], "failed.json")
        if result is not None:
            assert failure is None, f"{key}: both committed and failed"
            m = media.get(result["file_id"])
            assert m is not None, f"{key}: its FileId is not in VOD"
            assert app.fetch(m.media_url) == data, f"{key}: the media is not the staged bytes"
            committed += 1
        else:
            assert failure is not None, f"{key}: the job is neither committed nor failed after the deadline"
            assert failure.get("code") and failure.get("message"), f"{key}: failed without a reason: {failure}"
            failed[failure["code"]] = failed.get(failure["code"], 0) + 1
        head = app.cloud.cos.head_object(BUCKET, key)
        assert head is not None and str(head.etag).strip('"') == etag, f"{key}: the staging object changed"
        assert hashlib.sha256(app.cloud.cos.read_object(BUCKET, key)).digest() == hashlib.sha256(data).digest()
    assert len(media) == committed, f"{len(media)} media in VOD for {committed} committed jobs: one twice"
    assert open_uploads(app) == [], "a multipart upload was left open in VOD's storage"
    assert app.cloud.cos.list_multipart_uploads(BUCKET) == [], "a multipart upload was left open in staging"
    return committed, failed


def test_chaos_one_small_seed(tmp_path: Path) -> None:
    result = run_chaos(tmp_path, seed=1, uploads=8, multipart_share=0.3)
    assert result.faults >= 10, "the chaos fired too few faults to prove anything"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_chaos_many_uploads(tmp_path: Path, seed: int) -> None:
    result = run_chaos(tmp_path, seed=seed, uploads=40, multipart_share=0.3)
    assert result.faults >= 100
