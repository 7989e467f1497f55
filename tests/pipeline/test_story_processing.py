"""The job does not end at the commit (issue 14): VOD's task flow followed to processed or processing_failed.

Against the deployed app on the emulator, VOD's events read in PULL mode by the sweeper's poller
(``vod_events.poll``, the step the sweeper runs on every pass): a staged file with a Procedure goes
committed → processing → processed, its transcodes listed by ``GET /jobs/{id}`` and served; a failing
task ends it processing_failed naming the task and its code; a job without a Procedure stays committed;
a Procedure that never ends meets its deadline. Each state change sends one signed webhook.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook
from tencentcloud.vod.v20180717 import models as vod_models

from tencent_emulator import mock_tencent
from tests.pipeline.harness import TOKEN, Deployed, deploy, function_runtime, media_bytes
from tests.pipeline.test_story_webhooks import SECRET, Receiver, receiver  # noqa: F401  (the fixture)
from vodflow.pipeline import vod_events
from vodflow.pipeline.sweeper import sweep

PROCEDURE = "vodflow-hd"
TASKS = [("Transcode", 100010), ("Transcode", 100020), ("SnapshotByTimeOffset", 10)]


def events_on(app: Deployed, mode: str = "PULL", url: str = "", sign_key: str = "") -> None:
    """What ``make deploy`` does for VODFLOW_EVENTS_MODE (ModifyEventConfig), through the SDK."""
    req = vod_models.ModifyEventConfigRequest()
    req.Mode = mode
    req.UploadMediaCompleteEventSwitch = "ON"
    if url:
        req.NotificationUrl = url
    if sign_key:
        req.SignKey = sign_key
    app.vod.ModifyEventConfig(req)


def deploy_followed(cloud: Any, receiver_url: str = "", **extra: str) -> Deployed:
    hooks = {"VODFLOW_WEBHOOK_URL": receiver_url, "VODFLOW_WEBHOOK_SECRET": SECRET} if receiver_url else {}
    app = deploy(cloud, VODFLOW_EVENTS_MODE="pull", VODFLOW_EVENTS_POLL_S="0", **hooks, **extra)
    events_on(app)
    return app


def api_get(app: Deployed, path: str) -> dict[str, Any]:
    resp = requests.get(app.api_url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def poll(app: Deployed, **kwargs: Any) -> dict[str, int]:
    return vod_events.poll(function_runtime(app), 0, **kwargs)


def test_a_staged_file_with_a_procedure_is_followed_to_processed(receiver: Receiver) -> None:  # noqa: F811
    with mock_tencent() as cloud:
        cloud.vod.add_procedure(PROCEDURE, tasks=TASKS)
        app = deploy_followed(cloud, receiver.url, VODFLOW_VOD_PROCEDURE=PROCEDURE)
        app.stage("incoming/show.mp4", media_bytes(3000, seed=141))
        app.drain()
        [job] = app.jobs()
        job_id = job["job_id"]
        assert api_get(app, f"/jobs/{job_id}")["state"] == "committed"
        counts = poll(app)
        assert counts.get("events processing") == 1, counts
        view = api_get(app, f"/jobs/{job_id}")
        assert view["state"] == "processing" and view["processing"]["task_id"]
        cloud.vod.settle()  # the tasks run on the emulator's clock; ProcedureStateChanged is queued
        counts = poll(app)
        assert counts.get("events processed") == 1, counts
        view = api_get(app, f"/jobs/{job_id}")
        assert view["state"] == "processed", view
        transcodes = view["results"]["transcodes"]
        assert sorted(t["definition"] for t in transcodes) == [100010, 100020]
        for t in transcodes:
            assert t["url"] and t["size"] and t["bitrate"] and t["width"] and t["height"]
            assert app.fetch(t["url"])  # the output is served
        assert view["results"]["snapshots"]
        assert poll(app) == {}  # every event confirmed: nothing comes back
    delivered = receiver.delivered()
    payloads = [dict(Webhook(SECRET).verify(body, headers)) for headers, body in delivered]
    assert [p["type"] for p in payloads] == ["job.committed", "job.processing", "job.processed"]
    assert {p["job_id"] for p in payloads} == {job_id}
    assert len({h["webhook-id"] for h, _ in delivered}) == 3
    assert sorted(t["definition"] for t in payloads[2]["results"]["transcodes"]) == [100010, 100020]


def test_a_failing_transcode_ends_processing_failed_naming_the_task_and_its_code(receiver: Receiver) -> None:  # noqa: F811
    with mock_tencent() as cloud:
        cloud.vod.add_procedure(PROCEDURE, tasks=TASKS)
        cloud.vod.fail_task(PROCEDURE, "Transcode", 60000, "Source file error.", definition=100020)
        app = deploy_followed(cloud, receiver.url, VODFLOW_VOD_PROCEDURE=PROCEDURE)
        app.stage("incoming/broken.mp4", media_bytes(2500, seed=142))
        app.drain()
        [job] = app.jobs()
        poll(app)
        cloud.vod.settle()
        poll(app)
        view = api_get(app, f"/jobs/{job['job_id']}")
        assert view["state"] == "processing_failed", view
        assert view["error"]["task"] == "Transcode"
        assert view["error"]["definition"] == 100020
        assert "SourceFileError" in view["error"]["code"] or "60000" in view["error"]["code"]
        assert view["error"]["message"] == "Source file error."
        assert view["file_id"]  # the media exists; its processing failed
    payloads = [dict(Webhook(SECRET).verify(b, h)) for h, b in receiver.delivered()]
    assert [p["type"] for p in payloads] == ["job.committed", "job.processing", "job.processing_failed"]
    assert payloads[-1]["error"]["task"] == "Transcode"


def test_a_job_without_a_procedure_stays_committed(receiver: Receiver) -> None:  # noqa: F811
    with mock_tencent() as cloud:
        app = deploy_followed(cloud, receiver.url)
        app.stage("incoming/plain.mp4", media_bytes(2000, seed=143))
        app.drain()
        [job] = app.jobs()
        counts = poll(app)
        assert counts.get("events no procedure") == 1, counts
        cloud.vod.settle()
        poll(app)
        assert api_get(app, f"/jobs/{job['job_id']}")["state"] == "committed"
        assert (
            sweep(function_runtime(app), now=cloud.clock.wall() + 10 * 86400).get("processing failed: deadline") is None
        )
    assert [json.loads(b)["type"] for _, b in receiver.delivered()] == ["job.committed"]


def test_a_procedure_that_never_ends_meets_the_processing_deadline(receiver: Receiver) -> None:  # noqa: F811
    with mock_tencent() as cloud:
        cloud.vod.add_procedure(PROCEDURE, tasks=TASKS, delay_s=10 * 86400)  # far beyond the deadline
        app = deploy_followed(cloud, receiver.url, VODFLOW_VOD_PROCEDURE=PROCEDURE, VODFLOW_PROCESSING_DEADLINE_S="600")
        app.stage("incoming/slow.mp4", media_bytes(2000, seed=144))
        app.drain()
        [job] = app.jobs()
        poll(app)
        rt = function_runtime(app)
        result = app.record(job["job_id"], "result.json")
        assert result is not None
        counts = sweep(rt, now=result["committed_at"] + 601)
        assert counts.get("processing failed: deadline") == 1, counts
        view = api_get(app, f"/jobs/{job['job_id']}")
        assert view["state"] == "processing_failed"
        assert view["error"]["code"] == "FailedOperation.ProcessingDeadline"
        assert sweep(rt, now=result["committed_at"] + 1200).get("processing failed: deadline") is None  # once
    assert [json.loads(b)["type"] for _, b in receiver.delivered()] == [
        "job.committed",
        "job.processing",
        "job.processing_failed",
    ]
