"""Webhooks are at least once for real (issue 13, class 8).

A committed job and a failed one each send one, signed the Standard Webhooks way (checked here with
the ``standardwebhooks`` library, as a receiver would); a receiver that is down for minutes gets the
result from the sweeper's redeliveries (backoff across invocations, same ``webhook-id``); one that
never comes back is recorded undeliverable after ``VODFLOW_WEBHOOK_MAX_AGE_S``. No secret is ever in a
webhook's body or headers (they join the session's secret scan).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tencent_emulator import mock_tencent
from tests.conftest import SCAN
from tests.pipeline.harness import Deployed, deploy, function_runtime, media_bytes
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep

KEY = b"webhook-signing-key-for-the-story-tests"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


class Receiver:
    """A webhook endpoint on loopback: answers 503 while ``down``, else 204; keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = 503 if receiver.down else 204
                receiver.calls.append((headers, body, status))
                SCAN.add(json.dumps(headers) + "\n" + body.decode("utf-8", "replace"))  # searched for secrets too
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, status in self.calls if status < 300]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _secret_is_scanned() -> None:
    SCAN.extra_secrets.update({SECRET, SECRET.removeprefix("whsec_")})


def _deploy(cloud: Any, url: str, **extra: str) -> Deployed:
    return deploy(cloud, VODFLOW_WEBHOOK_URL=url, VODFLOW_WEBHOOK_SECRET=SECRET, **extra)


def _verify(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """What a receiver does with a stock library: refuses anything not signed with the shared secret."""
    return dict(Webhook(SECRET).verify(body, headers))


def test_a_receiver_down_for_minutes_still_gets_the_result(tmp_path: Path, receiver: Receiver) -> None:
    receiver.down = True
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = _deploy(cloud, receiver.url)
        app.stage("incoming/hooked.mp4", media_bytes(1500, seed=91))
        app.drain()
        [job] = app.jobs()
        result = app.record(job["job_id"], "result.json")
        assert result is not None  # the media is committed whatever the receiver does
        first = app.record(job["job_id"], "webhook/committed-attempt-001.json")
        assert first is not None
        assert receiver.calls and not receiver.delivered()
        rt = function_runtime(app)
        t0 = first["at"]
        assert sweep(rt, now=t0 + 30) == {}  # backing off: 1 min after the first attempt
        assert sweep(rt, now=t0 + 61) == {"webhook retry": 1}
        assert sweep(rt, now=t0 + 61 + 60) == {}  # the backoff doubled: 2 min now
        assert sweep(rt, now=t0 + 61 + 121) == {"webhook retry": 1}
        receiver.down = False  # back after a few minutes
        assert sweep(rt, now=t0 + 61 + 121 + 241) == {"webhook delivered": 1}
        assert sweep(rt, now=t0 + 7200) == {}  # acknowledged: never sent again
        assert app.record(job["job_id"], "webhook/committed.json") is not None
    [(headers, body)] = receiver.delivered()
    payload = _verify(headers, body)
    assert payload["type"] == "job.committed"
    assert payload["job_id"] == job["job_id"]
    assert payload["file_id"] == result["file_id"]
    assert {h["webhook-id"] for h, _, _ in receiver.calls} == {f"msg_{job['job_id']}_committed"}
    assert len({b for _, b, _ in receiver.calls}) == 1, "every attempt carries the same body"
    for secret in (SECRET, SECRET.removeprefix("whsec_"), KEY.decode()):
        assert secret not in body.decode() and secret not in json.dumps(headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(base64.b64encode(b"another key").decode()).verify(body, headers)


def test_a_failed_job_sends_its_webhook_too(tmp_path: Path, receiver: Receiver) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = _deploy(cloud, receiver.url)
        cloud.faults.inject("cos", "UploadPart", corrupt=True, times=None)  # every part arrives damaged
        app.stage("incoming/damaged.mp4", media_bytes(5 * MIB, seed=92))
        app.drain()
        [job] = app.jobs()
        failed = app.record(job["job_id"], "failed.json")
        assert failed is not None
        assert app.record(job["job_id"], "webhook/failed.json") is not None
    [(headers, body)] = receiver.delivered()
    payload = _verify(headers, body)
    assert payload["type"] == "job.failed"
    assert payload["state"] == "failed"
    assert payload["code"] == failed["code"]
    assert payload["message"] == failed["message"]
    assert headers["webhook-id"] == f"msg_{job['job_id']}_failed"


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # nothing listens: connection refused


def test_a_receiver_that_never_answers_is_recorded_undeliverable_after_the_maximum_age(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = _deploy(cloud, _closed_port_url())
        app.stage("incoming/nobody-home.mp4", media_bytes(1200, seed=93))
        app.drain()
        [job] = app.jobs()
        assert app.record(job["job_id"], "result.json") is not None
        rt = function_runtime(app)
        first = app.record(job["job_id"], "webhook/committed-attempt-001.json")
        assert first is not None
        retries, now = 0, first["at"]
        while now + 3601 <= first["at"] + rt.config.webhook_max_age_s:
            now += 3601  # the sweeper's timer, as often as the longest backoff
            retries += sweep(rt, now=now).get("webhook retry", 0)
        assert retries >= 20
        assert sweep(rt, now=now + 3601) == {"webhook undeliverable": 1}
        record = app.record(job["job_id"], "webhook/committed-undeliverable.json")
        assert record is not None
        assert record["attempts"] == retries + 1
        assert sweep(rt, now=now + 7200) == {}  # given up once
        assert time.time() < first["at"] + 600  # all of it on the sweeper's clock, not the wall's
