"""Issue 13, class 9: a user can fix a mistake. A job is the object version (bucket, key, ETag) with the
options its ``x-cos-meta-vod-*`` metadata chose: the same bytes re-staged with corrected metadata, or
``POST /jobs`` after a failure, start a fresh attempt; a duplicate starts nothing."""

from __future__ import annotations

from tests.pipeline.harness import Deployed, media_bytes
from tests.pipeline.test_story_api import call
from vodflow.pipeline.jobs import job_id_for


def jobs_of(app: Deployed, key: str) -> dict[str, dict]:
    return {j["job_id"]: j for j in app.jobs() if j["source"]["key"] == key}


def test_restaging_the_same_bytes_with_corrected_metadata_starts_a_fresh_attempt(app: Deployed) -> None:
    data = media_bytes(1200, seed=9)
    put = app.stage("incoming/fix.mp4", data, {"x-cos-meta-vod-procedur": "typo"})
    app.drain()
    first = job_id_for("staging-1250000000", "incoming/fix.mp4", put["ETag"])
    assert app.record(first, "failed.json")["code"] == "UnknownParameter"
    # The same bytes (the same ETag), the metadata corrected.
    again = app.stage("incoming/fix.mp4", data, {"x-cos-meta-vod-media-name": "Fixed"})
    assert again["ETag"] == put["ETag"]
    app.drain()
    jobs = jobs_of(app, "incoming/fix.mp4")
    assert set(jobs) == {first, f"{first}-r1"}
    result = app.record(f"{first}-r1", "result.json")
    assert result is not None, app.record(f"{first}-r1", "failed.json")
    assert app.describe(result["file_id"]).BasicInfo.Name == "Fixed"
    # The corrected request staged once more (or its event delivered twice) is the same job.
    app.stage("incoming/fix.mp4", data, {"x-cos-meta-vod-media-name": "Fixed"})
    app.drain()
    assert set(jobs_of(app, "incoming/fix.mp4")) == {first, f"{first}-r1"}
    assert len(app.all_media()) == 1
    # And the first (failed) request's event again finds its failed job: no loop of attempts.
    app.stage("incoming/fix.mp4", data, {"x-cos-meta-vod-procedur": "typo"})
    app.drain()
    assert set(jobs_of(app, "incoming/fix.mp4")) == {first, f"{first}-r1"}


def test_post_jobs_after_a_failure_starts_one_fresh_attempt_with_the_options_staged_now(app: Deployed) -> None:
    data = media_bytes(900, seed=10)
    put = app.stage("incoming/retry.mp4", data, {"x-cos-meta-vod-class-id": "-1"})
    app.drain()
    first = job_id_for("staging-1250000000", "incoming/retry.mp4", put["ETag"])
    assert app.record(first, "failed.json")["code"] == "InvalidParameterValue.ClassId"
    # POST /jobs with the options still wrong: exactly one fresh attempt, failed with the reason.
    r = call(app, "POST", "/jobs", {"key": "incoming/retry.mp4"})
    assert r.status_code == 202, r.text
    assert r.json()["job_id"] == f"{first}-r1"
    assert set(jobs_of(app, "incoming/retry.mp4")) == {first, f"{first}-r1"}
    assert r.json()["state"] == "failed"
    # The user fixes the metadata in place (a copy onto itself: new metadata, the same bytes), then restarts.
    app.cos.copy_object(
        Bucket="staging-1250000000",
        Key="incoming/retry.mp4",
        CopySource={"Bucket": "staging-1250000000", "Key": "incoming/retry.mp4", "Region": app.cloud.region},
        CopyStatus="Replaced",
        Metadata={"x-cos-meta-vod-media-name": "Retried"},
    )
    app.drain()
    # The copy's own event already started (and finished) the fresh attempt with the new options; POST /jobs
    # finds it and says so.
    r = call(app, "POST", "/jobs", {"key": "incoming/retry.mp4"})
    assert r.status_code == 200 and r.json()["status"] == "already committed", r.text
    assert r.json()["job_id"] == f"{first}-r2"
    app.drain()
    view = call(app, "GET", f"/jobs/{r.json()['job_id']}").json()
    assert view["state"] == "committed", view
    assert app.fetch(view["media_url"]) == data
    assert app.describe(view["file_id"]).BasicInfo.Name == "Retried"
    # POST /jobs again on the committed request: the same job, nothing started twice.
    again = call(app, "POST", "/jobs", {"key": "incoming/retry.mp4"}).json()
    assert again["job_id"] == view["id"]
    assert len(app.all_media()) == 1
