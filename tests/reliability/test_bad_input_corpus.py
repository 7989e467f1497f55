"""Bad-input corpus: each input gets a clear error naming the field, and changes nothing.

Events go through the deployed ingest function, metadata through a real staged object, manifests
through the library's upload (against the emulator: no request may be sent), API bodies through
API Gateway. "Changes nothing" is checked on the cloud: no media, no multipart upload, no job that
is not failed with the reason.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
import requests

from tencent_emulator import mock_tencent
from tests.pipeline.harness import BUCKET, TOKEN, Deployed, deploy, media_bytes, open_uploads
from tests.reliability.report import REPORT
from vodflow import VodUploadClient, VodUploadRequest
from vodflow.errors import ManifestError, VodValidationError
from vodflow.pipeline.events import parse_cos_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
GOOD_EVENT = json.loads((FIXTURES / "cos-object-created.json").read_text())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    with mock_tencent(data_dir=tmp_path_factory.mktemp("corpus")) as cloud:
        yield deploy(cloud)


def assert_nothing_changed(app: Deployed) -> None:
    assert app.all_media() == []
    assert open_uploads(app) == []
    for job in app.jobs():
        failed = app.record(job["job_id"], "failed.json")
        assert failed is not None and failed["code"] and failed["message"], job["source"]["key"]


# -- events ---------------------------------------------------------------------------------------
def _event(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(GOOD_EVENT)
    record = event["Records"][0]
    for path, value in changes.items():
        target = record
        *parents, last = path.split("__")
        for p in parents:
            target = target[p]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return event


_DELETE = object()
APPID = GOOD_EVENT["Records"][0]["cos"]["cosBucket"]["appid"]
NAME = GOOD_EVENT["Records"][0]["cos"]["cosBucket"]["name"]
PFX = f"/{APPID}/{NAME}/"

BAD_RECORDS: list[tuple[str, dict[str, Any], str]] = [
    ("missing eventName", _event(event__eventName=_DELETE), "Records[0].event.eventName"),
    ("missing event", _event(event=_DELETE), "Records[0].event.eventName"),
    ("missing cos", _event(cos=_DELETE), "Records[0].cos.cosBucket.appid"),
    ("missing key", _event(cos__cosObject__key=_DELETE), "Records[0].cos.cosObject.key"),
    ("missing bucket name", _event(cos__cosBucket__name=_DELETE), "Records[0].cos.cosBucket.name"),
    ("eventName a number", _event(event__eventName=7), "Records[0].event.eventName"),
    ("key a list", _event(cos__cosObject__key=["a"]), "Records[0].cos.cosObject.key"),
    ("size a string", _event(cos__cosObject__size="big"), "Records[0].cos.cosObject.size"),
    ("size negative", _event(cos__cosObject__size=-1), "Records[0].cos.cosObject.size"),
    ("meta a list", _event(cos__cosObject__meta=["x"]), "Records[0].cos.cosObject.meta"),
    ("unknown event name", _event(event__eventName="cos:ObjectRemove:Delete"), "Records[0].event.eventName"),
    ("made-up event name", _event(event__eventName="s3:ObjectCreated:Put"), "Records[0].event.eventName"),
    ("bad % sequence, a folder", _event(cos__cosObject__key=PFX + "incoming/a%zz/"), "Records[0].cos.cosObject.key"),
    ("lone % and ..", _event(cos__cosObject__key=PFX + "incoming/100%/../x.mp4"), "Records[0].cos.cosObject.key"),
    ("% not UTF-8, a folder", _event(cos__cosObject__key=PFX + "incoming/%ff%fe/"), "Records[0].cos.cosObject.key"),
    ("..", _event(cos__cosObject__key=PFX + "incoming/../secret.mp4"), "Records[0].cos.cosObject.key"),
    ("encoded .. folder", _event(cos__cosObject__key=PFX + "incoming/%2e%2e/"), "Records[0].cos.cosObject.key"),
    ("NUL", _event(cos__cosObject__key=PFX + "incoming/a\x00.mp4"), "Records[0].cos.cosObject.key"),
    ("folder", _event(cos__cosObject__key=PFX + "incoming/"), "Records[0].cos.cosObject.key"),
    ("key over 850 bytes", _event(cos__cosObject__key=PFX + "incoming/" + "k" * 850), "Records[0].cos.cosObject.key"),
    ("encoded NUL and raw ..", _event(cos__cosObject__key=PFX + "incoming/../%00.mp4"), "Records[0].cos.cosObject.key"),
    ("other bucket prefix", _event(cos__cosObject__key="/1/other/incoming/a.mp4"), "Records[0].cos.cosObject.key"),
    ("record a string", {"Records": ["x"]}, "Records[0]"),
]
BAD_ENVELOPES: list[tuple[str, Any, str]] = [
    ("empty Records", {"Records": []}, "Records"),
    ("no Records", {}, "Records"),
    ("Records an object", {"Records": {"a": 1}}, "Records"),
    ("event a list", [1, 2], "event"),
    ("event a string", "hello", "event"),
    ("event null", None, "event"),
]


@pytest.mark.parametrize(("name", "event", "field"), BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_a_malformed_record_is_rejected_naming_the_field(app: Deployed, name: str, event: Any, field: str) -> None:
    [item] = parse_cos_event(event)
    assert getattr(item, "error", None) is not None, name
    assert item.error.field == field, item.error.message  # type: ignore[union-attr]
    assert field in item.error.message  # type: ignore[union-attr]
    record, _ = app.cloud.scf.invoke("vodflow-ingest", event)
    assert record.status == "ok", record.error
    [outcome] = record.result["records"]
    assert outcome["status"] == "rejected" and field in outcome["message"]
    assert_nothing_changed(app)
    REPORT.count("bad inputs: events")


@pytest.mark.parametrize(("name", "event", "field"), BAD_ENVELOPES, ids=[b[0] for b in BAD_ENVELOPES])
def test_a_malformed_envelope_is_refused_naming_the_field(app: Deployed, name: str, event: Any, field: str) -> None:
    with pytest.raises(VodValidationError) as err:
        parse_cos_event(event)
    assert err.value.field == field
    assert_nothing_changed(app)
    REPORT.count("bad inputs: events")


# -- metadata -------------------------------------------------------------------------------------
BAD_METADATA: list[tuple[str, dict[str, str], str]] = [
    ("ExpireTime not ISO 8601", {"vod-expire-time": "tomorrow"}, "x-cos-meta-vod-expire-time"),
    ("ExpireTime a date only", {"vod-expire-time": "2030-13-45"}, "x-cos-meta-vod-expire-time"),
    ("ExpireTime in the past", {"vod-expire-time": "2001-01-01T00:00:00Z"}, "x-cos-meta-vod-expire-time"),
    ("SourceContext over 250", {"vod-source-context": "s" * 251}, "x-cos-meta-vod-source-context"),
    ("unknown MediaType", {"vod-media-type": "exe"}, "x-cos-meta-vod-media-type"),
    ("negative SubAppId", {"vod-sub-app-id": "-5"}, "x-cos-meta-vod-sub-app-id"),
    ("non-numeric SubAppId", {"vod-sub-app-id": "abc"}, "x-cos-meta-vod-sub-app-id"),
    ("negative ClassId", {"vod-class-id": "-1"}, "x-cos-meta-vod-class-id"),
    ("non-numeric ClassId", {"vod-class-id": "1e3"}, "x-cos-meta-vod-class-id"),
    ("unknown option", {"vod-procedur": "x"}, "x-cos-meta-vod-procedur"),
    ("cover with ..", {"vod-cover": "../c.jpg"}, "x-cos-meta-vod-cover"),
    ("cover not an image", {"vod-cover": "c.exe"}, "x-cos-meta-vod-cover"),
    ("cover missing", {"vod-cover": "nowhere.jpg"}, "x-cos-meta-vod-cover"),
]


@pytest.mark.parametrize(("name", "meta", "field"), BAD_METADATA, ids=[b[0] for b in BAD_METADATA])
def test_invalid_metadata_fails_the_job_naming_the_field(
    app: Deployed, name: str, meta: dict[str, str], field: str
) -> None:
    key = f"incoming/meta/{abs(hash(name))}.mp4"
    app.stage(key, media_bytes(2000, seed=3), metadata={f"x-cos-meta-{k}": v for k, v in meta.items()})
    app.drain()
    [job] = [j for j in app.jobs() if j["source"]["key"] == key]
    failed = app.record(job["job_id"], "failed.json")
    assert failed is not None, f"{name}: the job was not refused"
    assert field in failed["message"], failed
    assert app.cloud.cos.head_object(BUCKET, key) is not None  # the user's object is left alone
    assert_nothing_changed(app)
    REPORT.count("bad inputs: metadata")


# -- manifests ------------------------------------------------------------------------------------
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet><Representation id="&lol3;">
<BaseURL>a.mp4</BaseURL></Representation></AdaptationSet></Period></MPD>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE MPD [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet><Representation id="v">
<BaseURL>&xxe;</BaseURL></Representation></AdaptationSet></Period></MPD>"""


