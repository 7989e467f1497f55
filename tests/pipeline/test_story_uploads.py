"""Presigned uploads carry exactly what the API signed, live as long as promised, resume and abort (issue 13).

A backend engineer asks ``POST /uploads`` for an upload and hands the URL to a browser it does not trust
(class 1: the URL holder adds option headers; none is applied). The URLs live no longer than the role
keys that sign them, and the reply says so; an upload in progress gets fresh URLs for its missing parts
(``GET /uploads/{id}``), the job id once staged, and can be aborted (``DELETE /uploads/{id}``) (class 5).
Sizes COS cannot hold are refused before anything opens (class 7).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import requests

from tests.pipeline.harness import BUCKET, Deployed, media_bytes
from tests.pipeline.test_story_api import call
from vodflow.pipeline.config import MIB
from vodflow.pipeline.uploads import URL_TTL_MAX_S
from vodflow.planner import GiB

PRIVATE_IMAGE = b"\x89PNG\r\n\x1a\n" + b"private" * 300


def _complete_body(etags: list[tuple[int, str]]) -> bytes:
    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in sorted(etags))
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


def _staging_uploads(app: Deployed) -> list[object]:
    return list(app.cloud.cos.list_multipart_uploads(BUCKET))


# -- class 1: a URL holder gets nothing the API did not sign -----------------------------------------
def test_a_url_holder_adding_a_cover_or_a_procedure_gets_neither_applied(app: Deployed) -> None:
    app.cloud.vod.add_procedure("Attacker Procedure")
    app.stage("private/secret.png", PRIVATE_IMAGE)  # readable by the functions' role, not public
    app.stage("incoming/covers/staged.png", PRIVATE_IMAGE)  # even a staged image: it was not issued
    data = media_bytes(3000, seed=51)
    plan = call(app, "POST", "/uploads", {"filename": "clip.mp4", "size": len(data)}).json()
    for cover in ("private/secret.png", "incoming/covers/staged.png"):
        added = {
            **plan["headers"],
            "x-cos-meta-vod-cover": cover,
            "x-cos-meta-vod-procedure": "Attacker%20Procedure",
            "x-cos-meta-vod-sub-app-id": "7",
        }
        put = requests.put(plan["url"], data=data, headers=added, timeout=30)
        assert put.status_code == 200, put.text  # COS accepts unsigned extra headers: the grant is what counts
    app.drain()
    [job] = app.jobs()
    result = app.record(job["job_id"], "result.json")
    assert result is not None, app.record(job["job_id"], "failed.json")
    assert result["cover_url"] is None
    assert job["options"]["cover"] is None
    assert "Procedure" not in job["options"]["apply_fields"]
    assert "SubAppId" not in job["options"]["apply_fields"]
    [media] = app.all_media()
    assert not getattr(media, "procedure", None)
    assert PRIVATE_IMAGE not in [app.fetch(m.media_url) for m in app.all_media()]


def test_issued_options_are_applied_and_a_changed_one_is_refused_by_cos(app: Deployed) -> None:
    app.cloud.vod.add_procedure("P1")
    data = media_bytes(2500, seed=52)
    body = {"filename": "signed.mp4", "size": len(data), "options": {"procedure": "P1", "media_name": "Signed 视频"}}
    plan = call(app, "POST", "/uploads", body).json()
    assert {"x-cos-meta-vod-procedure", "x-cos-meta-vod-media-name"} <= set(plan["headers"])
    signed = parse_qs(urlparse(plan["url"]).query)["q-header-list"][0].split(";")
    assert {"x-cos-meta-vod-procedure", "x-cos-meta-vod-media-name"} <= set(signed)  # every option is signed
    for name in ("x-cos-meta-vod-procedure", "x-cos-meta-vod-media-name"):
        tampered = {**plan["headers"], name: "P2"}
        assert requests.put(plan["url"], data=data, headers=tampered, timeout=30).status_code == 403
    assert requests.put(plan["url"], data=data, headers=plan["headers"], timeout=30).status_code == 200
    app.drain()
    [job] = app.jobs()
    assert job["options"]["apply_fields"]["Procedure"] == "P1"
    assert app.record(job["job_id"], "result.json") is not None


def test_multipart_parts_and_complete_cannot_change_the_options(app: Deployed) -> None:
    size = 70 * MIB
    plan = call(app, "POST", "/uploads", {"filename": "mp.mp4", "size": size, "options": {"class_id": 3}}).json()
    assert plan["mode"] == "multipart"
    data = media_bytes(size, seed=53)
    evil = {"x-cos-meta-vod-cover": "private/secret.png", "x-cos-meta-vod-class-id": "9"}
    etags = []
    for part in plan["parts"]:
        offset = (part["number"] - 1) * plan["part_size"]
        resp = requests.put(part["url"], data=data[offset : offset + plan["part_size"]], headers=evil, timeout=60)
        assert resp.status_code == 200, resp.text
        etags.append((part["number"], resp.headers["ETag"]))
    done = requests.post(plan["complete_url"], data=_complete_body(etags), headers=evil, timeout=60)
    assert done.status_code == 200, done.text
    head = app.cos.head_object(Bucket=BUCKET, Key=plan["key"])
    assert head.get("x-cos-meta-vod-class-id") == "3" and "x-cos-meta-vod-cover" not in head
    app.drain()
    [job] = app.jobs()
    assert job["options"]["apply_fields"]["ClassId"] == 3 and job["options"]["cover"] is None


def test_a_cover_outside_the_staging_prefix_fails_the_job_naming_the_field(app: Deployed) -> None:
    """Bucket writers (no grant) keep their metadata, but a cover must be a staged image."""
    app.stage("private/secret.png", PRIVATE_IMAGE)
    app.stage(".vodflow/uploads/fake.png", PRIVATE_IMAGE)
    app.cloud.scf.duplicate_cos_events = False
    app.stage("incoming/a.mp4", media_bytes(1000, seed=54), {"x-cos-meta-vod-cover": "private/secret.png"})
    app.stage("incoming/b.mp4", media_bytes(1001, seed=55), {"x-cos-meta-vod-cover": ".vodflow/uploads/fake.png"})
    app.drain()
    jobs = app.jobs()
    assert len(jobs) == 2
    for job in jobs:
        failed = app.record(job["job_id"], "failed.json")
        assert failed is not None and failed["code"] == "InvalidParameterValue.CoverKey"
        assert "x-cos-meta-vod-cover" in failed["message"]
    assert app.all_media() == []
    r = call(app, "POST", "/uploads", {"filename": "c.mp4", "size": 10, "options": {"cover": "private/secret.png"}})
    assert r.status_code == 400 and "x-cos-meta-vod-cover" in r.json()["message"]


# -- class 5: URLs live as long as promised; resume; abort -------------------------------------------
def _sign_span(url: str) -> int:
    start, end = parse_qs(urlparse(url).query)["q-sign-time"][0].split(";")
    return int(end) - int(start)


def test_the_url_lifetime_is_capped_to_the_signing_keys_and_the_reply_says_so(app: Deployed) -> None:
    r = call(app, "POST", "/uploads", {"filename": "week.mp4", "size": 10, "expires_in": 7 * 24 * 3600})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["expires_in"] == URL_TTL_MAX_S < 2 * 3600  # under the emulator's (and SCF's) role key lifetime
    assert plan["expires_in_requested"] == 7 * 24 * 3600
    assert "GET /uploads/{id}" in plan["note"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", plan["expires_at"])
    assert _sign_span(plan["url"]) <= URL_TTL_MAX_S + 60  # the SDK back-dates the start by 60 s
    short = call(app, "POST", "/uploads", {"filename": "short.mp4", "size": 10, "expires_in": 600}).json()
    assert short["expires_in"] == 600 and "note" not in short and "expires_in_requested" not in short


def test_an_interrupted_multipart_upload_resumes_with_fresh_urls_and_reports_its_job(app: Deployed) -> None:
    size = 70 * MIB
    plan = call(app, "POST", "/uploads", {"filename": "resume.mp4", "size": size}).json()
    assert plan["parts_total"] == len(plan["parts"])
    data = media_bytes(size, seed=56)

    def put_part(url: str, number: int) -> str:
        offset = (number - 1) * plan["part_size"]
        resp = requests.put(url, data=data[offset : offset + plan["part_size"]], timeout=60)
        assert resp.status_code == 200, resp.text
        return str(resp.headers["ETag"])

    first = plan["parts"][: len(plan["parts"]) // 3]
    for part in first:
        put_part(part["url"], part["number"])
    status = call(app, "GET", f"/uploads/{plan['upload_id']}").json()
    assert status["state"] == "pending"
    assert [p["number"] for p in status["parts_uploaded"]] == [p["number"] for p in first]
    assert all(p["etag"] and p["size"] == plan["part_size"] for p in status["parts_uploaded"])
    assert status["parts_missing"] == plan["parts_total"] - len(first)
    assert [p["number"] for p in status["parts"]] == [p["number"] for p in plan["parts"][len(first) :]]
    assert status["expires_in"] <= URL_TTL_MAX_S and "job_id" not in status
    for part in status["parts"]:
        put_part(part["url"], part["number"])
    final = call(app, "GET", f"/uploads/{plan['upload_id']}").json()
    assert final["parts_missing"] == 0 and final["parts"] == []
    etags = [(p["number"], p["etag"]) for p in final["parts_uploaded"]]
    assert requests.post(final["complete_url"], data=_complete_body(etags), timeout=60).status_code == 200
    staged = call(app, "GET", f"/uploads/{plan['upload_id']}").json()
    assert staged["state"] == "staged" and staged["job_id"]
    app.drain()
    view = call(app, "GET", f"/jobs/{staged['job_id']}").json()
    assert view["state"] == "committed", view
    assert app.fetch(view["media_url"]) == data


def test_a_single_put_upload_gets_a_fresh_url_then_its_job_id(app: Deployed) -> None:
    data = media_bytes(4000, seed=57)
    plan = call(app, "POST", "/uploads", {"filename": "one.mp4", "size": len(data), "content_type": "video/mp4"})
    plan_body = plan.json()
    status = call(app, "GET", f"/uploads/{plan_body['upload_id']}").json()
    assert status["state"] == "pending" and status["url"] and status["expires_in"] <= URL_TTL_MAX_S
    assert status["headers"]["Content-Type"] == "video/mp4"
    assert requests.put(status["url"], data=data, headers=status["headers"], timeout=30).status_code == 200
    staged = call(app, "GET", f"/uploads/{plan_body['upload_id']}").json()
    assert staged["state"] == "staged"
    app.drain()
    [job] = app.jobs()
    assert staged["job_id"] == job["job_id"]


def test_delete_aborts_a_multipart_upload_and_is_idempotent(app: Deployed) -> None:
    plan = call(app, "POST", "/uploads", {"filename": "gone.mp4", "size": 70 * MIB}).json()
    assert len(_staging_uploads(app)) == 1
    for _ in range(2):  # a repeat is fine
        r = call(app, "DELETE", f"/uploads/{plan['upload_id']}")
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "cancelled"
    assert _staging_uploads(app) == []
    resp = requests.put(plan["parts"][0]["url"], data=b"x" * MIB, timeout=30)
    assert resp.status_code == 404  # NoSuchUpload: the old URLs lead nowhere
    assert call(app, "GET", f"/uploads/{plan['upload_id']}").json()["state"] == "cancelled"


def test_a_cancelled_single_put_staged_anyway_gets_no_job_applied_and_a_staged_one_cannot_be_cancelled(
    app: Deployed,
) -> None:
    data = media_bytes(2000, seed=58)
    app.cloud.scf.duplicate_cos_events = False
    plan = call(app, "POST", "/uploads", {"filename": "late.mp4", "size": len(data)}).json()
    assert call(app, "DELETE", f"/uploads/{plan['upload_id']}").status_code == 200
    assert requests.put(plan["url"], data=data, headers=plan["headers"], timeout=30).status_code == 200
    app.drain()
    [job] = app.jobs()
    failed = app.record(job["job_id"], "failed.json")
    assert failed is not None and failed["code"] == "FailedOperation.UploadCancelled"
    assert app.all_media() == []
    staged = call(app, "POST", "/uploads", {"filename": "kept.mp4", "size": len(data)}).json()
    assert requests.put(staged["url"], data=data, headers=staged["headers"], timeout=30).status_code == 200
    r = call(app, "DELETE", f"/uploads/{staged['upload_id']}")
    assert r.status_code == 409 and r.json()["code"] == "FailedOperation.UploadStaged"


def test_unknown_uploads_are_404_and_ids_are_not_guessable(app: Deployed) -> None:
    for upload_id in ("0" * 32, "not-an-id", "F" * 32, "%2e%2e"):
        for method in ("GET", "DELETE"):
            r = call(app, method, f"/uploads/{upload_id}")
            assert r.status_code == 404, (method, upload_id, r.text)
            assert r.json()["code"] in ("ResourceNotFound.Upload", "ResourceNotFound.Route")
    ids = {call(app, "POST", "/uploads", {"filename": "a.mp4", "size": 1}).json()["upload_id"] for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


# -- class 7: sizes within what COS allows -------------------------------------------------------------
def test_sizes_cos_cannot_hold_are_refused_and_the_largest_plan_fits_cos(app: Deployed) -> None:
    largest = 10_000 * 5 * GiB
    for size in (0, -1, largest + 1, 10**30):
        r = call(app, "POST", "/uploads", {"filename": "huge.mp4", "size": size})
        assert r.status_code == 400, (size, r.text)
        assert "size" in r.json()["message"]
    assert _staging_uploads(app) == []
    plan = call(app, "POST", "/uploads", {"filename": "huge.mp4", "size": largest}).json()
    assert plan["parts_total"] == 10_000 and plan["part_size"] <= 5 * GiB
    assert plan["part_size"] * plan["parts_total"] >= largest
    assert len(plan["parts"]) == 1000  # the rest comes from GET /uploads/{id}
    assert call(app, "DELETE", f"/uploads/{plan['upload_id']}").status_code == 200
    assert _staging_uploads(app) == []
