"""Duplicates and races: the same event many times at once, sweeper against finalize, two versions in a row."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tencent_emulator import mock_tencent
from tests.pipeline.harness import Deployed, deploy, function_runtime, media_bytes, open_uploads, queued_events
from tests.reliability.report import REPORT
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep


def committed_media(app: Deployed) -> list[bytes]:
    return [app.fetch(m.media_url) for m in app.all_media()]


@pytest.mark.parametrize(("copies", "size"), [(12, 3000), (12, 6 * MIB + 9)])
def test_the_same_event_n_times_concurrently_gives_one_media(tmp_path: Path, copies: int, size: int) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud)
        cloud.scf.concurrency = copies  # every copy runs at the same time
        data = media_bytes(size, seed=51)
        app.stage("incoming/storm.mp4", data)
        [event] = queued_events(app, "vodflow-ingest")
        for _ in range(copies - 1):
            cloud.scf.invoke_async("vodflow-ingest", event, source="cos")
        app.drain()
        ingests = [i for i in cloud.scf.invocations if i.function == "vodflow-ingest"]
        assert len(ingests) == copies
        assert [i.status for i in ingests] == ["ok"] * copies, [i.error for i in ingests]
        assert len(app.jobs()) == 1
        assert committed_media(app) == [data]
        assert open_uploads(app) == []
        REPORT.count("races: duplicate events delivered", copies)


def test_sweepers_overlapping_finalize_commit_once(tmp_path: Path) -> None:
    """Finalize is slowed inside CommitUpload while sweepers, with a clock past every lease, act on the job."""
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud)
        cloud.scf.concurrency = 16
        cloud.faults.inject("vod", "CommitUpload", latency=0.3, function="vodflow-finalize", times=None)
        cloud.faults.inject("cos", "CompleteMultipartUpload", latency=0.2, function="vodflow-finalize", times=None)
        data = media_bytes(7 * MIB + 3, seed=52)
        app.stage("incoming/overlap.mp4", data)
        runner = threading.Thread(target=app.drain, kwargs={"timeout_s": 120})
        runner.start()
        rt = function_runtime(app)
        sweeps: list[dict[str, int]] = []
        errors: list[BaseException] = []

        def sweeper(offset: float) -> None:
            try:
                for _ in range(15):
                    sweeps.append(sweep(rt, now=time.time() + offset))
                    time.sleep(0.03)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sweeper, args=(o,)) for o in (0, rt.config.lease_s + 5, 0)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        runner.join()
        app.drain()
        assert errors == []
        assert len(app.jobs()) == 1
        assert committed_media(app) == [data]
        assert open_uploads(app) == []
        finalizes = [i for i in cloud.scf.invocations if i.function == "vodflow-finalize"]
        commits = [r for r in cloud.requests if r.action == "CommitUpload" and r.status == 200]
        assert len(commits) >= 1
        REPORT.count("races: overlapping sweeps", len(sweeps))
        REPORT.count("races: finalize invocations under overlap", len(finalizes))


def test_two_versions_staged_before_any_trigger_ran_give_the_newest_once(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud)
        v1 = media_bytes(5 * MIB, seed=53)
        v2 = media_bytes(5 * MIB, seed=54)
        app.stage("incoming/twice.mp4", v1)
        app.stage("incoming/twice.mp4", v2)  # both events are queued; both HEADs see the second version
        app.drain()
        assert len([i for i in cloud.scf.invocations if i.function == "vodflow-ingest"]) == 2
        [job] = app.jobs()  # the first version no longer exists: nothing of it may be committed
        assert app.record(job["job_id"], "result.json") is not None
        assert committed_media(app) == [v2]
        assert open_uploads(app) == []
        REPORT.count("races: versions staged back to back", 2)


def test_two_versions_staged_one_after_the_other_commit_each_once(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud)
        v1 = media_bytes(5 * MIB, seed=55)
        v2 = media_bytes(5 * MIB, seed=56)
        app.stage("incoming/again.mp4", v1)
        runner = threading.Thread(target=app.drain, kwargs={"timeout_s": 120})
        runner.start()
        time.sleep(0.05)  # the first version's job under way (or done: either is a valid interleaving)
        app.stage("incoming/again.mp4", v2)
        runner.join()
        app.drain()
        jobs = app.jobs()
        states = sorted(
            "committed"
            if app.record(j["job_id"], "result.json")
            else str((app.record(j["job_id"], "failed.json") or {}).get("code"))
            for j in jobs
        )
        media = committed_media(app)
        # v2 is always committed once; v1 either committed before it was replaced, or its job failed
        # loudly (SourceChanged) because the ETag-pinned reads refused the new bytes; never mixed.
        assert media.count(v2) == 1
        assert all(m in (v1, v2) for m in media) and media.count(v1) <= 1
        assert states in (["committed", "committed"], ["FailedOperation.SourceChanged", "committed"], ["committed"])
        assert open_uploads(app) == []
        REPORT.count("races: versions staged back to back", 2)
