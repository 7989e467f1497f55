"""A user drops files into the staging bucket; the trigger runs; each becomes exactly one VOD media."""

from __future__ import annotations

from tests.pipeline.harness import Deployed, media_bytes
from vodflow.pipeline.config import MIB


def test_a_1kb_video_becomes_one_media_with_the_same_bytes(app: Deployed) -> None:
    data = media_bytes(1024)
    app.stage("incoming/clip.mp4", data, {"x-cos-meta-vod-procedure": "", "x-cos-meta-vod-class-id": "0"})
    app.drain()
    [job] = app.jobs()
    result = app.record(job["job_id"], "result.json")
    assert result is not None, app.record(job["job_id"], "failed.json")
    info = app.describe(result["file_id"])
    assert info.BasicInfo.Name == "clip"
    assert app.fetch(result["media_url"]) == data
    assert len(app.all_media()) == 1


def test_a_large_object_goes_through_the_fan_out_and_commits_once(app: Deployed) -> None:
    data = media_bytes(10 * MIB + 12345, seed=3)
    app.stage("incoming/big.mov", data)
    app.drain()
    [job] = app.jobs()
    assert job["kind"] == "multipart"
    assert job["part_count"] == 11
    result = app.record(job["job_id"], "result.json")
    assert result is not None, app.record(job["job_id"], "failed.json")
    assert app.fetch(result["media_url"]) == data
    assert len(app.all_media()) == 1
    copies = [i for i in app.cloud.scf.invocations if i.function == "vodflow-part-copy"]
    assert len({i.request_id for i in copies}) >= 4  # 11 parts, 3 a batch
