"""The sweeper keeps stalled jobs moving and ends the hopeless ones, without ever doubling a media."""

from __future__ import annotations

import time
from pathlib import Path

from tencent_emulator import mock_tencent
from tests.pipeline.harness import Deployed, deploy, function_runtime, media_bytes, only_result, open_uploads
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep


def test_a_batch_whose_invocations_all_died_is_dispatched_again(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud, VODFLOW_MAX_FANOUT="1")  # one batch in flight: the chain stops when it dies
        _stalled_batch_story(app)


def _stalled_batch_story(app: Deployed) -> None:
    # The first batch's invocation is killed on every attempt (1 + 2 retries).
    app.cloud.faults.inject("cos", "UploadPart", kill="before", function="vodflow-part-copy", times=3)
    data = media_bytes(8 * MIB, seed=41)
    app.stage("incoming/stalled.mp4", data)
    app.drain()
    [job] = app.jobs()
    assert app.record(job["job_id"], "result.json") is None
    rt = function_runtime(app)
    actions = sweep(rt, now=time.time() + rt.config.lease_s + 1)
    assert actions == {"redispatched": 1}
    app.drain()
    only_result(app)
    assert [app.fetch(m.media_url) for m in app.all_media()] == [data]


def test_a_job_past_its_deadline_fails_with_the_reason_and_leaves_no_upload(app: Deployed) -> None:
    app.cloud.faults.inject("cos", "UploadPart", code="InternalError", status=500, times=None)
    app.stage("incoming/late.mp4", media_bytes(6 * MIB, seed=42))
    app.drain()
    [job] = app.jobs()
    assert len(open_uploads(app)) == 1
    rt = function_runtime(app)
    actions = sweep(rt, now=job["deadline"] + 1)
    assert actions == {"failed: deadline": 1}
    failed = app.record(job["job_id"], "failed.json")
    assert failed is not None
    assert failed["code"] == "FailedOperation.Deadline"
    assert open_uploads(app) == []
    assert app.all_media() == []


def test_a_certificate_about_to_expire_starts_a_new_generation(app: Deployed) -> None:
    app.cloud.faults.inject("cos", "UploadPart", kill="before", function="vodflow-part-copy", times=None)
    data = media_bytes(7 * MIB, seed=43)
    app.stage("incoming/expiring.mp4", data)
    app.drain()
    [job] = app.jobs()
    session = app.record(job["job_id"], "g1/session.json")
    assert session is not None
    app.cloud.faults.clear()
    rt = function_runtime(app)
    actions = sweep(rt, now=session["certificate"]["expired_time"] - 60)
    assert actions == {"restarted": 1}
    app.drain()
    only_result(app)
    assert app.record(job["job_id"], "g2/restart.json") is not None
    assert [app.fetch(m.media_url) for m in app.all_media()] == [data]
    assert open_uploads(app) == []


def test_a_finalize_that_died_holding_the_lock_is_taken_over(app: Deployed) -> None:
    app.cloud.faults.inject("vod", "CommitUpload", kill="before", function="vodflow-finalize", times=3)
    data = media_bytes(5 * MIB, seed=44)
    app.stage("incoming/locked.mp4", data)
    app.drain()
    [job] = app.jobs()
    lock = app.record(job["job_id"], "commit.lock")
    assert lock is not None
    assert app.record(job["job_id"], "result.json") is None
    rt = function_runtime(app)
    assert sweep(rt, now=lock["at"] + 1) == {"completing": 1}  # within the lease: left alone
    assert sweep(rt, now=lock["at"] + rt.config.lease_s + 1) == {"finalize restarted": 1}
    app.drain()
    only_result(app)
    assert [app.fetch(m.media_url) for m in app.all_media()] == [data]


def test_finished_jobs_are_removed_after_the_retention(app: Deployed) -> None:
    app.stage("incoming/done.mp4", media_bytes(1000, seed=45))
    app.drain()
    rt = function_runtime(app)
    assert app.cloud.cos.list_objects("staging-1250000000", prefix=".vodflow/active/").contents == []
    assert sweep(rt) == {}  # a finished job is not active: the regular pass does not even read it
    assert sweep(rt, now=time.time() + rt.config.job_retention_s / 2) == {}  # too young to remove
    assert sweep(rt, now=time.time() + rt.config.job_retention_s + 10) == {"removed": 1}
    assert app.jobs() == []
    assert app.cloud.cos.list_objects("staging-1250000000", prefix=".vodflow/").contents == []
    assert len(app.all_media()) == 1  # the media itself is VOD's, never touched


def test_the_timer_runs_the_sweeper_function(app: Deployed) -> None:
    app.stage("incoming/tick.mp4", media_bytes(1000, seed=46))
    app.drain()
    app.cloud.scf.fire_timer("vodflow-sweeper-timer")
    [rec] = [r for r in app.drain() if r.function == "vodflow-sweeper"]
    assert rec.status == "ok", rec.error
    assert rec.result["actions"] == {}


def test_an_ingest_that_died_before_job_json_leaves_a_marker_the_sweeper_clears_and_restarts(app: Deployed) -> None:
    # Every attempt of the ingest dies right after marking the job active (its first create-once PUT).
    app.cloud.faults.inject("cos", "PutObject", kill="after", function="vodflow-ingest", times=3)
    app.stage("incoming/orphan.mp4", media_bytes(1000, seed=47))
    app.drain()
    assert app.jobs() == []
    markers = app.cloud.cos.list_objects("staging-1250000000", prefix=".vodflow/active/").contents
    assert len(markers) == 1
    rt = function_runtime(app)
    assert sweep(rt) == {"no record": 1}  # fresh: the event may still be retried
    # Stale: the marker goes, and the object, which has no job, gets one started.
    assert sweep(rt, now=time.time() + rt.config.lease_s + 1) == {"stale marker": 1, "reconciled": 1}
    app.drain()
    only_result(app)
    assert app.cloud.cos.list_objects("staging-1250000000", prefix=".vodflow/active/").contents == []


def test_an_object_whose_every_ingest_died_before_doing_anything_is_started_by_the_sweeper(app: Deployed) -> None:
    # The event is delivered, and its ingest is killed on all three attempts before its first call.
    app.cloud.faults.inject("cos", "HeadObject", kill="before", function="vodflow-ingest", times=3)
    data = media_bytes(2500, seed=48)
    app.stage("incoming/lost-event.mp4", data)
    app.drain()
    assert app.jobs() == []
    rt = function_runtime(app)
    assert sweep(rt) == {}  # too recent: its event may still be on its way
    assert sweep(rt, now=time.time() + 300) == {"reconciled": 1}
    app.drain()
    only_result(app)
    assert [app.fetch(m.media_url) for m in app.all_media()] == [data]
    assert sweep(rt, now=time.time() + 300) == {}  # it has a job now