def _hls(*refs: str) -> str:
    body = "".join(f"#EXTINF:4.0,\n{r}\n" for r in refs)
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n{body}#EXT-X-ENDLIST\n"


def _build(root: Path, name: str) -> Optional[Path]:
    """Write hostile package ``name`` under ``root``; returns its manifest."""
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / "ok.ts").write_bytes(b"x" * 188)
    if name == "billion-laughs":
        (pkg / "index.mpd").write_text(BILLION_LAUGHS)
        return pkg / "index.mpd"
    if name == "external-entity":
        (pkg / "index.mpd").write_text(EXTERNAL_ENTITY)
        return pkg / "index.mpd"
    refs = {
        "url": "https://evil.example.com/a.ts",
        "absolute path": "/etc/passwd",
        "dot-dot": "../outside.ts",
        "missing file": "nope.ts",
    }
    if name in refs:
        (root / "outside.ts").write_bytes(b"o")
        (pkg / "index.m3u8").write_text(_hls("ok.ts", refs[name]))
        return pkg / "index.m3u8"
    if name == "symlink out":
        (root / "secret.ts").write_bytes(b"s")
        os.symlink(root / "secret.ts", pkg / "link.ts")
        (pkg / "index.m3u8").write_text(_hls("ok.ts", "link.ts"))
        return pkg / "index.m3u8"
    if name == "includes itself":
        (pkg / "index.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n")
        return pkg / "index.m3u8"
    if name == "100,000 segments":
        (pkg / "index.m3u8").write_text(_hls(*(["ok.ts"] * 100_001)))
        return pkg / "index.m3u8"
    raise ValueError(name)


