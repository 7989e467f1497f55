"""VOD event notification through tencentcloud-sdk-python, both fronts: ModifyEventConfig/DescribeEventConfig,
the PULL queue (16 per pull, 30 s confirm window, 4 days retention, long-poll, concurrent pullers), the
NewFileUpload event of every CommitUpload, and PUSH delivery with Sign/T and retries."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from tencent_emulator.vod.events import CONFIRM_WINDOW_S, PULL_MAX, RETENTION_S
from tests.emulator.conftest import MODES, open_endpoint
from tests.emulator.test_vod_api import Env, error_code, upload

SAMPLE_PATH = Path(__file__).resolve().parents[3] / "shared/reference/events/vod-new-file-upload.json"
SAMPLE = json.loads(SAMPLE_PATH.read_text()) if SAMPLE_PATH.exists() else {}


@pytest.fixture(params=MODES)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    for endpoint in open_endpoint(request.param, tmp_path_factory.mktemp("vod-events")):
        endpoint.cloud.vod.long_poll_s = 0.2  # an empty PullEvents answers fast in tests
        yield Env(endpoint.cloud, endpoint.server)


def pull_mode(env: Env, **extra: Any) -> None:
    env.call("ModifyEventConfig", Mode="PULL", UploadMediaCompleteEventSwitch="ON", **extra)


def fake_event(env: Env, n: int, sub_app_id: int = 0) -> None:
    for i in range(n):
        env.cloud.vod.events.emit(sub_app_id, {"EventType": "PullComplete", "PullCompleteEvent": {"TaskId": f"t{i}"}})


def wait_for(env: Env, check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Run due work until ``check()`` is truthy (server mode's background loop may get there first)."""
    deadline = time.monotonic() + timeout
    while True:
        env.cloud.vod.run_due()
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


class Receiver:
    """A loopback HTTP receiver for PUSH callbacks: answers ``statuses`` in turn, then 200."""

    def __init__(self, statuses: Optional[list[int]] = None) -> None:
        self.statuses = list(statuses or [])
        self.bodies: list[dict[str, Any]] = []
        self.answered: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.answered.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/vod/events"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- config ---------------------------------------------------------------------------------------


def test_event_config_round_trip_per_sub_app(env: Env) -> None:
    fresh = env.call("DescribeEventConfig")
    assert (fresh.Mode, fresh.NotificationUrl, fresh.UploadMediaCompleteEventSwitch) == ("PUSH", "", "OFF")
    env.cloud.vod.add_sub_app(1500000001)

    env.call(
        "ModifyEventConfig",
        Mode="PUSH",
        NotificationUrl="https://example.com/cb",
        UploadMediaCompleteEventSwitch="ON",
        DeleteMediaCompleteEventSwitch="ON",
        SignKey="abc123XYZ",
    )
    env.call("ModifyEventConfig", SubAppId=1500000001, Mode="PULL")

    main = env.call("DescribeEventConfig")
    assert (main.Mode, main.NotificationUrl) == ("PUSH", "https://example.com/cb")
    assert (main.UploadMediaCompleteEventSwitch, main.DeleteMediaCompleteEventSwitch) == ("ON", "ON")
    assert main.PersistenceCompleteEventSwitch == "OFF"
    sub = env.call("DescribeEventConfig", SubAppId=1500000001)
    assert (sub.Mode, sub.NotificationUrl, sub.UploadMediaCompleteEventSwitch) == ("PULL", "", "OFF")
    env.call("ModifyEventConfig", NotificationUrl="")  # an empty string clears the URL; the rest stays
    assert env.call("DescribeEventConfig").NotificationUrl == ""
    assert env.call("DescribeEventConfig").UploadMediaCompleteEventSwitch == "ON"


@pytest.mark.parametrize(
    "params",
    [{"Mode": "QUEUE"}, {"UploadMediaCompleteEventSwitch": "yes"}, {"SignKey": "with space"}, {"SignKey": "k" * 33}],
)
def test_event_config_refuses_bad_values(env: Env, params: dict[str, str]) -> None:
    assert error_code(lambda: env.call("ModifyEventConfig", **params)) == "InvalidParameterValue"


def test_unknown_sub_app_is_refused(env: Env) -> None:
    assert error_code(lambda: env.call("PullEvents", SubAppId=42)) == "InvalidParameterValue.SubAppId"


