"""Issue 13, class 10: COS event keys may arrive raw or percent-encoded (undocumented: reference §1.3).
Both work for every key, including ``%``, ``+`` and sequences that look like escapes; playlists that
reference percent-encoded names match the staged files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tencent_emulator import mock_tencent
from tests.pipeline.harness import BUCKET, Deployed, deploy, media_bytes, only_result
from tests.pipeline.test_story_packages import VARIANT, fetch_package

TRICKY = [
    "incoming/100% real.mp4",
    "incoming/a+b.mp4",
    "incoming/a b.mp4",
    "incoming/a%2Bb.mp4",
    "incoming/a%20b.mp4",
    "incoming/%25.mp4",
    "incoming/%zz%.mp4",
    "incoming/视频 %E8%A7%86.mp4",
    "incoming/%2E%2E/x.mp4",
]
PIECES = st.sampled_from(["%", "+", "%2B", "%25", "%20", " ", "视", "é", "a", "-", "%E8%A7", "%ZZ", "~"])


def committed_keys(app: Deployed) -> Counter[str]:
    return Counter(j["source"]["key"] for j in app.jobs())


@pytest.mark.parametrize("encoding", ["quote", "raw"])
def test_every_tricky_key_gets_exactly_one_job_for_the_right_object(tmp_path: Path, encoding: str) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        cloud.scf.cos_key_encoding = encoding
        app = deploy(cloud)
        # Different sizes: where two keys share a spelling (a%20b / a b), the event's size tells them apart.
        data = {key: media_bytes(700 + 13 * i, seed=i) for i, key in enumerate(TRICKY)}
        for key, body in data.items():
            app.stage(key, body)
        app.drain()
        assert committed_keys(app) == Counter(TRICKY)
        for job in app.jobs():
            result = app.record(job["job_id"], "result.json")
            assert result is not None, (job["source"]["key"], app.record(job["job_id"], "failed.json"))
            assert app.fetch(result["media_url"]) == data[job["source"]["key"]]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.lists(PIECES, min_size=1, max_size=6).map("".join), min_size=1, max_size=3, unique=True))
def test_any_key_staged_under_either_encoding_gets_one_job(
    tmp_path_factory: pytest.TempPathFactory, names: list[str]
) -> None:
    for encoding in ("quote", "raw"):
        with mock_tencent(data_dir=tmp_path_factory.mktemp("cloud")) as cloud:
            cloud.scf.cos_key_encoding = encoding
            app = deploy(cloud)
            keys = [f"incoming/{n}.mp4" for n in names]
            for i, key in enumerate(keys):
                app.stage(key, media_bytes(300 + 7 * i, seed=i))
            app.drain()
            assert committed_keys(app) == Counter(keys), encoding
            assert len(app.all_media()) == len(keys)


@pytest.mark.parametrize("encoding", ["quote", "raw"])
@pytest.mark.parametrize("staged_as", ["seg 1.ts", "seg%201.ts"])
def test_a_playlist_naming_seg_percent_20_matches_the_staged_segment(
    tmp_path: Path, encoding: str, staged_as: str
) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        cloud.scf.cos_key_encoding = encoding
        app = deploy(cloud)
        playlist = VARIANT.replace(b"seg0.ts", b"seg%201.ts").replace(b"seg1.ts", b"a%2Bb.ts")
        segments = {staged_as: media_bytes(188 * 100, seed=1), "a+b.ts": media_bytes(188 * 101, seed=2)}
        for rel, body in segments.items():
            app.stage(f"incoming/pct.hls/{rel}", body)
        app.stage("incoming/pct.hls/index.m3u8", playlist)
        app.drain()
        job, result = only_result(app)
        assert job["kind"] == "package"
        assert app.fetch(result["media_url"]) == playlist
        # A player asks for the playlist's spelling (the server decodes it): each finds its bytes.
        assert fetch_package(app, result["media_url"], "seg%201.ts") == segments[staged_as]
        assert fetch_package(app, result["media_url"], "a%2Bb.ts") == segments["a+b.ts"]


def test_a_playlist_escape_that_decodes_to_dot_dot_is_refused(app: Deployed) -> None:
    app.stage("incoming/esc.hls/index.m3u8", VARIANT.replace(b"seg0.ts", b"%2E%2E/secret.ts"))
    app.drain()
    [job] = app.jobs()
    failed = app.record(job["job_id"], "failed.json")
    assert failed is not None and "secret.ts" in failed["message"] and "'..'" in failed["message"]
    assert app.all_media() == []
    assert app.cloud.cos.head_object(BUCKET, "incoming/esc.hls/index.m3u8") is not None
