"""After a verified commit: the staging policy (keep, tag, delete) and the signed webhook."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tencent_emulator import mock_tencent
from tests.pipeline.harness import BUCKET, Deployed, deploy, function_runtime, media_bytes, only_result
from vodflow.pipeline.config import MIB
from vodflow.pipeline.lifecycle import load_job
from vodflow.pipeline.staging import apply_staging_policy


class Receiver:
    """A webhook endpoint on loopback that records what it is sent (and can fail the first calls)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 503 if len(receiver.calls) <= receiver.fail_first else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=1)
    yield r
    r.close()


def staging_object(app: Deployed, key: str) -> Any:
    return app.cloud.cos.head_object(BUCKET, key)


STATE = "state-1250000000"
# tag and delete act on the job's own COS version: a versioned staging bucket, job records elsewhere.
VERSIONED = {"VODFLOW_STAGING_VERSIONED": "true", "VODFLOW_STATE_BUCKET": STATE}


def versions(app: Deployed, key: str) -> list[dict[str, Any]]:
    """The staging key's versions (newest first), as the user sees them (GET Bucket Object versions)."""
    listed = app.cos.list_objects_versions(Bucket=BUCKET, Prefix=key)
    return [v for v in listed.get("Version", []) if v["Key"] == key]


def test_keep_is_the_default_and_leaves_the_staging_object_as_it_was(app: Deployed) -> None:
    app.stage("incoming/keep.mp4", media_bytes(2000))
    before = staging_object(app, "incoming/keep.mp4")
    app.drain()
    only_result(app)
    after = staging_object(app, "incoming/keep.mp4")
    assert after is not None
    assert (after.etag, after.size, after.metadata) == (before.etag, before.size, before.metadata)
    assert app.cloud.cos.get_tags(BUCKET, "incoming/keep.mp4") == {}


@pytest.mark.parametrize("size", [2000, 6 * MIB])
def test_tag_marks_the_staging_object_with_the_file_id(tmp_path: Path, size: int) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud, VODFLOW_STAGING_POLICY="tag", **VERSIONED)
        staged = app.stage("incoming/tag.mp4", media_bytes(size))
        app.drain()
        job, result = only_result(app)
        assert job["source"]["version_id"] == staged["x-cos-version-id"]
        tags = app.cloud.cos.get_tags(BUCKET, "incoming/tag.mp4", staged["x-cos-version-id"])
        assert tags == {"vodflow-file-id": result["file_id"], "vodflow-job-id": job["job_id"]}
        assert app.record(job["job_id"], "staging.json")["version_id"] == staged["x-cos-version-id"]


def test_delete_removes_the_staging_object_only_after_the_commit(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud, VODFLOW_STAGING_POLICY="delete", **VERSIONED)
        data = media_bytes(5 * MIB + 1)
        staged = app.stage("incoming/delete.mp4", data)
        # While the commit keeps failing, the staging object stays.
        app.cloud.faults.inject("vod", "CommitUpload", code="InternalError", status=500, times=None)
        app.drain()
        assert staging_object(app, "incoming/delete.mp4") is not None
        app.cloud.faults.clear()
        [job] = app.jobs()
        from tests.pipeline.harness import function_runtime
        from vodflow.pipeline.finalize import finalize_job

        rt = function_runtime(app, "vodflow-finalize")
        lock = app.record(job["job_id"], "commit.lock")
        assert lock is not None
        finalize_job(rt, job["job_id"], takeover=lock["holder"])
        _, result = only_result(app)
        assert app.fetch(result["media_url"]) == data
        # The job's version is gone for good (no delete marker hiding it): nothing of it is kept.
        assert staging_object(app, "incoming/delete.mp4") is None
        assert versions(app, "incoming/delete.mp4") == []
        assert app.record(job["job_id"], "staging.json")["version_id"] == staged["x-cos-version-id"]


def test_a_newer_version_staged_meanwhile_is_never_deleted(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud, **VERSIONED)  # keep while the first job runs, so its version stays
        old = app.stage("incoming/v.mp4", media_bytes(1000, seed=1))
        app.drain()
        job, result = only_result(app)
        newer = media_bytes(1000, seed=2)
        app.stage("incoming/v.mp4", newer)  # a new version lands before the first job applies its policy
        rt = function_runtime(app, "vodflow-finalize")
        rt.config = dataclasses.replace(rt.config, staging_policy="delete")
        first = load_job(rt, job["job_id"])
        assert first is not None
        first.listing = dataclasses.replace(first.listing, keys=first.listing.keys - {"staging.json"})
        apply_staging_policy(first, result)
        # Only the first job's version went; the newer one is the object, whole.
        assert app.cloud.cos.read_object(BUCKET, "incoming/v.mp4") == newer
        assert old["x-cos-version-id"] not in [v["VersionId"] for v in versions(app, "incoming/v.mp4")]
        assert len(versions(app, "incoming/v.mp4")) == 1
        assert app.record(job["job_id"], "staging.json")["version_id"] == old["x-cos-version-id"]


def test_the_webhook_is_signed_and_retried(tmp_path: Path, receiver: Receiver) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud, VODFLOW_WEBHOOK_URL=receiver.url, VODFLOW_WEBHOOK_SECRET="hook-secret")
        app.stage("incoming/hooked.mp4", media_bytes(1500))
        app.drain()
        job, result = only_result(app)
    assert len(receiver.calls) == 2  # the first answer was a 503
    headers, body = receiver.calls[-1]
    payload = json.loads(body)
    assert payload["job_id"] == job["job_id"]
    assert payload["file_id"] == result["file_id"]
    assert payload["state"] == "committed"
    # Standard Webhooks (see test_story_webhooks.py): HMAC-SHA256 of "<id>.<timestamp>.<body>", base64.
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(b"hook-secret", signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == "v1," + expected
    assert "hook-secret" not in body.decode()
