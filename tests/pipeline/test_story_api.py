"""A backend engineer drives vodflow over HTTP: presigned upload, the job, its progress and FileId."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest
import requests

from tests.pipeline.harness import TOKEN, Deployed, media_bytes
from vodflow.pipeline.config import MIB
from vodflow.pipeline.jobs import job_id_for

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def call(
    app: Deployed,
    method: str,
    path: str,
    body: Any = None,
    headers: Optional[dict[str, str]] = None,
    raw: Optional[bytes] = None,
) -> requests.Response:
    url = app.api_url + path
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    return requests.request(method, url, data=data, headers={**AUTH, **(headers or {})}, timeout=30)


def test_presigned_upload_then_the_job_reaches_its_file_id(app: Deployed) -> None:
    data = media_bytes(5 * MIB + 3, seed=31)
    r = call(
        app,
        "POST",
        "/uploads",
        {"filename": "launch video.mp4", "size": len(data), "options": {"media_name": "Launch 视频", "class_id": 0}},
    )
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["mode"] == "put"
    assert plan["key"].startswith("incoming/") and plan["key"].endswith("/launch video.mp4")
    put = requests.put(plan["url"], data=data, headers=plan["headers"], timeout=30)
    assert put.status_code == 200, put.text
    job_id = job_id_for(plan["bucket"], plan["key"], put.headers["ETag"])

    # The trigger has queued ingest but nothing ran yet: the job does not exist.
    assert call(app, "GET", f"/jobs/{job_id}").status_code == 404
    app.drain()
    view = call(app, "GET", f"/jobs/{job_id}").json()
    assert view["state"] == "committed"
    assert view["parts_done"] == view["parts_total"] == 6
    assert view["bytes_done"] == view["bytes_total"] == len(data)
    assert view["file_id"]
    assert app.fetch(view["media_url"]) == data
    assert app.describe(view["file_id"]).BasicInfo.Name == "Launch 视频"
    assert view["error"] is None


def test_progress_is_reported_while_parts_are_copied(app: Deployed) -> None:
    data = media_bytes(9 * MIB, seed=32)
    app.stage("incoming/progress.mp4", data)
    # Every part copy fails for now: parts done stays where the first batch left it.
    fault = app.cloud.faults.inject("cos", "UploadPart", code="InternalError", status=500, times=None)
    app.drain()
    [job] = app.jobs()
    view = call(app, "GET", f"/jobs/{job['job_id']}").json()
    assert view["state"] == "copying"
    assert view["parts_total"] == 9
    assert 0 <= view["parts_done"] < 9
    assert view["file_id"] is None
    app.cloud.faults.clear()
    assert fault.fired > 0


def test_post_jobs_starts_a_staged_object_and_restarts_a_failed_one(app: Deployed) -> None:
    data = media_bytes(2000, seed=33)
    app.stage("elsewhere/../incoming/x.mp4", b"junk")  # never starts: outside the prefix
    app.cloud.scf.duplicate_cos_events = False
    # The role may not use VOD yet (a permanent refusal): the job fails with VOD's code.
    app.cloud.faults.inject("vod", "ApplyUpload", code="UnauthorizedOperation", status=200, times=None)
    app.stage("incoming/retry-me.mp4", data)
    app.drain()
    [job] = app.jobs()
    first = call(app, "GET", f"/jobs/{job['job_id']}").json()
    assert first["state"] == "failed"
    assert first["error"]["code"] == "UnauthorizedOperation"
    app.cloud.faults.clear()
    r = call(app, "POST", "/jobs", {"key": "incoming/retry-me.mp4"})
    assert r.status_code == 202, r.text
    restarted = r.json()
    assert restarted["job_id"] != job["job_id"]
    app.drain()
    view = call(app, "GET", f"/jobs/{restarted['job_id']}").json()
    assert view["state"] == "committed", view
    assert app.fetch(view["media_url"]) == data
    listing = call(app, "GET", "/jobs?limit=1").json()
    assert [j["id"] for j in listing["jobs"]] == [restarted["job_id"]]
    assert listing["next_marker"]
    second_page = call(app, "GET", "/jobs?limit=5&marker=" + requests.utils.quote(listing["next_marker"])).json()
    assert [j["id"] for j in second_page["jobs"]] == [job["job_id"]]
    assert second_page["next_marker"] is None


def test_a_large_upload_gets_presigned_parts(app: Deployed) -> None:
    size = 70 * MIB
    r = call(app, "POST", "/uploads", {"filename": "big.mp4", "size": size})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["mode"] == "multipart"
    assert plan["part_size"] * len(plan["parts"]) >= size
    assert plan["upload_id"]
    data = media_bytes(size, seed=34)
    etags = []
    for part in plan["parts"]:
        offset = (part["number"] - 1) * plan["part_size"]
        resp = requests.put(part["url"], data=data[offset : offset + plan["part_size"]], timeout=60)
        assert resp.status_code == 200, resp.text
        etags.append((part["number"], resp.headers["ETag"]))
    body = (
        "<CompleteMultipartUpload>"
        + "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in etags)
        + "</CompleteMultipartUpload>"
    )
    done = requests.post(plan["complete_url"], data=body.encode(), timeout=60)
    assert done.status_code == 200, done.text
    app.drain()
    [job] = app.jobs()
    result = app.record(job["job_id"], "result.json")
    assert result is not None, app.record(job["job_id"], "failed.json")
    assert app.fetch(result["media_url"]) == data


def test_a_presigned_url_allows_only_its_own_key(app: Deployed) -> None:
    plan = call(app, "POST", "/uploads", {"filename": "one.mp4", "size": 10}).json()
    other = plan["url"].replace("/one.mp4", "/other.mp4")
    assert requests.put(other, data=b"0123456789", headers=plan["headers"], timeout=30).status_code == 403
    # The options are signed too: changing a metadata header breaks the signature.
    plan = call(app, "POST", "/uploads", {"filename": "two.mp4", "size": 10, "options": {"procedure": "P1"}}).json()
    tampered = {**plan["headers"], "x-cos-meta-vod-procedure": "P2"}
    assert requests.put(plan["url"], data=b"0123456789", headers=tampered, timeout=30).status_code == 403


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Authorization": ""}, 401, "AuthFailure.Token"),
        ({"Authorization": "Bearer wrong"}, 401, "AuthFailure.Token"),
        ({"Authorization": f"Bearer {TOKEN[:-1]}x"}, 401, "AuthFailure.Token"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "AuthFailure.Token"),
    ],
)
def test_requests_without_the_right_token_are_refused(
    app: Deployed, headers: dict[str, str], status: int, code: str
) -> None:
    for method, path in (("GET", "/jobs"), ("POST", "/uploads"), ("GET", "/jobs/" + "0" * 32)):
        r = call(app, method, path, {"filename": "a.mp4", "size": 1}, headers=headers)
        assert r.status_code == status
        body = r.json()
        assert body["code"] == code
        assert set(body) == {"code", "message", "request_id"}


@pytest.mark.parametrize(
    ("body", "raw", "status", "field"),
    [
        (None, b"not json", 400, "JSON"),
        (None, b"[1, 2]", 400, "object"),
        ({"size": 10}, None, 400, "filename"),
        ({"filename": "a.mp4", "size": "10"}, None, 400, "size"),
        ({"filename": "a.mp4", "size": -1}, None, 400, "size"),
        ({"filename": "../a.mp4", "size": 1}, None, 400, "filename"),
        ({"filename": "a.mp4", "size": 1, "options": {"class_id": "x"}}, None, 400, "x-cos-meta-vod-class-id"),
        ({"filename": "a.mp4", "size": 1, "options": {"source_context": "x" * 300}}, None, 400, "source-context"),
        ({"filename": "a.mp4", "size": 1, "options": {"colour": "red"}}, None, 400, "options.colour"),
        (
            {"filename": "a.mp4", "size": 1, "options": {"expire_time": "2001-01-01T00:00:00Z"}},
            None,
            400,
            "expire-time",
        ),
        (None, b"{" + b" " * 70000 + b"}", 413, "bytes"),
    ],
)
def test_bad_upload_requests_name_the_field(
    app: Deployed, body: Any, raw: Optional[bytes], status: int, field: str
) -> None:
    r = call(app, "POST", "/uploads", body, raw=raw)
    assert r.status_code == status, r.text
    assert field in r.json()["message"]
    assert app.cloud.cos.list_objects("staging-1250000000", prefix="incoming/").contents == []


def test_unknown_jobs_routes_and_methods(app: Deployed) -> None:
    assert call(app, "GET", "/jobs/" + "f" * 32).status_code == 404
    assert call(app, "GET", "/jobs/not-a-job").status_code == 404
    assert call(app, "DELETE", "/jobs").status_code in (404, 405)
    r = call(app, "POST", "/jobs", {"key": "incoming/none.mp4"})
    assert r.status_code == 404
    assert "incoming/none.mp4" in r.json()["message"]
    assert call(app, "GET", "/jobs?limit=0").status_code == 400


def test_health_and_openapi_need_no_token(app: Deployed) -> None:
    assert requests.get(app.api_url + "/health", timeout=10).json()["status"] == "ok"
    doc = requests.get(app.api_url + "/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert {"/uploads", "/jobs", "/jobs/{id}", "/health", "/openapi.json"} <= set(doc["paths"])
