"""Issue 13, class 6: job records are checked for damage. Written with Content-MD5 (COS refuses a body
damaged in transit); a record that does not parse when read fails the job cleanly, and neither
``GET /jobs`` nor ``GET /jobs/{id}`` nor the sweeper crashes on it."""

from __future__ import annotations

import json

from tests.pipeline.harness import BUCKET, Deployed, function_runtime, media_bytes, only_result
from tests.pipeline.test_story_api import call
from vodflow.pipeline.sweeper import sweep

GARBAGE = b'{"job_id": "\xff\xfe not json'


def overwrite(app: Deployed, job_id: str, rel: str, body: bytes = GARBAGE) -> None:
    """Through the raw COS API, without the create-once header: what a stray tool or a bad disk would do."""
    app.cos.put_object(Bucket=BUCKET, Key=f".vodflow/jobs/{job_id}/{rel}", Body=body)


def every_record_parses(app: Deployed) -> None:
    for obj in app.cloud.cos.list_objects(BUCKET, prefix=".vodflow/").contents:
        json.loads(app.cloud.cos.read_object(BUCKET, obj.key))


def test_a_record_damaged_in_transit_is_refused_by_cos_and_written_again(app: Deployed) -> None:
    # The first two record writes (the active marker, job.json) have a byte flipped on the wire.
    app.cloud.faults.inject("cos", "PutObject", corrupt=True, times=2, function="vodflow-ingest")
    data = media_bytes(1500, seed=21)
    app.stage("incoming/md5.mp4", data)
    app.drain()
    _, result = only_result(app)
    assert app.fetch(result["media_url"]) == data
    every_record_parses(app)


def test_a_damaged_job_record_fails_the_job_and_the_api_still_answers(app: Deployed) -> None:
    data = media_bytes(6 * 1024 * 1024, seed=22)  # fanned out: part_copy and finalize read job.json again
    # Damage job.json while the job is in flight (just before its multipart upload is initiated: job.json and the
    # session exist, and ingest goes on with the spec it holds, while part_copy and finalize read it again).
    state: dict[str, str] = {}

    def damage() -> None:
        [job] = app.jobs()
        state["job_id"] = job["job_id"]
        overwrite(app, job["job_id"], "job.json")

    app.cloud.faults.inject("cos", "InitiateMultipartUpload", hook=damage)
    app.stage("incoming/damaged.mp4", data)
    app.drain()
    job_id = state["job_id"]
    view = call(app, "GET", f"/jobs/{job_id}")
    assert view.status_code == 200, view.text
    assert view.json()["state"] == "failed"
    assert view.json()["error"]["code"] == "FailedOperation.RecordDamaged"
    assert "job.json" in view.json()["error"]["message"]
    listing = call(app, "GET", "/jobs")
    assert listing.status_code == 200, listing.text
    assert [j["state"] for j in listing.json()["jobs"] if j["id"] == job_id] == ["failed"]
    assert app.all_media() == []
    # The sweeper passes over it without crashing, and the staged object is untouched.
    sweep(function_runtime(app))
    assert app.cloud.cos.read_object(BUCKET, "incoming/damaged.mp4") == data
    # POST /jobs starts a fresh attempt, which commits.
    r = call(app, "POST", "/jobs", {"key": "incoming/damaged.mp4"})
    assert r.status_code == 202, r.text
    app.drain()
    fresh = call(app, "GET", f"/jobs/{r.json()['job_id']}").json()
    assert fresh["state"] == "committed" and app.fetch(fresh["media_url"]) == data


def test_damaged_records_of_a_finished_job_never_crash_the_api(app: Deployed) -> None:
    app.stage("incoming/done.mp4", media_bytes(1000, seed=23))
    app.stage("incoming/bad.mp4", media_bytes(100, seed=24), {"x-cos-meta-vod-class-id": "-1"})
    app.drain()
    jobs = {j["source"]["key"]: j["job_id"] for j in app.jobs()}
    overwrite(app, jobs["incoming/done.mp4"], "job.json", b"[1, 2, 3]")  # JSON, but not a job
    overwrite(app, jobs["incoming/bad.mp4"], "failed.json", b"")
    done = call(app, "GET", f"/jobs/{jobs['incoming/done.mp4']}")
    assert done.status_code == 200 and done.json()["state"] == "committed"  # the result is intact
    bad = call(app, "GET", f"/jobs/{jobs['incoming/bad.mp4']}")
    assert bad.status_code == 200 and bad.json()["error"]["code"] == "FailedOperation.RecordDamaged"
    listing = call(app, "GET", "/jobs")
    assert listing.status_code == 200 and len(listing.json()["jobs"]) == 2
    # A damaged result: a JSON error naming the record (no traceback, no path of ours).
    overwrite(app, jobs["incoming/done.mp4"], "result.json", b"{")
    r = call(app, "GET", f"/jobs/{jobs['incoming/done.mp4']}")
    assert r.json()["code"] == "FailedOperation.RecordDamaged" and "result.json" in r.json()["message"]
    assert "Traceback" not in r.text
    # The listing still shows every job: the damaged one as failed, with the reason.
    listing = call(app, "GET", "/jobs").json()["jobs"]
    damaged = next(j for j in listing if j["id"] == jobs["incoming/done.mp4"])
    assert len(listing) == 2 and damaged["error"]["code"] == "FailedOperation.RecordDamaged"
    sweep(function_runtime(app))
