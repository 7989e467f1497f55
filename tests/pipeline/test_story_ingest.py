"""A user drops files into the staging bucket; the trigger runs; each becomes exactly one VOD media."""

from __future__ import annotations

from pathlib import Path

from tencent_emulator import mock_tencent
from tests.pipeline.harness import Deployed, deploy, media_bytes, only_result, open_uploads
from vodflow.pipeline.config import MIB


def test_a_1kb_video_becomes_one_media_with_the_same_bytes(app: Deployed) -> None:
    data = media_bytes(1024)
    app.stage("incoming/clip.mp4", data, {"x-cos-meta-vod-class-id": "0"})
    app.drain()
    _, result = only_result(app)
    info = app.describe(result["file_id"])
    assert info.BasicInfo.Name == "clip"
    assert info.BasicInfo.Type == "mp4"
    assert app.fetch(result["media_url"]) == data
    assert len(app.all_media()) == 1


def test_an_empty_object_fails_clearly_and_commits_nothing(app: Deployed) -> None:
    app.stage("incoming/empty.mp4", b"")
    app.drain()
    [job] = app.jobs()
    failed = app.record(job["job_id"], "failed.json")
    assert failed is not None
    assert failed["code"] == "InvalidParameterValue.MediaSize"
    assert "empty" in failed["message"]
    assert app.all_media() == []


def test_a_large_object_goes_through_the_fan_out_and_commits_once(app: Deployed) -> None:
    data = media_bytes(10 * MIB + 12345, seed=3)
    app.stage("incoming/big.mov", data)
    app.drain()
    job, result = only_result(app)
    assert job["kind"] == "multipart"
    assert job["part_count"] == 11
    assert app.fetch(result["media_url"]) == data
    assert len(app.all_media()) == 1
    copies = {i.request_id for i in app.cloud.scf.invocations if i.function == "vodflow-part-copy"}
    assert len(copies) == 4  # 11 parts, 3 a batch
    assert open_uploads(app) == []


def test_63_mib_is_copied_in_parallel_by_ingest_and_300_mib_fans_out(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(
            cloud,
            VODFLOW_INLINE_THRESHOLD=str(64 * MIB),
            VODFLOW_PART_SIZE=str(8 * MIB),
            VODFLOW_BATCH_PARTS="4",
            VODFLOW_MAX_FANOUT="8",
        )
        inline = media_bytes(63 * MIB, seed=5)
        app.stage("incoming/inline.mp4", inline)
        app.drain()
        [job] = app.jobs()
        # Below the inline threshold, but no single stream: ingest copies its 8 parts side by side and commits,
        # with no part_copy or finalize invocation on the way.
        assert job["kind"] == "multipart"
        assert job["part_count"] == 8
        result = app.record(job["job_id"], "result.json")
        assert result is not None
        assert app.fetch(result["media_url"]) == inline
        assert {i.function for i in app.cloud.scf.invocations} == {"vodflow-ingest"}
        assert open_uploads(app) == []
        del inline

        big = media_bytes(300 * MIB, seed=6)
        app.stage("incoming/fanout.mp4", big)
        app.drain(timeout_s=300)
        [fan] = [j for j in app.jobs() if j["source"]["key"] == "incoming/fanout.mp4"]
        assert fan["kind"] == "multipart"
        assert fan["part_count"] == 38
        result = app.record(fan["job_id"], "result.json")
        assert result is not None, app.record(fan["job_id"], "failed.json")
        assert app.fetch(result["media_url"]) == big
        assert len(app.all_media()) == 2


def test_a_cover_named_in_metadata_becomes_the_cover_url(app: Deployed) -> None:
    cover = b"\x89PNG\r\n\x1a\n" + media_bytes(2000, seed=9)
    app.stage("incoming/show/poster.png", cover)
    app.stage(
        "incoming/show/episode.mp4",
        media_bytes(4096),
        {"x-cos-meta-vod-cover": "poster.png", "x-cos-meta-vod-media-name": "Episode%201"},
    )
    app.drain()
    _, result = only_result(app)  # the cover image alone started no job
    assert result["cover_url"]
    assert app.fetch(result["cover_url"]) == cover
    assert app.describe(result["file_id"]).BasicInfo.Name == "Episode 1"


def test_keys_with_spaces_and_non_ascii_characters(app: Deployed) -> None:
    data = media_bytes(3000, seed=4)
    app.stage("incoming/my film 视频 (final).MOV", data)
    app.drain()
    job, result = only_result(app)
    assert job["source"]["key"] == "incoming/my film 视频 (final).MOV"
    assert app.describe(result["file_id"]).BasicInfo.Name == "my film 视频 (final)"
    assert app.fetch(result["media_url"]) == data


def test_one_event_with_three_records_gives_three_media(app: Deployed) -> None:
    payloads = {f"incoming/batch-{i}.mp4": media_bytes(1500 + i, seed=i) for i in range(3)}
    with app.cloud.scf.batched_cos_events():
        for key, data in payloads.items():
            app.stage(key, data)
    app.drain()
    ingests = [i for i in app.cloud.scf.invocations if i.function == "vodflow-ingest"]
    assert len(ingests) == 1
    assert len(ingests[0].event["Records"]) == 3
    media = app.all_media()
    assert len(media) == 3
    for job in app.jobs():
        result = app.record(job["job_id"], "result.json")
        assert result is not None
        assert app.fetch(result["media_url"]) == payloads[job["source"]["key"]]


def test_objects_outside_the_prefix_and_job_records_start_nothing(app: Deployed) -> None:
    app.stage("elsewhere/clip.mp4", media_bytes(100))
    app.drain()
    assert app.jobs() == []
    assert [i for i in app.cloud.scf.invocations if i.function == "vodflow-ingest"] == []


def test_bad_metadata_fails_the_job_naming_the_field(app: Deployed) -> None:
    app.stage("incoming/a.mp4", media_bytes(100), {"x-cos-meta-vod-expire-time": "tomorrow"})
    app.stage("incoming/b.mp4", media_bytes(100), {"x-cos-meta-vod-source-context": "x" * 251})
    app.stage("incoming/c.mp4", media_bytes(100), {"x-cos-meta-vod-class-id": "-1"})
    app.stage("incoming/d.mp4", media_bytes(100), {"x-cos-meta-vod-procedur": "typo"})
    app.drain()
    errors = {j["source"]["key"]: app.record(j["job_id"], "failed.json") for j in app.jobs()}
    assert errors["incoming/a.mp4"]["code"] == "InvalidParameter.ExpireTime"
    assert "x-cos-meta-vod-expire-time" in errors["incoming/a.mp4"]["message"]
    assert errors["incoming/b.mp4"]["code"] == "InvalidParameterValue.SourceContext"
    assert "x-cos-meta-vod-source-context" in errors["incoming/b.mp4"]["message"]
    assert errors["incoming/c.mp4"]["code"] == "InvalidParameterValue.ClassId"
    assert errors["incoming/d.mp4"]["code"] == "UnknownParameter"
    assert "x-cos-meta-vod-procedur" in errors["incoming/d.mp4"]["message"]
    assert app.all_media() == []
