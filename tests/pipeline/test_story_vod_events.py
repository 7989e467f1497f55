"""VOD's events, delivered the hard ways (issue 14): a poller killed between recording and confirming,
two pollers at once, events for media vodflow never ingested, PUSH callbacks forged or expired."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tencent_emulator import mock_tencent
from tests.conftest import SCAN
from tests.pipeline.harness import deploy, function_runtime, media_bytes
from tests.pipeline.test_story_processing import PROCEDURE, TASKS, api_get, deploy_followed, events_on, poll
from tests.pipeline.test_story_webhooks import SECRET, Receiver, receiver  # noqa: F401  (the fixture)
from vodflow import VodUploadClient, VodUploadRequest
from vodflow.pipeline import vod_events

SIGN_KEY = "vodflowSignKey0123456789"


@pytest.fixture(autouse=True)
def _sign_key_is_scanned() -> None:
    SCAN.extra_secrets.add(SIGN_KEY)  # never in a log line, a reply or a record


class Killed(Exception):
    """The poller dies right here (after recording, before ConfirmEvents)."""


def _kill(handles: list[str]) -> None:
    raise Killed(f"killed before confirming {len(handles)} events")


def types(r: Receiver) -> list[str]:
    return [json.loads(b)["type"] for _, b in r.delivered()]


def test_a_poller_killed_before_confirming_gets_the_event_again_and_changes_nothing_twice(
    receiver: Receiver,  # noqa: F811
) -> None:
    with mock_tencent() as cloud:
        cloud.vod.add_procedure(PROCEDURE, tasks=TASKS)
        app = deploy_followed(cloud, receiver.url, VODFLOW_VOD_PROCEDURE=PROCEDURE)
        app.stage("incoming/killed.mp4", media_bytes(2000, seed=151))
        app.drain()
        [job] = app.jobs()
        with pytest.raises(Killed):
            poll(app, before_confirm=_kill)  # recorded: processing; never confirmed
        assert api_get(app, f"/jobs/{job['job_id']}")["state"] == "processing"
        assert poll(app) == {}  # in flight: not handed out again within 30 s
        cloud.clock.advance(31)  # the confirm window passes: VOD hands the event out again
        counts = poll(app)
        assert counts.get("events pulled") == 1 and counts.get("events confirmed") == 1, counts
        cloud.vod.settle()
        with pytest.raises(Killed):
            poll(app, before_confirm=_kill)  # processed recorded, not confirmed
        cloud.clock.advance(31)
        assert poll(app).get("events processed") == 1
        assert poll(app) == {}
        assert api_get(app, f"/jobs/{job['job_id']}")["state"] == "processed"
        attempts = [
            k
            for k in app.cloud.cos.list_objects(
                "staging-1250000000", prefix=f".vodflow/jobs/{job['job_id']}/webhook/"
            ).contents
        ]
        assert len([o for o in attempts if "-attempt-" in o.key]) == 3  # one delivery per state
    assert types(receiver) == ["job.committed", "job.processing", "job.processed"]


def test_two_pollers_at_once_record_every_event_once(receiver: Receiver) -> None:  # noqa: F811
    with mock_tencent() as cloud:
        cloud.vod.add_procedure(PROCEDURE, tasks=TASKS)
        app = deploy_followed(cloud, receiver.url, VODFLOW_VOD_PROCEDURE=PROCEDURE)
        for i in range(5):
            app.stage(f"incoming/pair-{i}.mp4", media_bytes(1500 + i, seed=160 + i))
        app.drain()
        cloud.vod.settle()  # NewFileUpload and ProcedureStateChanged for each: 10 events queued
        results: list[dict[str, int]] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                results.append(vod_events.poll(function_runtime(app), 2))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        pulled = sum(r.get("events pulled", 0) for r in results)
        assert pulled == 10, results
        states = [api_get(app, f"/jobs/{j['job_id']}")["state"] for j in app.jobs()]
        assert states == ["processed"] * 5
        assert cloud.vod.queued_events() == []
    assert sorted(types(receiver)) == sorted(["job.committed", "job.processing", "job.processed"] * 5)


def test_events_for_foreign_media_are_confirmed_and_ignored(tmp_path: Path, caplog: Any) -> None:
    with mock_tencent() as cloud:
        app = deploy_followed(cloud)
        source = tmp_path / "theirs.mp4"
        source.write_bytes(media_bytes(1200, seed=171))
        client = VodUploadClient(cloud.secret_id, cloud.secret_key)
        req = VodUploadRequest()
        req.MediaFilePath = str(source)
        client.upload(cloud.region, req)  # someone else's upload into the same VOD application
        counts = poll(app)
        assert counts.get("events foreign") == 1 and counts.get("events confirmed") == 1, counts
        assert cloud.vod.queued_events() == []
        assert app.jobs() == []


def test_push_callbacks_are_recorded_and_forged_or_expired_ones_refused(receiver: Receiver) -> None:  # noqa: F811
    with mock_tencent() as cloud:
        cloud.vod.add_procedure(PROCEDURE, tasks=TASKS)
        app = deploy(
            cloud,
            VODFLOW_EVENTS_MODE="push",
            VODFLOW_EVENTS_SIGN_KEY=SIGN_KEY,
            VODFLOW_VOD_PROCEDURE=PROCEDURE,
            VODFLOW_WEBHOOK_URL=receiver.url,
            VODFLOW_WEBHOOK_SECRET=SECRET,
        )
        events_on(app, "PUSH", url=app.api_url + "/vod/events", sign_key=SIGN_KEY)
        app.stage("incoming/pushed.mp4", media_bytes(1800, seed=181))
        app.drain()
        cloud.vod.settle()  # NewFileUpload and ProcedureStateChanged POSTed to the function URL
        app.drain()
        [job] = app.jobs()
        assert api_get(app, f"/jobs/{job['job_id']}")["state"] == "processed"
        url = app.api_url + "/vod/events"
        body = {"EventType": "NewFileUpload", "FileUploadEvent": {"FileId": "1", "ProcedureTaskId": ""}}
        t = int(time.time()) + 600
        good = vod_events.expected_sign(SIGN_KEY, t)
        wrong = requests.post(url, json={**body, "T": t, "Sign": "0" * 32}, timeout=30)
        assert wrong.status_code == 401 and wrong.json()["code"] == "AuthFailure.Sign"
        past = int(time.time()) - 1
        expired = requests.post(
            url, json={**body, "T": past, "Sign": vod_events.expected_sign(SIGN_KEY, past)}, timeout=30
        )
        assert expired.status_code == 401 and expired.json()["code"] == "AuthFailure.SignExpired"
        unsigned = requests.post(url, json=body, timeout=30)
        assert unsigned.status_code == 401
        ok = requests.post(url, json={**body, "T": t, "Sign": good}, timeout=30)
        assert ok.status_code == 200 and ok.json()["outcome"] == "foreign"
        for r in (wrong, expired, unsigned, ok):
            assert SIGN_KEY not in r.text and good not in r.text
    assert types(receiver) == ["job.committed", "job.processing", "job.processed"]
