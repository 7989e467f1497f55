"""Every multipart upload that is opened ends, and every job ends (issue 13, classes 2 and 4).

Uploads: an abort that does not go through (an outage, a dropped reply, the function killed right
after ``failed.json``) is retried by the sweeper until confirmed (``g<N>/aborted.json``); once
VOD's certificate is gone it is recorded ``abort-impossible`` with the reason; staging uploads
abandoned by their uploader are aborted after ``VODFLOW_MAX_UPLOAD_AGE_S``.

Jobs: an upload aborted from outside, a session record that vanished, a part that no longer
lists, a commit lock whose holder died and whose takeovers keep dying, a package that waits for
ever: each ends ``failed`` with its code, never ``completing`` (or anything else) for ever.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from qcloud_cos import CosConfig, CosS3Client

from tests.pipeline.harness import BUCKET, Deployed, function_runtime, media_bytes, only_result, open_uploads
from tests.pipeline.test_story_packages import hls_files, stage_package
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep


def _job(app: Deployed) -> dict[str, Any]:
    [job] = app.jobs()
    return job


def _cert_cos(app: Deployed, job_id: str) -> tuple[CosS3Client, str, str, str]:
    """COS with VOD's certificate of generation 1, as anyone holding it could use it; bucket, key, UploadId."""
    session = app.record(job_id, "g1/session.json")
    upload = app.record(job_id, "g1/upload.json")
    assert session is not None and upload is not None
    cert = session["certificate"]
    cos = CosS3Client(
        CosConfig(
            Region=session["storage_region"],
            SecretId=cert["secret_id"],
            SecretKey=cert["secret_key"],
            Token=cert["token"],
        )
    )
    return cos, session["storage_bucket"], session["media_storage_path"].lstrip("/"), upload["upload_id"]


def _failed_code(app: Deployed, job_id: str) -> str:
    failed = app.record(job_id, "failed.json")
    assert failed is not None, "the job did not end failed"
    assert failed["message"]
    return str(failed["code"])


# -- class 2: every upload ends ------------------------------------------------------------------
@pytest.mark.parametrize("fault", [{"code": "InternalError", "status": 500}, {"drop": True}], ids=["5xx", "dropped"])
def test_an_abort_that_fails_is_retried_by_the_sweeper_until_confirmed(app: Deployed, fault: dict[str, Any]) -> None:
    app.cloud.faults.inject("cos", "UploadPart", code="InternalError", status=500, times=None)
    app.stage("incoming/abort-outage.mp4", media_bytes(6 * MIB, seed=81))
    app.drain()
    job = _job(app)
    outage = app.cloud.faults.inject("cos", "AbortMultipartUpload", times=None, **fault)
    rt = function_runtime(app)
    # The failure is recorded; its abort fails, and is tried again in the same pass (still failing).
    assert sweep(rt, now=job["deadline"] + 1) == {"failed: deadline": 1, "uploads open": 1}
    assert outage.fired >= 1
    assert len(open_uploads(app)) == 1, "the abort went through although it was made to fail"
    assert app.record(job["job_id"], "g1/aborted.json") is None
    # Still failing: the job stays in the aborts set and the next pass tries again.
    assert sweep(rt, now=job["deadline"] + 100) == {"uploads open": 1}
    app.cloud.faults.clear()
    assert sweep(rt, now=job["deadline"] + 200) == {"uploads closed": 1}
    assert open_uploads(app) == []
    assert app.record(job["job_id"], "g1/aborted.json") is not None
    assert sweep(rt, now=job["deadline"] + 300) == {}  # confirmed: the job left the aborts set
    assert _failed_code(app, job["job_id"]) == "FailedOperation.Deadline"


def test_a_function_killed_right_after_failed_json_leaves_the_abort_to_the_sweeper(app: Deployed) -> None:
    # Every copy of a part arrives damaged (a CRC64 mismatch fails the job), and part_copy dies on each of
    # its attempts right after failed.json, before its AbortMultipartUpload.
    app.cloud.faults.inject("cos", "UploadPart", corrupt=True, times=None)
    kill = app.cloud.faults.inject(
        "cos", "AbortMultipartUpload", kill="before", function="vodflow-part-copy", times=None
    )
    app.stage("incoming/killed-failer.mp4", media_bytes(5 * MIB, seed=82))
    app.drain()
    job = _job(app)
    assert kill.fired >= 1
    assert app.record(job["job_id"], "failed.json") is not None
    assert len(open_uploads(app)) == 1
    app.cloud.faults.clear()
    actions = sweep(function_runtime(app), now=time.time() + 10)
    assert actions.get("uploads closed") == 1, actions
    assert open_uploads(app) == []
    assert app.all_media() == []


