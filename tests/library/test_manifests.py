"""HLS/DASH packages are read locally; every reference must stay inside the package, or nothing is uploaded."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vodflow.errors import ManifestError
from vodflow.manifests import check_reference, collect_package, manifest_kind


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def media_playlist(*segments: str, extra: str = "") -> str:
    body = "".join(f"#EXTINF:4.0,\n{s}\n" for s in segments)
    return f"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n{extra}{body}#EXT-X-ENDLIST\n"


@pytest.fixture
def hls(tmp_path: Path) -> Path:
    """A master playlist with two variants (one in a sub-directory with keys and an init map) and audio."""
    root = tmp_path / "pkg"
    write(
        root / "master.m3u8",
        "#EXTM3U\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="audio/en.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="aud"\n'
        "low.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO="aud"\n'
        "hd/index.m3u8\n"
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="hd/iframes.m3u8"\n',
    )
    write(root / "low.m3u8", media_playlist("low0.ts", "low1.ts"))
    write(
        root / "hd/index.m3u8",
        media_playlist(
            "seg0.m4s", "more/seg1.m4s", extra='#EXT-X-KEY:METHOD=AES-128,URI="key.bin"\n#EXT-X-MAP:URI="init.mp4"\n'
        ),
    )
    write(root / "hd/iframes.m3u8", media_playlist("seg0.m4s"))
    write(root / "audio/en.m3u8", media_playlist("a0.aac"))
    for name in ["low0.ts", "low1.ts", "hd/seg0.m4s", "hd/more/seg1.m4s", "hd/key.bin", "hd/init.mp4", "audio/a0.aac"]:
        write(root / name, "x")
    return root / "master.m3u8"


def test_master_playlist_lists_every_file_once_relative_to_the_package(hls: Path) -> None:
    package = collect_package(hls)
    assert package.kind == "m3u8"
    assert sorted(package.files) == sorted(
        [
            "low.m3u8",
            "low0.ts",
            "low1.ts",
            "hd/index.m3u8",
            "hd/key.bin",
            "hd/init.mp4",
            "hd/seg0.m4s",
            "hd/more/seg1.m4s",
            "hd/iframes.m3u8",
            "audio/en.m3u8",
            "audio/a0.aac",
        ]
    )
    assert len(package.files) == len(set(package.files))
    assert "master.m3u8" not in package.files


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("https://cdn.example.com/seg.ts", "is a URL"),
        ("//cdn.example.com/seg.ts", "is a URL"),
        ("/etc/passwd", "absolute path"),
        ("../outside.ts", "contains '..'"),
        ("sub/../../outside.ts", "contains '..'"),
        ("missing.ts", "does not exist"),
        ("dir\\seg.ts", "backslash"),
    ],
)
def test_bad_reference_in_a_nested_playlist_is_refused_naming_manifest_line_and_reference(
    hls: Path, reference: str, reason: str
) -> None:
    nested = hls.parent / "hd/index.m3u8"
    nested.write_text(media_playlist("seg0.m4s", reference))
    with pytest.raises(ManifestError) as caught:
        collect_package(hls)
    err = caught.value
    assert err.manifest == str(nested)
    assert err.reference == reference
    assert reason in err.reason
    lines = nested.read_text().splitlines()
    assert err.line is not None
    assert lines[err.line - 1] == reference
    assert f"{nested}:{err.line}" in str(err)


def test_a_symlink_that_points_outside_the_package_is_refused(hls: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.ts", "s")
    os.symlink(secret, hls.parent / "link.ts")
    write(hls.parent / "low.m3u8", media_playlist("low0.ts", "link.ts"))
    with pytest.raises(ManifestError) as caught:
        collect_package(hls)
    assert caught.value.reference == "link.ts"
    assert "symlink" in caught.value.reason


def test_a_directory_symlinked_outside_is_refused_too(hls: Path, tmp_path: Path) -> None:
    write(tmp_path / "elsewhere" / "seg.ts", "s")
    os.symlink(tmp_path / "elsewhere", hls.parent / "linked")
    write(hls.parent / "low.m3u8", media_playlist("linked/seg.ts"))
    with pytest.raises(ManifestError, match="symlink"):
        collect_package(hls)


def test_a_symlink_inside_the_package_is_fine(hls: Path) -> None:
    os.symlink(hls.parent / "low0.ts", hls.parent / "alias.ts")
    write(hls.parent / "low.m3u8", media_playlist("low0.ts", "alias.ts"))
    assert "alias.ts" in collect_package(hls).files


def test_a_playlist_that_includes_itself_is_refused(hls: Path) -> None:
    write(hls.parent / "low.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n")
    with pytest.raises(ManifestError, match="include itself"):
        collect_package(hls)


def test_a_cycle_through_two_playlists_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "a.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nb.m3u8\n")
    write(tmp_path / "b.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n")
    with pytest.raises(ManifestError, match="cycle"):
        collect_package(tmp_path / "a.m3u8")


def test_not_a_playlist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not an HLS playlist"):
        collect_package(write(tmp_path / "x.m3u8", "hello\n"))


def test_reference_count_is_capped(tmp_path: Path) -> None:
    names = [f"s{i}.ts" for i in range(30)]
    for name in names:
        write(tmp_path / name, "x")
    manifest = write(tmp_path / "big.m3u8", media_playlist(*names))
    assert len(collect_package(manifest).files) == 30
    with pytest.raises(ManifestError, match="limit of 10 references"):
        collect_package(manifest, max_references=10)


MPD_NS = 'xmlns="urn:mpeg:dash:schema:mpd:2011"'


def test_dash_segment_template_with_number_and_duration(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "stream.mpd",
        f"""<?xml version="1.0"?>
