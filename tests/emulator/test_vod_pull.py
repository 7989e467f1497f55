"""PullUpload through tencentcloud-sdk-python on both fronts: a loopback URL becomes media, PullComplete and
DescribeTaskDetail report it, a 404 ends in ErrCode 40000, SessionId deduplicates for 3 days, HLS is pulled with
its segments, DASH and non-HTTP URLs are refused, the emulator's own media URLs can be pulled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.emulator.conftest import MODES, open_endpoint
from tests.emulator.test_vod_api import Env, error_code, upload

VIDEO = b"pulled video bytes " * 100
FILES = {
    "/media/video.mp4": VIDEO,
    "/media/cover.jpg": b"\xff\xd8cover\xff\xd9",
    "/hls/index.m3u8": (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg0.ts\n#EXTINF:4.0,\nsub/seg1.ts\n#EXT-X-ENDLIST\n"
    ),
    "/hls/seg0.ts": b"segment zero",
    "/hls/sub/seg1.ts": b"segment one",
}


class Origin:
    """A loopback origin server: FILES, 404 otherwise; counts GETs."""

    def __init__(self) -> None:
        self.gets: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                origin.gets.append(path)
                body = FILES.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=MODES)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    for endpoint in open_endpoint(request.param, tmp_path_factory.mktemp("vod-pull")):
        endpoint.cloud.vod.long_poll_s = 0.1
        endpoint.cloud.vod.add_procedure("P", tasks=[("Transcode", 100010)])
        endpoint.cloud.vod.modify_event_config(mode="PULL")
        yield Env(endpoint.cloud, endpoint.server)


@pytest.fixture
def origin() -> Iterator[Origin]:
    o = Origin()
    yield o
    o.close()


def finished(env: Env, task_id: str) -> Any:
    """DescribeTaskDetail once the pull has run (run_due here; the server's background loop may be first)."""
    env.cloud.vod.run_due()
    detail = env.call("DescribeTaskDetail", TaskId=task_id)
    assert detail.TaskType == "PullUpload" and detail.Status == "FINISH"
    return detail


def events(env: Env) -> list[Any]:
    got = env.call("PullEvents").EventSet or []
    if got:
        env.call("ConfirmEvents", EventHandles=[e.EventHandle for e in got])
    return got


def test_pull_upload_of_a_loopback_url_makes_media(env: Env, origin: Origin) -> None:
    task_id = env.call(
        "PullUpload",
        MediaUrl=f"{origin.base}/media/video.mp4?token=secret",
        MediaName="pulled",
        CoverUrl=f"{origin.base}/media/cover.jpg",
        Procedure="P",
        SessionContext="job-9",
        SourceContext="src",
        SessionId="job-9",
    ).TaskId
    assert task_id

    task = finished(env, task_id).PullUploadTask
    assert (task.TaskId, task.Status, task.ErrCode, task.SessionId, task.Progress) == (
        task_id,
        "FINISH",
        0,
        "job-9",
        100,
    )
    assert task.FileId and task.ProcedureTaskId and task.SessionContext == "job-9"
    assert task.MediaBasicInfo.Name == "pulled" and task.MediaBasicInfo.SourceInfo.SourceContext == "src"
    assert env.get(task.FileUrl).content == VIDEO and env.get(task.MediaBasicInfo.CoverUrl).status_code == 200
    assert task.MetaData.Size == len(VIDEO)
    (complete,) = events(env)
    assert complete.EventType == "PullComplete" and complete.PullCompleteEvent.FileId == task.FileId
    # Its procedure then runs like an uploaded file's.
    env.cloud.vod.settle()
    (changed,) = events(env)
    assert changed.ProcedureStateChangeEvent.TaskId == task.ProcedureTaskId
    assert changed.ProcedureStateChangeEvent.SessionId == "job-9"
    info = env.call("DescribeMediaInfos", FileIds=[task.FileId]).MediaInfoSet[0]
    assert info.BasicInfo.MediaUrl == task.FileUrl


def test_a_url_that_cannot_be_fetched_ends_with_40000(env: Env, origin: Origin) -> None:
    task_id = env.call("PullUpload", MediaUrl=f"{origin.base}/media/missing.mp4").TaskId
    task = finished(env, task_id).PullUploadTask
    assert (task.ErrCode, task.FileId) == (40000, "") and "404" in task.Message
    (complete,) = events(env)
    assert complete.PullCompleteEvent.ErrCode == 40000
    refused = env.call("PullUpload", MediaUrl="http://127.0.0.1:9/nothing.mp4").TaskId
    assert finished(env, refused).PullUploadTask.ErrCode == 40000
    assert env.cloud.vod.all_media() == []


def test_the_same_session_id_within_3_days_is_refused_and_pulls_once(env: Env, origin: Origin) -> None:
    url = f"{origin.base}/media/video.mp4"
    first = env.call("PullUpload", MediaUrl=url, SessionId="job-1").TaskId
    assert (
        error_code(lambda: env.call("PullUpload", MediaUrl=url, SessionId="job-1")) == "InvalidParameterValue.SessionId"
    )
    finished(env, first)
    assert len(env.cloud.vod.all_media()) == 1 and origin.gets.count("/media/video.mp4") == 1
    env.call("PullUpload", MediaUrl=url, SessionId="job-2")  # another id is another pull
    env.call("PullUpload", MediaUrl=url)  # no id: no deduplication
    env.cloud.clock.advance(3 * 24 * 3600 + 1)
    env.call("PullUpload", MediaUrl=url, SessionId="job-1")  # the window has passed
    env.cloud.vod.run_due()
    assert len(env.cloud.vod.all_media()) == 4
    assert error_code(lambda: env.call("PullUpload", MediaUrl=url, SessionId="x" * 51)) == (
        "InvalidParameterValue.SessionIdTooLong"
    )


def test_hls_is_pulled_with_its_segments(env: Env, origin: Origin) -> None:
    task_id = env.call("PullUpload", MediaUrl=f"{origin.base}/hls/index.m3u8").TaskId
    task = finished(env, task_id).PullUploadTask
    assert task.ErrCode == 0 and task.MediaBasicInfo.Type == "m3u8"
    assert env.get(task.FileUrl).content == FILES["/hls/index.m3u8"]
    base = task.FileUrl.rsplit("/", 1)[0]
    assert env.get(f"{base}/seg0.ts").content == b"segment zero"
    assert env.get(f"{base}/sub/seg1.ts").content == b"segment one"


def test_an_hls_playlist_with_a_missing_segment_fails(env: Env, origin: Origin) -> None:
    FILES["/hls/broken.m3u8"] = b"#EXTM3U\n#EXTINF:4.0,\ngone.ts\n#EXT-X-ENDLIST\n"
    try:
        task_id = env.call("PullUpload", MediaUrl=f"{origin.base}/hls/broken.m3u8").TaskId
        assert finished(env, task_id).PullUploadTask.ErrCode == 40000
    finally:
        del FILES["/hls/broken.m3u8"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"MediaUrl": "ftp://example.com/a.mp4"}, "InvalidParameterValue.MediaUrl"),
        ({"MediaUrl": "file:///etc/passwd"}, "InvalidParameterValue.MediaUrl"),
        ({"MediaUrl": "https://example.com/manifest.mpd"}, "InvalidParameterValue.MediaType"),
        ({"MediaUrl": "https://example.com/a.mp4", "MediaType": "mpd"}, "InvalidParameterValue.MediaType"),
        ({"MediaUrl": "https://example.com/noext"}, "InvalidParameterValue.MediaType"),
        ({"MediaUrl": "https://example.com/a.mp4", "Procedure": "nope"}, "InvalidParameterValue.Procedure"),
        ({"MediaUrl": "https://example.com/a.mp4", "ClassId": 77}, "InvalidParameterValue.ClassId"),
        (
            {"MediaUrl": "https://example.com/a.mp4", "StorageRegion": "xx-nowhere"},
            "InvalidParameterValue.StorageRegion",
        ),
        ({"MediaUrl": "https://example.com/a.mp4", "ExpireTime": "tomorrow"}, "InvalidParameter.ExpireTime"),
        ({"MediaUrl": "https://example.com/a.mp4", "SourceContext": "s" * 251}, "InvalidParameterValue"),
        (
            {"MediaUrl": "https://example.com/a.mp4", "SessionContext": "s" * 1001},
            "InvalidParameterValue.SessionContextTooLong",
        ),
        (
            {"MediaUrl": "https://example.com/a.mp4", "MediaStoragePath": "/x/a.mp4"},
            "InvalidParameterValue.MediaStoragePath",
        ),
        (
            {"MediaUrl": "https://example.com/a.mp4", "CoverUrl": "https://example.com/c.txt"},
            "InvalidParameterValue.CoverUrl",
        ),
        ({"MediaType": "mp4"}, "MissingParameter"),
    ],
)
def test_pull_upload_refuses_bad_requests(env: Env, params: dict[str, Any], code: str) -> None:
    assert error_code(lambda: env.call("PullUpload", **params)) == code
    assert env.cloud.vod.pulls == {}


def test_the_emulators_own_media_url_can_be_pulled(env: Env) -> None:
    _, committed = upload(env, body=b"original bytes")
    task_id = env.call("PullUpload", MediaUrl=committed.MediaUrl, MediaName="copy").TaskId
    task = finished(env, task_id).PullUploadTask
    assert task.ErrCode == 0 and task.FileId != committed.FileId
    assert env.get(task.FileUrl).content == b"original bytes"