def test_an_abort_after_the_certificate_expired_is_recorded_impossible(app: Deployed) -> None:
    app.cloud.faults.inject("cos", "UploadPart", code="InternalError", status=500, times=None)
    app.stage("incoming/abort-late.mp4", media_bytes(6 * MIB, seed=83))
    app.drain()
    job = _job(app)
    session = app.record(job["job_id"], "g1/session.json")
    assert session is not None
    app.cloud.faults.inject("cos", "AbortMultipartUpload", code="InternalError", status=500, times=None)
    rt = function_runtime(app)
    sweep(rt, now=job["deadline"] + 1)
    app.cloud.faults.clear()
    # VOD's certificate has run out: only it could write (or abort) under the session's path.
    expired = session["certificate"]["expired_time"]
    app.cloud.clock.advance(expired - time.time() + 60)
    assert sweep(rt, now=job["deadline"] + 100) == {"uploads impossible": 1}
    record = app.record(job["job_id"], "g1/abort-impossible.json")
    assert record is not None
    assert record["code"] == "ExpiredToken"
    assert "certificate expired" in record["reason"]
    assert sweep(rt, now=job["deadline"] + 200) == {}  # given up once, with the reason; not retried for ever


def test_an_abandoned_staging_multipart_upload_is_aborted_after_the_maximum_age(app: Deployed) -> None:
    # What an uploader of POST /uploads leaves behind when they stop half-way: an upload with a part.
    upload_id = app.cos.create_multipart_upload(Bucket=BUCKET, Key="incoming/abandoned.mp4")["UploadId"]
    app.cos.upload_part(Bucket=BUCKET, Key="incoming/abandoned.mp4", Body=b"x" * 1024, PartNumber=1, UploadId=upload_id)
    rt = function_runtime(app)
    assert sweep(rt) == {}  # young: its URLs still work
    assert len(app.cloud.cos.list_multipart_uploads(BUCKET)) == 1
    assert sweep(rt, now=time.time() + rt.config.max_upload_age_s + 60) == {"abandoned upload aborted": 1}
    assert app.cloud.cos.list_multipart_uploads(BUCKET) == []
    assert app.cloud.cos.head_object(BUCKET, "incoming/abandoned.mp4") is None


# -- class 4: every job ends ---------------------------------------------------------------------
def _stalled(app: Deployed, name: str, seed: int) -> dict[str, Any]:
    """A fan-out job whose part copies all died (their invocations killed): session and upload exist."""
    app.cloud.faults.inject("cos", "UploadPart", kill="before", function="vodflow-part-copy", times=None)
    app.stage(f"incoming/{name}.mp4", media_bytes(6 * MIB, seed=seed))
    app.drain()
    app.cloud.faults.clear()
    return _job(app)


def test_an_upload_aborted_from_outside_ends_the_job_with_upload_gone(app: Deployed) -> None:
    job = _stalled(app, "aborted-outside", 84)
    cos, bucket, key, upload_id = _cert_cos(app, job["job_id"])
    cos.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    rt = function_runtime(app)
    sweep(rt, now=time.time() + rt.config.lease_s + 1)  # the batches are dispatched again
    app.drain()
    assert _failed_code(app, job["job_id"]) == "FailedOperation.UploadGone"
    assert open_uploads(app) == []
    assert app.all_media() == []


def test_an_upload_gone_before_its_complete_ends_the_job_not_completing_for_ever(app: Deployed) -> None:
    # Every part lands; finalize takes the lock and dies before Complete; then the upload is aborted outside.
    app.cloud.faults.inject("cos", "CompleteMultipartUpload", kill="before", function="vodflow-finalize", times=3)
    app.stage("incoming/gone-at-finalize.mp4", media_bytes(5 * MIB, seed=85))
    app.drain()
    job = _job(app)
    lock = app.record(job["job_id"], "commit.lock")
    assert lock is not None
    cos, bucket, key, upload_id = _cert_cos(app, job["job_id"])
    cos.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    rt = function_runtime(app)
    assert sweep(rt, now=lock["at"] + rt.config.lease_s + 1) == {"finalize restarted": 1}
    app.drain()
    assert _failed_code(app, job["job_id"]) == "FailedOperation.UploadGone"
    assert open_uploads(app) == []