<MPD {MPD_NS} mediaPresentationDuration="PT10S">
  <Period>
    <AdaptationSet>
      <BaseURL>video/</BaseURL>
      <SegmentTemplate timescale="1000" duration="4000" startNumber="1"
          initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg_$Number%03d$.m4s"/>
      <Representation id="720p" bandwidth="3000000"/>
      <Representation id="360p" bandwidth="800000"/>
    </AdaptationSet>
  </Period>
</MPD>
""",
    )
    expected = [
        f"video/{rep}/{name}"
        for rep in ("720p", "360p")
        for name in ("init.mp4", "seg_001.m4s", "seg_002.m4s", "seg_003.m4s")
    ]
    for name in expected:
        write(tmp_path / name, "x")
    assert collect_package(manifest).files == expected


def test_dash_segment_timeline_with_time_and_repeat(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "a.mpd",
        f"""<MPD {MPD_NS} mediaPresentationDuration="PT12S"><Period><AdaptationSet>
  <Representation id="audio" bandwidth="128000">
    <SegmentTemplate timescale="10" initialization="a_init.mp4" media="a_$Time$.m4s">
      <SegmentTimeline><S t="0" d="40" r="1"/><S d="20"/><S d="20" r="-1"/></SegmentTimeline>
    </SegmentTemplate>
  </Representation>
</AdaptationSet></Period></MPD>""",
    )
    expected = ["a_init.mp4", "a_0.m4s", "a_40.m4s", "a_80.m4s", "a_100.m4s"]
    for name in expected:
        write(tmp_path / name, "x")
    assert collect_package(manifest).files == expected


def test_dash_segment_list_and_segment_base(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "l.mpd",
        f"""<MPD {MPD_NS}><Period>
  <AdaptationSet>
    <Representation id="v" bandwidth="1">
      <SegmentList><Initialization sourceURL="v/init.mp4"/>
        <SegmentURL media="v/1.m4s"/><SegmentURL media="v/2.m4s"/></SegmentList>
    </Representation>
    <Representation id="a" bandwidth="1">
      <BaseURL>audio/full.mp4</BaseURL><SegmentBase indexRange="0-100"/>
    </Representation>
  </AdaptationSet>
