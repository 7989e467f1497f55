"""ParseStreamingManifest: what an HLS or DASH manifest refers to, and the paths VOD refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.vod.v20180717 import models
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator import Cloud, mock_tencent

MEDIA_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MAP:URI="init.mp4"
#EXTINF:6.0,
seg/0.m4s
#EXTINF:6.0,
seg/1.m4s
#EXTINF:6.0,
seg/0.m4s
#EXT-X-ENDLIST
"""

MASTER_PLAYLIST = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="aud"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2400000,AUDIO="aud"
720p/index.m3u8
"""

MPD_TEMPLATE = """<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT10S" type="static">
  <Period>
    <AdaptationSet mimeType="video/mp4">
      <SegmentTemplate initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/$Number%03d$.m4s"
                       startNumber="1" duration="4" timescale="1"/>
      <Representation id="v1" bandwidth="800000"/>
    </AdaptationSet>
    <AdaptationSet mimeType="audio/mp4">
      <Representation id="a1" bandwidth="64000">
        <SegmentTemplate initialization="a/init.mp4" media="a/$Time$.m4s" timescale="1000">
          <SegmentTimeline><S t="0" d="5000" r="1"/></SegmentTimeline>
        </SegmentTemplate>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""

MPD_LIST = """<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet>
  <Representation id="1"><BaseURL>video.mp4</BaseURL></Representation>
  <Representation id="2"><SegmentList><Initialization sourceURL="l/init.mp4"/>
    <SegmentURL media="l/1.m4s"/><SegmentURL media="l/2.m4s"/></SegmentList></Representation>
</AdaptationSet></Period></MPD>"""


@pytest.fixture
def vod() -> Iterator[VodClient]:
    with mock_tencent() as cloud:
        yield client(cloud)


def client(cloud: Cloud) -> VodClient:
    return VodClient(credential.Credential(cloud.secret_id, cloud.secret_key), "ap-guangzhou")


def parse(vod: VodClient, content: str, manifest_type: Optional[str] = None) -> list[str]:
    req = models.ParseStreamingManifestRequest()
    req.MediaManifestContent = content
    if manifest_type is not None:
        req.ManifestType = manifest_type
    return list(vod.ParseStreamingManifest(req).MediaSegmentSet)


def refused(vod: VodClient, content: str, manifest_type: Optional[str] = None) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        parse(vod, content, manifest_type)
    return str(info.value.get_code())


def test_a_media_playlist_lists_its_init_section_and_segments_once_each(vod: VodClient) -> None:
    assert parse(vod, MEDIA_PLAYLIST) == ["init.mp4", "seg/0.m4s", "seg/1.m4s"]


def test_a_master_playlist_lists_its_variant_and_rendition_playlists(vod: VodClient) -> None:
    assert parse(vod, MASTER_PLAYLIST, "m3u8") == ["360p/index.m3u8", "720p/index.m3u8", "audio/en.m3u8"]


def test_an_mpd_with_segment_templates_expands_numbers_and_timelines(vod: VodClient) -> None:
    assert parse(vod, MPD_TEMPLATE, "mpd") == [
        "v1/init.mp4",
        "v1/001.m4s",
        "v1/002.m4s",
        "v1/003.m4s",
        "a/init.mp4",
        "a/0.m4s",
        "a/5000.m4s",
    ]


def test_an_mpd_with_base_urls_and_segment_lists(vod: VodClient) -> None:
    assert parse(vod, MPD_LIST, "mpd") == ["video.mp4", "l/init.mp4", "l/1.m4s", "l/2.m4s"]


@pytest.mark.parametrize(
    "segment",
    ["https://cdn.example.com/a.ts", "//cdn.example.com/a.ts", "/abs/a.ts", "../up/a.ts", "x/../../a.ts"],
)
def test_urls_absolute_paths_and_climbing_out_are_refused(vod: VodClient, segment: str) -> None:
    content = f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{segment}\n#EXT-X-ENDLIST\n"
    assert refused(vod, content) == "InvalidParameterValue.MediaManifestContent"


@pytest.mark.parametrize(
    ("content", "manifest_type"),
    [
        ("not a playlist", "m3u8"),
        ("#EXTM3U\n#EXT-X-ENDLIST\n", "m3u8"),
        ("<MPD><Period>", "mpd"),
        ("<html/>", "mpd"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><MPD>&a;</MPD>', "mpd"),
    ],
    ids=["no-header", "no-segments", "broken-xml", "not-mpd", "entities"],
)
def test_unparseable_manifests_are_refused(vod: VodClient, content: str, manifest_type: str) -> None:
    assert refused(vod, content, manifest_type) == "InvalidParameterValue.MediaManifestContent"


def test_an_unknown_manifest_type_is_refused(vod: VodClient) -> None:
    assert refused(vod, MEDIA_PLAYLIST, "smil") == "InvalidParameterValue"
