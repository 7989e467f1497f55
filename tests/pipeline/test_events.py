"""COS, API Gateway and timer events as the triggers deliver them, parsed into typed records."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from vodflow.errors import VodValidationError
from vodflow.pipeline.events import RecordError, StagedObject, parse_cos_event, parse_http_event, parse_timer_event

# Copies of the samples in Tencent's trigger documentation (see tests/fixtures/events/README.md).
REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def cos_event(key: str, *, appid: str = "1250000000", bucket: str = "staging", **event: Any) -> dict[str, Any]:
    record = {
        "cos": {
            "cosSchemaVersion": "1.0",
            "cosObject": {
                "url": f"http://{bucket}-{appid}.cos.ap-guangzhou.myqcloud.com/{key}",
                "meta": {"x-cos-request-id": "abc", "Content-Type": "video/mp4", "x-cos-meta-vod-procedure": "P"},
                "vid": "",
                "key": f"/{appid}/{bucket}/{key}",
                "size": 1029,
            },
            "cosBucket": {"region": "gz", "name": bucket, "appid": appid},
            "cosNotificationId": "unkown",
        },
        "event": {
            "eventName": "cos:ObjectCreated:Put",
            "eventVersion": "1.0",
            "eventTime": 1545205770,
            "eventSource": "qcs::cos",
            "requestParameters": {"requestSourceIP": "1.2.3.4", "requestHeaders": {"Authorization": "q-sign..."}},
            **event,
        },
    }
    return {"Records": [record]}


def test_the_documented_sample_event_parses() -> None:
    sample = json.loads((REFERENCE / "cos-object-created.json").read_text())
    [obj] = parse_cos_event(sample)
    assert obj == StagedObject(
        bucket="testpic-1253970026",
        key="testfile",
        raw_key="testfile",
        size=1029,
        event_name="cos:ObjectCreated:*",
        event_time=1545205770.0,
        metadata={
            "x-cos-request-id": "NWMxOWY4MGFfMjViMjU4NjRfMTUyMVxxxxxxxxx=",
            "Content-Type": "",
            "x-cos-meta-mykey": "myvalue",
        },
        candidates=("testfile",),
    )


def test_url_encoded_keys_with_spaces_and_non_ascii_are_decoded() -> None:
    [obj] = parse_cos_event(cos_event("incoming/my%20film%20%E8%A7%86%E9%A2%91.mp4"))
    assert isinstance(obj, StagedObject)
    assert obj.key == "incoming/my film 视频.mp4"
    assert obj.bucket == "staging-1250000000"


@pytest.mark.parametrize(
    ("raw", "candidates"),
    [
        ("incoming/a.mp4", ("incoming/a.mp4",)),
        ("incoming/100%.mp4", ("incoming/100%.mp4",)),  # no escape: only the raw spelling
        ("incoming/%FF%FE.mp4", ("incoming/%FF%FE.mp4",)),  # not UTF-8 once decoded: only raw
        ("incoming/a+b.mp4", ("incoming/a+b.mp4", "incoming/a b.mp4")),
        ("incoming/a%20b+c.mp4", ("incoming/a b+c.mp4", "incoming/a b c.mp4", "incoming/a%20b+c.mp4")),
        ("incoming/x%252B.mp4", ("incoming/x%2B.mp4", "incoming/x%252B.mp4")),
        ("incoming/%2E%2E/x.mp4", ("incoming/%2E%2E/x.mp4",)),  # decodes to '..': only the literal key
    ],
)
def test_an_event_key_names_every_key_its_spelling_may_mean(raw: str, candidates: tuple[str, ...]) -> None:
    [obj] = parse_cos_event(cos_event(raw))
    assert isinstance(obj, StagedObject)
    assert obj.candidates == candidates
    assert obj.key == candidates[0]


def test_a_batch_of_three_records_gives_three_objects_in_order() -> None:
    event = cos_event("incoming/a.mp4")
    for name in ("b", "c"):
        event["Records"].append(cos_event(f"incoming/{name}.mp4")["Records"][0])
    assert [o.key for o in parse_cos_event(event) if isinstance(o, StagedObject)] == [
        "incoming/a.mp4",
        "incoming/b.mp4",
        "incoming/c.mp4",
    ]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["cos"]["cosObject"].pop("key"), "Records[0].cos.cosObject.key"),
        (lambda r: r["cos"]["cosObject"].__setitem__("key", 42), "Records[0].cos.cosObject.key"),
        (lambda r: r["cos"]["cosObject"].__setitem__("key", "/999/other/x.mp4"), "Records[0].cos.cosObject.key"),
        (
            lambda r: r["cos"]["cosObject"].__setitem__("key", "/1250000000/staging/incoming/%2E%2E/"),
            "Records[0].cos.cosObject.key",
        ),
        (
            lambda r: r["cos"]["cosObject"].__setitem__("key", "/1250000000/staging/incoming/" + "a" * 850),
            "Records[0].cos.cosObject.key",
        ),
        (
            lambda r: r["cos"]["cosObject"].__setitem__("key", "/1250000000/staging/incoming/../x.mp4"),
            "Records[0].cos.cosObject.key",
        ),
        (lambda r: r["cos"]["cosObject"].__setitem__("size", "big"), "Records[0].cos.cosObject.size"),
        (lambda r: r["event"].__setitem__("eventName", "cos:ObjectRemove:Delete"), "Records[0].event.eventName"),
        (lambda r: r["cos"].pop("cosBucket"), "Records[0].cos.cosBucket.appid"),
    ],
)
def test_a_malformed_record_is_reported_with_its_field_and_the_others_still_parse(mutate: Any, field: str) -> None:
    event = cos_event("incoming/good.mp4")
    bad = copy.deepcopy(event["Records"][0])
    mutate(bad)
    event["Records"].insert(0, bad)
    first, second = parse_cos_event(event)
    assert isinstance(first, RecordError)
    assert first.error.field == field
    assert field in str(first.error)
    assert isinstance(second, StagedObject)


@pytest.mark.parametrize("event", [None, [], {"Records": []}, {"Records": "x"}, {"nothing": 1}])
def test_a_malformed_envelope_raises_a_clear_error(event: Any) -> None:
    with pytest.raises(VodValidationError) as info:
        parse_cos_event(event)
    assert info.value.field in ("event", "Records")


FUNCTION_URL_SAMPLE = {  # reference/http-entry-and-deploy.md §1, verbatim
    "body": '{"test":"hello world"}',
    "headers": {"accept": "*/*", "content-length": "17", "x-scf-remote-addr": "111.206.96.145"},
    "httpMethod": "POST",
    "path": "/",
    "queryString": {"a": "1", "b": "2"},
}


def test_function_url_event_from_the_reference() -> None:
    req = parse_http_event(FUNCTION_URL_SAMPLE)
    assert (req.method, req.path) == ("POST", "/")
    assert req.query == {"a": "1", "b": "2"}
    assert req.headers["content-length"] == "17"
    assert req.source_ip == "111.206.96.145"
    assert json.loads(req.body) == {"test": "hello world"}


def test_query_values_of_every_documented_type() -> None:
    """A string, a list for a repeated key, ``true`` for a key without ``=`` (tencent-scf.md §2.2)."""
    req = parse_http_event(
        {"httpMethod": "GET", "path": "/jobs", "queryString": {"a": "1", "b": ["2", "3"], "c": True}}
    )
    assert req.query == {"a": "1", "b": "3", "c": ""}


def test_apigw_event_from_the_reference_is_still_understood() -> None:
    sample = json.loads((REFERENCE / "apigw-request.json").read_text())
    req = parse_http_event(sample)
    assert req.method == "POST"
    assert req.path == "/test/value"
    assert req.request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert req.query == {"foo": "bar", "bob": "alice"}
    assert req.headers["accept-language"] == "en-US,en,cn"
    assert json.loads(req.body) == {"test": "body"}


def test_timer_event_from_the_reference() -> None:
    tick = parse_timer_event(json.loads((REFERENCE / "timer.json").read_text()))
    assert tick.trigger == "EveryDay"
    with pytest.raises(VodValidationError):
        parse_timer_event({"Type": "Cron"})
