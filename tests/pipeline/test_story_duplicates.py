"""Triggers fire twice, invocations are retried, functions die at the worst moment: still one media."""

from __future__ import annotations

import pytest

from tests.pipeline.harness import BUCKET, Deployed, media_bytes, only_result, open_uploads, queued_events
from vodflow.pipeline.config import MIB


def media_bytes_of_all(app: Deployed) -> list[bytes]:
    return [app.fetch(m.media_url) for m in app.all_media()]


def test_the_same_event_delivered_twice_at_once_gives_one_job_and_one_media(app: Deployed) -> None:
    app.cloud.scf.duplicate_cos_events = True
    data = media_bytes(6 * MIB, seed=11)
    app.stage("incoming/twice.mp4", data)
    app.drain()
    assert len([i for i in app.cloud.scf.invocations if i.function == "vodflow-ingest"]) == 2
    only_result(app)
    assert media_bytes_of_all(app) == [data]


def test_the_same_event_five_times_concurrently_and_again_later(app: Deployed) -> None:
    data = media_bytes(2 * MIB, seed=12)
    app.stage("incoming/many.mp4", data)
    [event] = queued_events(app, "vodflow-ingest")
    for _ in range(4):
        app.cloud.scf.invoke_async("vodflow-ingest", event, source="cos")
    app.drain()
    assert len([i for i in app.cloud.scf.invocations if i.function == "vodflow-ingest"]) == 5
    app.cloud.scf.invoke_async("vodflow-ingest", event, source="cos")  # one after the other, too
    app.drain()
    only_result(app)
    assert media_bytes_of_all(app) == [data]


@pytest.mark.parametrize("size", [3000, 7 * MIB + 5])
def test_every_async_invocation_run_once_more_than_needed_gives_one_media(app: Deployed, size: int) -> None:
    data = media_bytes(size, seed=13)
    app.stage("incoming/again.mp4", data)
    first_round = app.drain()
    for rec in first_round:  # SCF's retries are at-least-once: run every invocation once more
        app.cloud.scf.invoke_async(rec.function, rec.event, source=rec.source)
    app.drain()
    only_result(app)
    assert media_bytes_of_all(app) == [data]
    assert open_uploads(app) == []


@pytest.mark.parametrize(("kill", "times"), [("before", 2), ("after", 1)], ids=["mid-part", "part-landed"])
def test_a_part_copy_killed_mid_part_or_after_a_part_landed_is_retried_and_the_media_is_whole(
    app: Deployed, kill: str, times: int
) -> None:
    # before: killed with a ranged GET open and the part not sent, twice. after: killed once a part is in VOD's
    # storage with nothing recorded (ListParts is the truth): the retry finds the part there and never sends it again.
    fault = app.cloud.faults.inject("cos", "UploadPart", kill=kill, function="vodflow-part-copy", times=times)
    data = media_bytes(9 * MIB + 1, seed=14)
    app.stage("incoming/killed-copy.mp4", data)
    app.drain()
    crashes = [i for i in app.cloud.scf.invocations if i.function == "vodflow-part-copy" and i.status != "ok"]
    assert fault.fired == len(crashes) == times
    job, _ = only_result(app)
    assert media_bytes_of_all(app) == [data]
    sent = [r for r in app.cloud.requests if r.action == "UploadPart" and r.status == 200]
    if kill == "after":
        assert len(sent) == job["part_count"]  # each part once, the one that landed before the kill included


@pytest.mark.parametrize(
    ("service", "action"),
    [("cos", "CompleteMultipartUpload"), ("vod", "CommitUpload")],
)
def test_a_finalize_killed_after_a_step_commits_once_on_its_retry(app: Deployed, service: str, action: str) -> None:
    fault = app.cloud.faults.inject(service, action, kill="after", function="vodflow-finalize", times=1)
    data = media_bytes(5 * MIB + 77, seed=15)
    app.stage("incoming/killed-finalize.mp4", data)
    app.drain()
    assert fault.fired == 1
    only_result(app)
    assert media_bytes_of_all(app) == [data]


def test_an_inline_ingest_killed_after_commit_records_the_one_media(app: Deployed) -> None:
    app.cloud.faults.inject("vod", "CommitUpload", kill="after", function="vodflow-ingest", times=1)
    data = media_bytes(4000, seed=16)
    app.stage("incoming/killed-ingest.mp4", data)
    app.drain()
    only_result(app)
    assert media_bytes_of_all(app) == [data]


def test_a_staging_object_replaced_mid_copy_never_mixes_two_versions(app: Deployed) -> None:
    v1 = media_bytes(12 * MIB, seed=21)
    v2 = media_bytes(12 * MIB, seed=22)
    app.stage("incoming/replaced.mp4", v1)
    # The new version lands exactly when the first version's third part is being uploaded.
    seen: list[int] = []

    def replace_on_third_part() -> None:
        seen.append(1)
        if len(seen) == 3:
            app.cloud.cos.put_object(BUCKET, "incoming/replaced.mp4", v2)

    app.cloud.faults.inject("cos", "UploadPart", times=None, hook=replace_on_third_part)
    app.drain()
    jobs = {j["source"]["etag"]: j for j in app.jobs()}
    assert len(jobs) == 2
    states = {}
    for job in jobs.values():
        failed = app.record(job["job_id"], "failed.json")
        states[job["job_id"]] = failed["code"] if failed else "committed"
    assert sorted(states.values()) == ["FailedOperation.SourceChanged", "committed"]
    assert media_bytes_of_all(app) == [v2]
    assert open_uploads(app) == []