</Period></MPD>""",
    )
    for name in ["v/init.mp4", "v/1.m4s", "v/2.m4s", "audio/full.mp4"]:
        write(tmp_path / name, "x")
    assert collect_package(manifest).files == ["v/init.mp4", "v/1.m4s", "v/2.m4s", "audio/full.mp4"]


def test_dash_bad_reference_names_the_line(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "bad.mpd",
        f"""<MPD {MPD_NS}><Period>
  <AdaptationSet>
    <Representation id="v" bandwidth="1">
      <SegmentList>
        <SegmentURL media="../escape.m4s"/>
      </SegmentList>
    </Representation>
  </AdaptationSet>
</Period></MPD>""",
    )
    write(tmp_path.parent / "escape.m4s", "x")
    with pytest.raises(ManifestError) as caught:
        collect_package(manifest)
    assert caught.value.line == 5
    assert caught.value.reference == "../escape.m4s"


def test_dash_url_base_is_refused(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "u.mpd",
        f"<MPD {MPD_NS}>\n<BaseURL>https://cdn.example.com/</BaseURL>\n<Period/></MPD>",
    )
    with pytest.raises(ManifestError) as caught:
        collect_package(manifest)
    assert caught.value.line == 2


def test_entity_expansion_and_external_entities_are_refused(tmp_path: Path) -> None:
    laughs = write(
        tmp_path / "lol.mpd",
        '<?xml version="1.0"?>\n<!DOCTYPE MPD [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        f"<MPD {MPD_NS}><Period/>&b;</MPD>",
    )
    with pytest.raises(ManifestError, match="forbidden XML"):
        collect_package(laughs)
    external = write(
        tmp_path / "ext.mpd",
        '<?xml version="1.0"?>\n<!DOCTYPE MPD [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        f"<MPD {MPD_NS}><Period/>&x;</MPD>",
    )
    with pytest.raises(ManifestError, match="forbidden XML"):
        collect_package(external)


def test_manifest_kind_is_case_insensitive() -> None:
    assert manifest_kind("A.M3U8") == "m3u8"
    assert manifest_kind("mpd") == "mpd"
    assert manifest_kind("x.mp4") is None


# ------------------------------------------------------------------ property: path safety

SEGMENT = st.one_of(
    st.sampled_from(["a", "b", "seg.ts", "sub", "..", ".", "", "link", "outlink", "missing.ts", "C:", "http:"]),
    st.text(alphabet=string.ascii_letters + string.digits + "._-:%? ", min_size=1, max_size=6),
)
REFERENCE = st.one_of(
    st.lists(SEGMENT, min_size=1, max_size=5).map("/".join),
    st.builds(lambda s: "/" + s, st.lists(SEGMENT, min_size=1, max_size=3).map("/".join)),
    st.builds(lambda s: "https://h/" + s, st.lists(SEGMENT, max_size=3).map("/".join)),
)


@pytest.fixture(scope="module")
def package_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("prop")
    root = base / "pkg"
    for name in ["a", "b", "seg.ts", "sub/seg.ts", "sub/a", "sub/sub/b"]:
        write(root / name, "x")
    write(base / "outside.ts", "o")
    os.symlink(root / "seg.ts", root / "link")
    os.symlink(base / "outside.ts", root / "outlink")
    os.symlink(base, root / "sub" / "up")
    return root


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reference=REFERENCE, manifest_dir=st.sampled_from(["", "sub", "sub/sub"]))
def test_accepted_references_always_stay_inside_the_package(
    package_root: Path, reference: str, manifest_dir: str
) -> None:
    manifest_rel = f"{manifest_dir}/x.m3u8" if manifest_dir else "x.m3u8"
    try:
        relative = check_reference(package_root, manifest_rel, "x.m3u8", 1, reference)
    except ManifestError as err:
        assert err.reference == reference
        assert err.line == 1
        return
    # Lexically safe...
    assert not reference.startswith("/")
    assert ".." not in reference.split("/")
    assert "://" not in reference
    assert not relative.startswith("/")
    assert ".." not in relative.split("/")
    # ...and on disk: an existing regular file whose real path is under the package's real path.
    real_root = os.path.realpath(package_root)
    real = os.path.realpath(package_root / relative)
    assert os.path.commonpath([real_root, real]) == real_root
    assert os.path.isfile(real)
    assert relative == os.path.normpath(os.path.join(manifest_dir, reference)).replace(os.sep, "/")