def test_a_session_record_that_vanished_ends_the_job(app: Deployed) -> None:
    job = _stalled(app, "no-session", 86)
    app.cloud.cos.delete_object(BUCKET, f".vodflow/jobs/{job['job_id']}/g1/session.json")
    rt = function_runtime(app)
    actions = sweep(rt, now=time.time() + rt.config.lease_s + 1)
    assert actions == {"failed: session lost": 1}, actions
    app.drain()
    assert _failed_code(app, job["job_id"]) == "FailedOperation.SessionLost"
    # Without the session there is no certificate: the open upload cannot be reached any more, and says so.
    impossible = app.record(job["job_id"], "g1/abort-impossible.json")
    assert impossible is not None
    assert "session record is gone" in impossible["reason"]
    assert app.all_media() == []


def _lose_part_two(app: Deployed) -> None:
    for bucket in app.cloud.cos.list_buckets():
        for up in app.cloud.cos.list_multipart_uploads(bucket.name) if bucket.name != BUCKET else []:
            app.cloud.cos._upload(app.cloud.cos.get_bucket(bucket.name), up.key, up.upload_id).parts.pop(2, None)


def test_a_part_that_no_longer_lists_is_copied_again_and_the_media_is_whole(app: Deployed) -> None:
    # ListParts is the truth: a part that vanished before finalize looked is a part not copied. Finalize waits,
    # the sweeper hands its batch to part_copy again once the lease is out, and the job commits the whole media.
    lost = app.cloud.faults.inject(
        "cos", "ListParts", hook=lambda: _lose_part_two(app), function="vodflow-finalize", times=1
    )
    data = media_bytes(5 * MIB, seed=87)
    app.stage("incoming/lost-part.mp4", data)
    app.drain()
    job = _job(app)
    assert lost.fired == 1
    assert app.record(job["job_id"], "result.json") is None
    assert app.record(job["job_id"], "commit.lock") is None  # finalize saw a part missing before locking
    rt = function_runtime(app)
    actions = []
    for _ in range(3):
        actions.append(sweep(rt, now=time.time() + rt.config.lease_s + 1))
        app.drain()
        if app.record(job["job_id"], "result.json") is not None:
            break
    only_result(app)
    assert [app.fetch(m.media_url) for m in app.all_media()] == [data], actions
    assert open_uploads(app) == []


def test_a_part_that_vanishes_while_finalize_completes_ends_the_job_with_part_missing(app: Deployed) -> None:
    # Finalize saw every part, took the lock, and the upload lost one before Complete: the job ends, never waits.
    app.cloud.faults.inject(
        "cos", "CompleteMultipartUpload", hook=lambda: _lose_part_two(app), function="vodflow-finalize", times=1
    )
    app.stage("incoming/lost-at-complete.mp4", media_bytes(5 * MIB, seed=89))
    app.drain()
    job = _job(app)
    assert _failed_code(app, job["job_id"]) == "InvalidPart"  # COS refuses the Complete: Tencent's code
    assert open_uploads(app) == []
    assert app.all_media() == []


def test_a_commit_lock_whose_holder_and_every_takeover_die_ends_at_the_deadline(app: Deployed) -> None:
    app.cloud.faults.inject("vod", "CommitUpload", kill="before", function="vodflow-finalize", times=None)
    app.stage("incoming/dead-holder.mp4", media_bytes(5 * MIB, seed=88))
    app.drain()
    job = _job(app)
    lock = app.record(job["job_id"], "commit.lock")
    assert lock is not None
    rt = function_runtime(app)
    assert sweep(rt, now=lock["at"] + rt.config.lease_s + 1) == {"finalize restarted": 1}
    app.drain()  # the takeover dies too, on every attempt
    assert app.record(job["job_id"], "failed.json") is None
    assert sweep(rt, now=job["deadline"] + 1) == {"failed: deadline": 1}
    assert _failed_code(app, job["job_id"]) == "FailedOperation.Deadline"
    assert open_uploads(app) == []
    assert app.all_media() == []


def test_a_waiting_package_ends_at_the_deadline(app: Deployed) -> None:
    stage_package(app, "incoming/forever.hls", hls_files(), skip=("360p/seg1.ts",))
    app.drain()
    job = _job(app)
    assert app.record(job["job_id"], "waiting.json") is not None
    assert sweep(function_runtime(app), now=job["deadline"] + 1) == {"failed: deadline": 1}
    assert _failed_code(app, job["job_id"]) == "FailedOperation.Deadline"