# -- NewFileUpload ------------------------------------------------------------------------------


def test_commit_upload_queues_new_file_upload_shaped_like_the_sample(env: Env) -> None:
    pull_mode(env)
    _, committed = upload(env, MediaName="Animal World", SourceContext="job-1")

    events = env.call("PullEvents").EventSet
    assert len(events) == 1
    ev = events[0]
    assert ev.EventHandle and ev.EventType == "NewFileUpload"
    fu = ev.FileUploadEvent
    assert fu.FileId == committed.FileId and fu.ProcedureTaskId == ""
    info = fu.MediaBasicInfo
    assert (info.Name, info.Type, info.MediaUrl, info.Vid) == ("Animal World", "mp4", committed.MediaUrl, fu.FileId)
    assert info.SourceInfo.SourceType == "Upload" and info.SourceInfo.SourceContext == "job-1"
    assert fu.MetaData.Size == len(b"video-bytes")
    # The raw event carries every member of the documented sample.
    env.call("ConfirmEvents", EventHandles=[ev.EventHandle])
    upload(env)
    raw = env.cloud.vod.pull_events(wait_s=0)[0]
    if SAMPLE:
        assert set(SAMPLE["FileUploadEvent"]) <= set(raw["FileUploadEvent"])
        assert set(SAMPLE["FileUploadEvent"]["MediaBasicInfo"]) <= set(raw["FileUploadEvent"]["MediaBasicInfo"])
    assert "ProcedureStateChangeEvent" not in raw  # PULL items carry their own payload only


def test_the_upload_switch_off_sends_no_new_file_upload(env: Env) -> None:
    env.call("ModifyEventConfig", Mode="PULL", UploadMediaCompleteEventSwitch="OFF")
    upload(env)
    assert not env.call("PullEvents").EventSet
    assert env.call("DescribeEventsState").CountOfEventsToPull == 0


# -- PULL semantics ------------------------------------------------------------------------------


def test_a_pull_returns_at_most_16_events(env: Env) -> None:
    pull_mode(env)
    fake_event(env, 20)
    assert env.call("DescribeEventsState").CountOfEventsToPull == 20

    first = env.call("PullEvents").EventSet
    second = env.call("PullEvents").EventSet
    assert (len(first), len(second)) == (PULL_MAX, 4)
    assert not env.call("PullEvents").EventSet
    handles = [e.EventHandle for e in first + second]
    assert len(set(handles)) == 20
    env.call("ConfirmEvents", EventHandles=handles[:16])
    env.call("ConfirmEvents", EventHandles=handles[16:])
    assert error_code(lambda: env.call("ConfirmEvents", EventHandles=handles[:17])) == "InvalidParameterValue"


def test_an_unconfirmed_event_comes_back_after_30_s_under_a_new_handle(env: Env) -> None:
    pull_mode(env)
    fake_event(env, 1)
    first = env.call("PullEvents").EventSet[0]
    assert not env.call("PullEvents").EventSet  # in flight: nobody else gets it
    assert env.call("DescribeEventsState").CountOfEventsToPull == 0

    env.cloud.clock.advance(CONFIRM_WINDOW_S + 1)
    again = env.call("PullEvents").EventSet
    assert len(again) == 1 and again[0].PullCompleteEvent.TaskId == first.PullCompleteEvent.TaskId
    assert again[0].EventHandle != first.EventHandle
    # The superseded handle is refused; the current one confirms; nothing comes back afterwards.
    assert error_code(lambda: env.call("ConfirmEvents", EventHandles=[first.EventHandle])) == "InvalidParameter"
    env.call("ConfirmEvents", EventHandles=[again[0].EventHandle])
    env.cloud.clock.advance(CONFIRM_WINDOW_S + 1)
    assert not env.call("PullEvents").EventSet


def test_a_confirm_after_the_window_is_refused_and_the_event_redelivered(env: Env) -> None:
    pull_mode(env)
    fake_event(env, 2)
    a, b = env.call("PullEvents").EventSet
    env.cloud.clock.advance(CONFIRM_WINDOW_S + 1)
    # Valid handles in the same call are still confirmed: here none is.
    assert error_code(lambda: env.call("ConfirmEvents", EventHandles=[a.EventHandle])) == "InvalidParameter"
    back = env.call("PullEvents").EventSet
    assert {e.PullCompleteEvent.TaskId for e in back} == {"t0", "t1"}
    env.call("ConfirmEvents", EventHandles=[e.EventHandle for e in back])
    assert env.cloud.vod.queued_events() == []
    del b


