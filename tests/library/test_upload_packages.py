"""HLS and DASH packages end to end: every referenced file lands under MediaStoragePath's directory,
a bad reference stops everything before the first request, and progress covers the segments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from vodflow import VodUploadClient, VodUploadRequest
from vodflow.errors import ManifestError
from vodflow.planner import MiB, PlanConfig

MPD = """<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S" minBufferTime="PT2S">
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <SegmentTemplate timescale="1000" duration="4000" startNumber="1"
          initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/$Number%05d$.m4s"/>
      <Representation id="video-720" bandwidth="2500000" width="1280" height="720"/>
    </AdaptationSet>
    <AdaptationSet mimeType="audio/mp4">
      <Representation id="audio" bandwidth="128000">
        <SegmentList timescale="1000" duration="4000">
          <Initialization sourceURL="audio/init.mp4"/>
          <SegmentURL media="audio/1.m4s"/>
          <SegmentURL media="audio/2.m4s"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""

DASH_FILES = [
    "video-720/init.mp4",
    "video-720/00001.m4s",
    "video-720/00002.m4s",
    "audio/init.mp4",
    "audio/1.m4s",
    "audio/2.m4s",
]


def test_dash_package_uploads_every_segment_keeping_relative_paths(
    cloud: Any, data_dir: Path, make_file: Callable[[Path, int], Path]
) -> None:
    manifest = data_dir / "stream.mpd"
    manifest.write_text(MPD)
    for name in DASH_FILES:
        (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
        make_file(data_dir / name, 3000)
    seen: list[tuple[int, int]] = []
    request = VodUploadRequest()
    request.MediaFilePath = str(manifest)
    response = VodUploadClient(cloud.secret_id, cloud.secret_key).upload(
        "ap-guangzhou", request, lambda done, total: seen.append((done, total))
    )
    assert requests.get(response.MediaUrl, timeout=30).content == manifest.read_bytes()
    base = response.MediaUrl.rsplit("/", 1)[0]
    for name in DASH_FILES:
        assert requests.get(f"{base}/{name}", timeout=30).content == (data_dir / name).read_bytes()
    total = manifest.stat().st_size + 3000 * len(DASH_FILES)
    assert seen[-1] == (total, total)
    assert cloud.vod.media(response.FileId).type == "mpd"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("https://cdn.example.com/seg1.ts", "URL"),
        ("/data/elsewhere/seg1.ts", "absolute"),
        ("../seg1.ts", ".."),
        ("missing.ts", "does not exist"),
    ],
)
def test_a_bad_reference_stops_the_upload_before_any_request(
    cloud: Any, data_dir: Path, line: str, reason: str
) -> None:
    (data_dir / "seg0.ts").write_bytes(b"x" * 100)
    manifest = data_dir / "index.m3u8"
    manifest.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n#EXTINF:4,\n{line}\n#EXT-X-ENDLIST\n")
    request = VodUploadRequest()
    request.MediaFilePath = str(manifest)
    with pytest.raises(ManifestError) as caught:
        VodUploadClient(cloud.secret_id, cloud.secret_key).upload("ap-guangzhou", request)
    assert caught.value.manifest == str(manifest)
    assert caught.value.line == 6
    assert caught.value.reference == line
    assert reason in caught.value.reason
    assert cloud.requests == []


def test_parts_really_go_up_in_parallel(cloud: Any, data_dir: Path, make_file: Callable[[Path, int], Path]) -> None:
    media = make_file(data_dir / "v.mp4", 4 * MiB)
    cloud.faults.inject(service="cos", action="UploadPart", latency=0.2, times=None)
    client = VodUploadClient(cloud.secret_id, cloud.secret_key)
    client.plan_config = PlanConfig(inline_threshold=MiB, preferred_part_size=MiB)
    request = VodUploadRequest()
    request.MediaFilePath = str(media)
    request.ConcurrentUploadNumber = 4
    client.upload("ap-guangzhou", request)
    parts = [r for r in cloud.requests if r.action == "UploadPart"]
    assert len(parts) == 4
    # Some part started before another one finished: they overlapped.
    overlapping = max(sum(1 for o in parts if o.started <= p.started < o.started + o.duration) for p in parts)
    assert overlapping >= 2