HOSTILE = [
    "billion-laughs",
    "external-entity",
    "url",
    "absolute path",
    "dot-dot",
    "missing file",
    "symlink out",
    "includes itself",
    "100,000 segments",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_manifest_is_refused_before_any_request(tmp_path: Path, name: str) -> None:
    manifest = _build(tmp_path, name)
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        client = VodUploadClient(cloud.secret_id, cloud.secret_key)
        request = VodUploadRequest()
        request.MediaFilePath = str(manifest)
        with pytest.raises(ManifestError) as err:
            client.upload(cloud.region, request)
        assert err.value.message, name
        assert "index." in err.value.message, err.value.message  # names the manifest
        assert [r.action for r in cloud.requests if r.service == "vod"] == [], "a request went out"
        assert cloud.vod.all_media() == []
    REPORT.count("bad inputs: manifests")


# -- API bodies -----------------------------------------------------------------------------------
BAD_BODIES: list[tuple[str, str, str, bytes, int, str]] = [
    ("not JSON", "POST", "/uploads", b"{filename: x}", 400, "InvalidParameter.Body"),
    ("JSON array", "POST", "/uploads", b"[1, 2]", 400, "InvalidParameter"),
    ("too large", "POST", "/uploads", b'{"filename": "' + b"a" * 70_000 + b'"}', 413, "BodyTooLarge"),
    ("size a string", "POST", "/uploads", b'{"filename": "a.mp4", "size": "10"}', 400, "size"),
    ("size negative", "POST", "/uploads", b'{"filename": "a.mp4", "size": -1}', 400, "size"),
    ("filename a number", "POST", "/uploads", b'{"filename": 5, "size": 10}', 400, "filename"),
    ("filename with /", "POST", "/uploads", b'{"filename": "../a.mp4", "size": 10}', 400, "filename"),
    ("expires_in huge", "POST", "/uploads", b'{"filename": "a.mp4", "size": 9, "expires_in": 10e9}', 400, "expires"),
    ("option wrong type", "POST", "/uploads", b'{"filename": "a.mp4", "size": 9, "options": 3}', 400, "options"),
    ("key missing", "POST", "/jobs", b"{}", 400, "key"),
    ("key a list", "POST", "/jobs", b'{"key": ["a"]}', 400, "key"),
    ("key with ..", "POST", "/jobs", b'{"key": "incoming/../x.mp4"}', 400, "key"),
    ("not UTF-8 (the function URL sends it base64: refused)", "POST", "/jobs", b'{"key": "\xff\xfe"}', 400, "body"),
    ("limit not a number", "GET", "/jobs?limit=many", b"", 400, "limit"),
    ("job id not an id", "GET", "/jobs/NOT-A-JOB", b"", 404, "job"),
    # issue 13, class 7: sizes COS cannot hold, hostile JSON, header-bound fields, options, upload routes
    ("size zero", "POST", "/uploads", b'{"filename": "a.mp4", "size": 0}', 400, "size"),
    ("size over 48.8 TiB", "POST", "/uploads", b'{"filename": "a.mp4", "size": 53687091200001}', 400, "size"),
    ("size 10^30", "POST", "/uploads", b'{"filename": "a.mp4", "size": 1000000000000000000000000000000}', 400, "size"),
    ("size 5000 digits", "POST", "/uploads", b'{"filename": "a.mp4", "size": ' + b"9" * 5000 + b"}", 400, "size"),
    ("size a float", "POST", "/uploads", b'{"filename": "a.mp4", "size": 10.5}', 400, "size"),
    ("size 1e400", "POST", "/uploads", b'{"filename": "a.mp4", "size": 1e400}', 400, "size"),
    ("size NaN", "POST", "/uploads", b'{"filename": "a.mp4", "size": NaN}', 400, "size"),
    ("size -Infinity", "POST", "/uploads", b'{"filename": "a.mp4", "size": -Infinity}', 400, "size"),
    ("size true", "POST", "/uploads", b'{"filename": "a.mp4", "size": true}', 400, "size"),
    ("size Arabic digits", "POST", "/uploads", '{"filename": "a.mp4", "size": \u0661\u0660}'.encode(), 400, "JSON"),
    ("size missing", "POST", "/uploads", b'{"filename": "a.mp4"}', 400, "size"),
    ("filename missing", "POST", "/uploads", b'{"size": 10}', 400, "filename"),
    ("filename empty", "POST", "/uploads", b'{"filename": "", "size": 10}', 400, "filename"),
    ("filename ..", "POST", "/uploads", b'{"filename": "..", "size": 10}', 400, "filename"),
    ("filename backslash", "POST", "/uploads", b'{"filename": "a\\\\b.mp4", "size": 10}', 400, "filename"),
    ("filename NUL", "POST", "/uploads", b'{"filename": "a\\u0000.mp4", "size": 10}', 400, "filename"),
    ("filename newline", "POST", "/uploads", b'{"filename": "a\\n.mp4", "size": 10}', 400, "filename"),
    ("filename DEL", "POST", "/uploads", b'{"filename": "a\\u007f.mp4", "size": 10}', 400, "filename"),
    ("filename lone surrogate", "POST", "/uploads", b'{"filename": "\\ud800.mp4", "size": 10}', 400, "filename"),
    ("filename 300 chars", "POST", "/uploads", b'{"filename": "' + b"a" * 300 + b'.mp4", "size": 10}', 400, "filename"),
    ("filename an object", "POST", "/uploads", b'{"filename": {"a": 1}, "size": 10}', 400, "filename"),
    (
        "expires_in too short",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "expires_in": 59}',
        400,
        "expires_in",
    ),
    (
        "expires_in over 7 days",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "expires_in": 604801}',
        400,
        "expires_in",
    ),
    (
        "expires_in a string",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "expires_in": "1h"}',
        400,
        "expires_in",
    ),
    (
        "content_type CRLF",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "content_type": "video/mp4\\r\\nX-A: 1"}',
        400,
        "content_type",
    ),
    (
        "content_type non-ASCII",
        "POST",
        "/uploads",
        '{"filename": "a.mp4", "size": 9, "content_type": "vidéo/mp4"}'.encode(),
        400,
        "content_type",
    ),
    (
        "content_type a number",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "content_type": 4}',
        400,
        "content_type",
    ),
    (
        "options a list",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": ["procedure"]}',
        400,
        "options",
    ),
    (
        "option a bool",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"class_id": true}}',
        400,
        "options.class_id",
    ),
    (
        "option an object",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"procedure": {}}}',
        400,
        "options.procedure",
    ),
    (
        "option lone surrogate",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"media_name": "\\udc00"}}',
        400,
        "options.media_name",
    ),
    (
        "option control character",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"procedure": "a\\u0001"}}',
        400,
        "options.procedure",
    ),
    (
        "option unknown",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"colour": "red"}}',
        400,
        "options.colour",
    ),
    (
        "sub_app_id zero",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"sub_app_id": 0}}',
        400,
        "sub-app-id",
    ),
    (
        "class_id negative",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"class_id": -1}}',
        400,
        "class-id",
    ),
    (
        "expire_time not ISO",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"expire_time": "tomorrow"}}',
        400,
        "expire-time",
    ),
    (
        "cover outside staging",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"cover": "private/x.png"}}',
        400,
        "vod-cover",
    ),
    (
        "cover in the job store",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"cover": ".vodflow/x.png"}}',
        400,
        "vod-cover",
    ),
    (
        "cover not an image",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"cover": "incoming/x.exe"}}',
        400,
        "vod-cover",
    ),
    (
        "source_context 251",
        "POST",
        "/uploads",
        b'{"filename": "a.mp4", "size": 9, "options": {"source_context": "' + b"x" * 251 + b'"}}',
        400,
        "source-context",
    ),
    ("nested 100 deep", "POST", "/uploads", b"[" * 100 + b"]" * 100, 400, "nests"),
    ("nested object 40 deep", "POST", "/uploads", b'{"a":' * 40 + b"1" + b"}" * 40, 400, "nests"),
    ("empty body", "POST", "/uploads", b"", 400, "filename"),
    ("JSON string", "POST", "/uploads", b'"a.mp4"', 400, "object"),
    ("key control character", "POST", "/jobs", b'{"key": "incoming/a\\u0002.mp4"}', 400, "key"),
    ("key lone surrogate", "POST", "/jobs", b'{"key": "incoming/\\ud800.mp4"}', 400, "key"),
    ("key absolute", "POST", "/jobs", b'{"key": "/incoming/a.mp4"}', 400, "key"),
    ("key a number", "POST", "/jobs", b'{"key": 7}', 400, "key"),
    ("limit Arabic digits", "GET", "/jobs?limit=%D9%A1%D9%A2", b"", 400, "limit"),
    ("limit 101", "GET", "/jobs?limit=101", b"", 400, "limit"),
    ("marker not ours", "GET", "/jobs?marker=elsewhere", b"", 400, "marker"),
    ("upload id unknown (GET)", "GET", "/uploads/" + "0" * 32, b"", 404, "upload"),
    ("upload id unknown (DELETE)", "DELETE", "/uploads/" + "0" * 32, b"", 404, "upload"),
    ("upload id not hex", "GET", "/uploads/NOT-AN-UPLOAD", b"", 404, "upload"),
    ("upload route wrong method", "PUT", "/uploads/" + "0" * 32, b"", 405, "method"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status", "needle"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_a_bad_api_request_gets_a_clear_error(
    app: Deployed, name: str, method: str, path: str, body: bytes, status: int, needle: str
) -> None:
    resp = requests.request(
        method,
        app.api_url + path,
        data=body or None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == status, (name, resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json")
    reply = resp.json()
    assert set(reply) >= {"code", "message", "request_id"}, reply
    assert needle.lower() in (reply["code"] + " " + reply["message"]).lower(), reply
    assert_nothing_changed(app)
    REPORT.count("bad inputs: API requests")
