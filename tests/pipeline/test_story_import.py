"""Import from a URL (issue 14): VOD pulls the media itself (PullUpload), then the same post-commit states.

A loopback HTTP server stands for a partner's host. The URL carries a token in its query string: it must
never reach a record, a log line, a reply or a webhook (the session's secret scan checks).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tencent_emulator import mock_tencent
from tests.conftest import SCAN
from tests.pipeline.harness import TOKEN, Deployed, media_bytes
from tests.pipeline.test_story_processing import PROCEDURE, TASKS, api_get, deploy_followed, poll
from tests.pipeline.test_story_webhooks import Receiver, receiver  # noqa: F401  (the fixture)

URL_TOKEN = "partner-token-5f1c9a7e0b"
CLIP = media_bytes(4000, seed=191)


class Host:
    """A partner's media host on loopback: /clip.mp4 (and /show/index.m3u8), 404 for anything else."""

    def __init__(self) -> None:
        self.gets: list[str] = []
        self.aliases: dict[str, str] = {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.gets.append(self.path)
                path = self.path.split("?")[0]
                if host.aliases.get(path, path) == "/clip.mp4":
                    body = CLIP
                    self.send_response(200)
                else:
                    body = b"not found"
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def host() -> Iterator[Host]:
    h = Host()
    SCAN.extra_secrets.add(URL_TOKEN)
    yield h
    h.httpd.shutdown()
    h.httpd.server_close()


def start(app: Deployed, body: dict[str, Any]) -> requests.Response:
    return requests.post(app.api_url + "/jobs", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


def vod_calls(app: Deployed, action: str) -> int:
    return sum(1 for r in app.cloud.requests if r.service == "vod" and r.action == action)


def test_an_imported_url_is_committed_and_processed(host: Host, receiver: Receiver) -> None:  # noqa: F811
    with mock_tencent() as cloud:
        cloud.vod.add_procedure(PROCEDURE, tasks=TASKS)
        app = deploy_followed(cloud, receiver.url)
        url = f"{host.base}/clip.mp4?token={URL_TOKEN}"
        resp = start(app, {"url": url, "options": {"procedure": PROCEDURE}})
        assert resp.status_code == 202, resp.text
        assert URL_TOKEN not in resp.text
        job_id = resp.json()["job_id"]
        view = api_get(app, f"/jobs/{job_id}")
        assert view["state"] == "importing" and view["url"] == f"{host.base}/clip.mp4"
        cloud.vod.run_due()  # VOD fetches the URL; PullComplete queued
        assert poll(app).get("events committed") == 1
        view = api_get(app, f"/jobs/{job_id}")
        assert view["state"] in ("committed", "processing"), view
        assert app.fetch(view["media_url"]) == CLIP
        cloud.vod.settle()
        poll(app)
        view = api_get(app, f"/jobs/{job_id}")
        assert view["state"] == "processed", view
        assert all(app.fetch(t["url"]) for t in view["results"]["transcodes"])
        assert len(app.all_media()) == 1
    assert [json.loads(b)["type"] for _, b in receiver.delivered()] == [
        "job.committed",
        "job.processing",
        "job.processed",
    ]


def test_a_url_that_cannot_be_fetched_fails_with_vods_errcode_and_message(host: Host) -> None:
    with mock_tencent() as cloud:
        app = deploy_followed(cloud)
        resp = start(app, {"url": f"{host.base}/missing.mp4"})
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["job_id"]
        cloud.vod.run_due()
        assert poll(app).get("events failed") == 1
        view = api_get(app, f"/jobs/{job_id}")
        assert view["state"] == "failed"
        assert view["error"]["code"] == "FailedOperation.PullUpload.40000"
        assert "404" in view["error"]["message"]
        assert app.all_media() == []
        # The partner puts the file in place; importing again is a fresh attempt that pulls it.
        host.aliases["/missing.mp4"] = "/clip.mp4"
        again = start(app, {"url": f"{host.base}/missing.mp4"})
        assert again.status_code == 202 and again.json()["job_id"] == f"{job_id}-r1", again.text
        cloud.vod.run_due()
        poll(app)
        assert api_get(app, f"/jobs/{job_id}-r1")["state"] in ("committed", "processing", "processed")
        assert len(app.all_media()) == 1
        assert api_get(app, f"/jobs/{job_id}")["state"] == "failed"  # the first attempt stays as it ended


def test_the_same_url_imported_twice_is_one_job_and_one_media(host: Host) -> None:
    with mock_tencent() as cloud:
        app = deploy_followed(cloud)
        url = f"{host.base}/clip.mp4?token={URL_TOKEN}"
        replies: list[requests.Response] = []
        threads = [threading.Thread(target=lambda: replies.append(start(app, {"url": url}))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        again = start(app, {"url": url})
        ids = {r.json()["job_id"] for r in [*replies, again]}
        assert len(ids) == 1 and all(r.status_code == 202 for r in [*replies, again])
        cloud.vod.settle()
        poll(app)
        assert len(app.all_media()) == 1  # SessionId = the job id: VOD pulled once
        assert len(host.gets) == 1
        assert api_get(app, f"/jobs/{ids.pop()}")["state"] == "committed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://example.com/show/manifest.mpd"}, "url"),
        ({"url": "ftp://example.com/a.mp4"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "http:///nohost.mp4"}, "url"),
        ({"url": "https://example.com/a.mp4", "options": {"class-id": "abc"}}, "x-cos-meta-vod-class-id"),
        ({"url": "https://example.com/a.mp4", "options": {"procedur": "x"}}, "x-cos-meta-vod-procedur"),
        ({"url": "https://example.com/a.mp4", "options": {"cover": "incoming/c.jpg"}}, "options.cover"),
        ({"url": "https://example.com/a.mp4", "key": "incoming/a.mp4"}, "url"),
    ],
)
def test_urls_and_options_are_refused_before_any_call(body: dict[str, Any], field: str) -> None:
    with mock_tencent() as cloud:
        app = deploy_followed(cloud)
        resp = start(app, body)
        assert resp.status_code == 400, resp.text
        assert field in resp.json()["message"] or resp.json()["code"].startswith(("Invalid", "Unknown", "Missing"))
        assert vod_calls(app, "PullUpload") == 0
        assert app.jobs() == []


def test_an_hls_url_is_accepted(host: Host) -> None:
    with mock_tencent() as cloud:
        app = deploy_followed(cloud)
        resp = start(app, {"url": f"{host.base}/show/index.m3u8"})
        assert resp.status_code == 202, resp.text
        assert vod_calls(app, "PullUpload") == 1
