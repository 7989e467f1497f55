"""HLS and DASH packages staged as folders: only the index starts a job, late segments are waited for."""

from __future__ import annotations

import dataclasses
import posixpath
import time

from tests.pipeline.harness import Deployed, function_runtime, media_bytes, only_result
from vodflow.pipeline.ingest import advance_job
from vodflow.pipeline.messages import AdvanceJob
from vodflow.pipeline.sweeper import sweep

MASTER = b"""#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=842x480
480p/index.m3u8
"""
VARIANT = b"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:4.0,
seg0.ts
#EXTINF:4.0,
seg1.ts
#EXT-X-ENDLIST
"""
MPD = b"""<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S" minBufferTime="PT2S"
     profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <SegmentTemplate initialization="init-$RepresentationID$.mp4" media="chunk-$RepresentationID$-$Number$.m4s"
                       startNumber="1" duration="4" timescale="1"/>
      <Representation id="v0" bandwidth="800000"/>
    </AdaptationSet>
  </Period>
</MPD>
"""


def hls_files() -> dict[str, bytes]:
    files = {"index.m3u8": MASTER}
    for i, variant in enumerate(("360p", "480p")):
        files[f"{variant}/index.m3u8"] = VARIANT
        for n in range(2):
            files[f"{variant}/seg{n}.ts"] = media_bytes(188 * 1000 + n, seed=10 * i + n)
    return files


def stage_package(app: Deployed, folder: str, files: dict[str, bytes], skip: tuple[str, ...] = ()) -> None:
    """Segments first, the index last (the usual order); ``skip`` leaves files out for now."""
    for rel, data in sorted(files.items(), key=lambda kv: kv[0] == "index.m3u8" or kv[0] == "index.mpd"):
        if rel not in skip:
            app.stage(f"{folder}/{rel}", data)


def fetch_package(app: Deployed, media_url: str, rel: str) -> bytes:
    return app.fetch(posixpath.join(posixpath.dirname(media_url), rel))


def test_an_hls_package_with_a_master_and_two_variants_becomes_one_media(app: Deployed) -> None:
    files = hls_files()
    stage_package(app, "incoming/launch.hls", files)
    app.drain()
    job, result = only_result(app)  # 9 files staged, one job
    assert job["kind"] == "package"
    assert app.fetch(result["media_url"]) == MASTER
    for rel, data in files.items():
        if rel != "index.m3u8":
            assert fetch_package(app, result["media_url"], rel) == data, rel
    info = app.describe(result["file_id"])
    assert info.BasicInfo.Name == "launch"
    assert info.BasicInfo.Type == "m3u8"


def test_a_dash_package_with_a_segment_template(app: Deployed) -> None:
    files = {
        "index.mpd": MPD,
        "init-v0.mp4": media_bytes(900, seed=1),
        "chunk-v0-1.m4s": media_bytes(5000, seed=2),
        "chunk-v0-2.m4s": media_bytes(5001, seed=3),
    }
    stage_package(app, "incoming/talk.dash", files)
    app.drain()
    _, result = only_result(app)
    assert app.fetch(result["media_url"]) == MPD
    for rel in ("init-v0.mp4", "chunk-v0-1.m4s", "chunk-v0-2.m4s"):
        assert fetch_package(app, result["media_url"], rel) == files[rel]


def test_segments_staged_after_the_manifest_are_waited_for(app: Deployed) -> None:
    files = hls_files()
    late = ("480p/seg1.ts", "480p/index.m3u8")
    stage_package(app, "incoming/late.hls", files, skip=late)
    app.drain()
    [job] = app.jobs()
    assert app.record(job["job_id"], "waiting.json") is not None
    assert app.record(job["job_id"], "result.json") is None
    assert app.all_media() == []
    for rel in late:  # the last file to land nudges the waiting job
        app.stage(f"incoming/late.hls/{rel}", files[rel])
    app.drain()
    _, result = only_result(app)
    assert fetch_package(app, result["media_url"], "480p/seg1.ts") == files["480p/seg1.ts"]


def test_segments_that_never_arrive_fail_the_job_naming_them(app: Deployed) -> None:
    files = hls_files()
    stage_package(app, "incoming/never.hls", files, skip=("360p/seg1.ts", "480p/seg0.ts"))
    app.drain()
    [job] = app.jobs()
    rt = function_runtime(app)
    sweep(rt, now=time.time() + 200)  # the sweeper advances the waiting job: still waiting
    app.drain()
    assert app.record(job["job_id"], "failed.json") is None
    rt_late = function_runtime(app)
    rt_late.config = dataclasses.replace(rt_late.config, package_wait_s=0)  # as if the wait has run out
    advance_job(rt_late, AdvanceJob(job["job_id"]))
    failed = app.record(job["job_id"], "failed.json")
    assert failed is not None
    assert "360p/seg1.ts" in failed["message"]
    assert "480p/seg0.ts" in failed["message"]
    assert app.all_media() == []


def test_a_hostile_manifest_fails_before_anything_is_uploaded(app: Deployed) -> None:
    app.stage("incoming/evil.hls/index.m3u8", b"#EXTM3U\n#EXTINF:4.0,\nhttps://evil.example/seg.ts\n#EXT-X-ENDLIST\n")
    app.stage("incoming/escape.hls/index.m3u8", b"#EXTM3U\n#EXTINF:4.0,\n../other/seg.ts\n#EXT-X-ENDLIST\n")
    app.stage("incoming/loop.hls/index.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n")
    app.drain()
    reasons = {j["source"]["key"]: app.record(j["job_id"], "failed.json") for j in app.jobs()}
    assert "URL" in reasons["incoming/evil.hls/index.m3u8"]["message"]
    assert ":3" in reasons["incoming/evil.hls/index.m3u8"]["message"]  # the line of the reference
    assert "'..'" in reasons["incoming/escape.hls/index.m3u8"]["message"]
    assert "itself" in reasons["incoming/loop.hls/index.m3u8"]["message"]
    assert app.all_media() == []
    vod_buckets = [b.name for b in app.cloud.cos.list_buckets() if b.name != "staging-1250000000"]
    assert all(app.cloud.cos.list_objects(b).contents == [] for b in vod_buckets)


def test_a_large_package_is_copied_by_the_fan_out(app: Deployed) -> None:
    files = hls_files()
    for rel in list(files):
        if rel.endswith(".ts"):
            files[rel] = media_bytes(1536 * 1024 + len(rel), seed=len(rel))  # 6 MiB in all: over the inline limit
    stage_package(app, "incoming/big.hls", files)
    app.drain()
    job, result = only_result(app)
    copies = [i for i in app.cloud.scf.invocations if i.function == "vodflow-part-copy"]
    assert len({i.request_id for i in copies}) >= 2
    for rel, data in files.items():
        if rel != "index.m3u8":
            assert fetch_package(app, result["media_url"], rel) == data, rel
    assert app.record(job["job_id"], "package.json")["files_per_batch"] >= 1