def test_events_are_kept_four_days(env: Env) -> None:
    pull_mode(env)
    fake_event(env, 3)
    env.cloud.clock.advance(RETENTION_S - 60)
    assert env.call("DescribeEventsState").CountOfEventsToPull == 3
    env.cloud.clock.advance(120)
    assert env.call("DescribeEventsState").CountOfEventsToPull == 0
    assert not env.call("PullEvents").EventSet


def test_two_pullers_never_hold_the_same_event(env: Env) -> None:
    pull_mode(env)
    fake_event(env, 40)
    got: list[list[Any]] = [[], []]

    def puller(i: int) -> None:
        while True:
            events = env.call("PullEvents").EventSet
            if not events:
                return
            got[i].extend(events)

    threads = [threading.Thread(target=puller, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ids = [e.PullCompleteEvent.TaskId for e in got[0] + got[1]]
    assert sorted(ids) == sorted(f"t{i}" for i in range(40)) and len(set(ids)) == 40


def test_pull_long_polls_and_returns_when_an_event_arrives(env: Env) -> None:
    pull_mode(env)
    env.cloud.vod.long_poll_s = 3.0
    started = time.monotonic()
    threading.Timer(0.3, lambda: fake_event(env, 1)).start()
    events = env.call("PullEvents").EventSet
    took = time.monotonic() - started
    assert len(events) == 1 and 0.25 <= took < 2.5

    env.cloud.vod.long_poll_s = 0.5
    started = time.monotonic()
    assert not env.call("PullEvents").EventSet
    assert time.monotonic() - started >= 0.45


# -- PUSH ----------------------------------------------------------------------------------------


def test_push_posts_signed_events_and_retries_a_failing_receiver(env: Env) -> None:
    receiver = Receiver([500, 503])
    try:
        env.call(
            "ModifyEventConfig",
            Mode="PUSH",
            NotificationUrl=receiver.url,
            UploadMediaCompleteEventSwitch="ON",
            SignKey="Key123",
        )
        _, committed = upload(env)
        assert wait_for(env, lambda: receiver.answered == [500])
        env.cloud.vod.run_due()
        assert receiver.answered == [500]  # the retry waits for its backoff on the emulator clock
        env.cloud.clock.advance(5)
        assert wait_for(env, lambda: receiver.answered == [500, 503])
        env.cloud.clock.advance(10)
        assert wait_for(env, lambda: receiver.answered == [500, 503, 200])
        body = receiver.bodies[-1]
        t = body["T"]
        assert isinstance(t, int) and 0 < t - env.cloud.clock.now() <= 600  # a fresh expiry on every attempt
        assert body["Sign"] == hashlib.md5(f"Key123{t}".encode()).hexdigest()
        assert body["EventType"] == "NewFileUpload" and "EventHandle" not in body
        assert body["FileUploadEvent"]["FileId"] == committed.FileId
        assert all(v is not None for v in body["FileUploadEvent"].values())
        env.cloud.clock.advance(3600)
        env.cloud.vod.run_due()
        assert len(receiver.bodies) == 3  # delivered: not sent again
    finally:
        receiver.close()


def test_push_without_a_sign_key_sends_no_sign(env: Env) -> None:
    receiver = Receiver()
    try:
        env.call("ModifyEventConfig", Mode="PUSH", NotificationUrl=receiver.url, UploadMediaCompleteEventSwitch="ON")
        upload(env)
        assert wait_for(env, lambda: receiver.bodies)
        assert "Sign" not in receiver.bodies[0] and "T" not in receiver.bodies[0]
    finally:
        receiver.close()


def test_push_to_an_unreachable_url_keeps_retrying_with_backoff(env: Env) -> None:
    env.call("ModifyEventConfig", Mode="PUSH", NotificationUrl="http://127.0.0.1:9/nothing")
    fake_event(env, 1)
    env.cloud.vod.run_due()
    delivery = env.cloud.vod.events.outbox[0]
    assert wait_for(env, lambda: delivery.attempts >= 1)
    assert delivery.history[0][1] == 0 and not delivery.delivered
    env.cloud.vod.settle(max_seconds=600)
    assert delivery.attempts >= 5 and not delivery.delivered
