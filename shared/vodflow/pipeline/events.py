"""Trigger events parsed into typed records, with an error that names the field for anything malformed.

Sources: reference/tencent-scf.md §1 (COS trigger event), http-entry-and-deploy.md §1 (function URL) and
tencent-scf.md §2 (the API Gateway event it is compatible with), events/timer.json.
A COS event may carry several records; each becomes a :class:`StagedObject` or a
:class:`RecordError` so that one bad record never hides the good ones beside it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union
from urllib.parse import unquote, unquote_plus

from vodflow.errors import VodValidationError

BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAX_KEY_BYTES = 850  # COS object keys are 1 to 850 bytes (reference/tencent-scf.md §6.1)
CREATED_PREFIX = "cos:ObjectCreated:"


@dataclass(frozen=True)
class StagedObject:
    """An object that a COS event says was created in the staging bucket."""

    bucket: str  # name-appid
    key: str  # decoded object key, no leading slash
    raw_key: str  # as the event spelled it (after the /appid/bucket/ prefix)
    size: Optional[int]
    event_name: str
    event_time: Optional[float]
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Every key the event's spelling may name (the encoding is undocumented, reference §1.3), most likely
    # first: percent-decoded, then '+' read as a space, then the raw spelling. Ingest HEADs them in turn.
    candidates: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return self.candidates or (self.key,)


@dataclass(frozen=True)
class RecordError:
    """A record that could not be understood; ``index`` is its place in ``Records``."""

    index: int
    error: VodValidationError


def _field(record: Mapping[str, Any], path: str, kind: type, index: int) -> Any:
    """``record['a']['b']`` with an error naming ``Records[i].a.b`` if it is missing or of the wrong type."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise VodValidationError("InvalidParameter", f"Records[{index}].{path}", None, "missing")
        value = value[part]
    if kind is int and isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        kinds = kind if isinstance(kind, tuple) else (kind,)  # (str, int) for the appid
        expected = " or ".join(k.__name__ for k in kinds)
        raise VodValidationError("InvalidParameter", f"Records[{index}].{path}", value, f"expected {expected}")
    return value


def decode_key(raw: str, field_name: str) -> str:
    """URL-decode a key strictly: a ``%`` that starts no escape, or bytes that are not UTF-8, is an error."""
    if BAD_PERCENT.search(raw):
        raise VodValidationError("InvalidParameterValue", field_name, raw, "has a % that starts no %XX escape")
    try:
        key = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise VodValidationError("InvalidParameterValue", field_name, raw, "does not decode as UTF-8") from None
    return check_key(key, raw, field_name)


def check_key(key: str, raw: str, field_name: str) -> str:
    """An object key, not a folder, with no '.' or '..' segment and no NUL (the error names the raw spelling)."""
    if not key or key.endswith("/"):
        raise VodValidationError("InvalidParameterValue", field_name, raw, "names a folder, not an object")
    if any(part in ("..", ".") for part in key.split("/")) or "\x00" in key:
        raise VodValidationError("InvalidParameterValue", field_name, raw, "contains a '.' or '..' path segment")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise VodValidationError("InvalidParameterValue", field_name, raw, f"is over {MAX_KEY_BYTES} bytes")
    return key


def key_candidates(raw: str, field_name: str) -> tuple[str, ...]:
    """Every key an event's ``raw`` spelling may name, most likely first, each a valid object key.

    COS does not document whether trigger events percent-encode keys (reference/tencent-scf.md §1.3):
    ``a%20b.mp4`` may be the key ``a b.mp4`` (encoded) or the key ``a%20b.mp4`` (raw), and an old demo
    reads ``+`` as a space. Which one exists is asked of the bucket (ingest HEADs them in order); a
    spelling that decodes to nothing valid (``100%.mp4``, ``%2E%2E``) is simply not a candidate.
    """
    out: list[str] = []
    first_error: Optional[VodValidationError] = None
    spellings: list[str] = []
    if not BAD_PERCENT.search(raw):
        for decode in (unquote, unquote_plus):
            try:
                spellings.append(decode(raw, errors="strict"))
            except UnicodeDecodeError:
                pass
    spellings.append(raw)
    for key in spellings:
        if key in out:
            continue
        try:
            out.append(check_key(key, raw, field_name))
        except VodValidationError as exc:
            first_error = first_error or exc
    if not out:
        assert first_error is not None  # the raw spelling was checked last
        raise first_error
    return tuple(out)


def _parse_record(record: Any, index: int) -> StagedObject:
    if not isinstance(record, Mapping):
        raise VodValidationError("InvalidParameter", f"Records[{index}]", record, "expected an object")
    event_name = _field(record, "event.eventName", str, index)
    if not event_name.startswith(CREATED_PREFIX):
        raise VodValidationError(
            "InvalidParameterValue", f"Records[{index}].event.eventName", event_name, "not a cos:ObjectCreated event"
        )
    appid = str(_field(record, "cos.cosBucket.appid", (str, int), index))  # type: ignore[arg-type]
    name = _field(record, "cos.cosBucket.name", str, index)
    full_key = _field(record, "cos.cosObject.key", str, index)
    prefix = f"/{appid}/{name}/"
    if not full_key.startswith(prefix):
        raise VodValidationError(
            "InvalidParameterValue", f"Records[{index}].cos.cosObject.key", full_key, f"does not start with {prefix}"
        )
    raw_key = full_key[len(prefix) :]
    candidates = key_candidates(raw_key, f"Records[{index}].cos.cosObject.key")
    cos_object = record["cos"]["cosObject"]
    size = cos_object.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise VodValidationError("InvalidParameter", f"Records[{index}].cos.cosObject.size", size, "not a size")
    meta = cos_object.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise VodValidationError("InvalidParameter", f"Records[{index}].cos.cosObject.meta", meta, "expected object")
    event_time = record["event"].get("eventTime")
    return StagedObject(
        bucket=f"{name}-{appid}",
        key=candidates[0],
        raw_key=raw_key,
        size=size,
        event_name=event_name,
        event_time=float(event_time) if isinstance(event_time, (int, float)) else None,
        metadata={str(k): str(v) for k, v in meta.items()},
        candidates=candidates,
    )


def parse_cos_event(event: Any) -> list[Union[StagedObject, RecordError]]:
    """Every record of a COS trigger event, in order. A malformed envelope raises; a bad record is reported."""
    if not isinstance(event, Mapping):
        raise VodValidationError("InvalidParameter", "event", type(event).__name__, "expected a COS event object")
    records = event.get("Records")
    if not isinstance(records, list):
        raise VodValidationError("InvalidParameter", "Records", records, "expected a list of records")
    if not records:
        raise VodValidationError("InvalidParameter", "Records", records, "is empty")
    out: list[Union[StagedObject, RecordError]] = []
    for i, record in enumerate(records):
        try:
            out.append(_parse_record(record, i))
        except VodValidationError as exc:
            out.append(RecordError(i, exc))
    return out


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request from the function URL (or an old API Gateway event), reduced to what the API needs."""

    method: str
    path: str  # as requested, without an API Gateway stage prefix
    query: Mapping[str, str]  # the last value of a repeated key; "" for a key without a value
    headers: Mapping[str, str]  # lower-case names
    body: str
    request_id: str
    source_ip: str


def _is_true(value: Any) -> bool:
    """``isBase64Encoded`` arrives as a bool or as the string "true" (tencent-scf.md §2.2)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _query_value(value: Any) -> str:
    if isinstance(value, list):
        value = value[-1] if value else ""
    if value is True or value is None:  # a key without ``=``
        return ""
    return str(value)


def parse_http_event(event: Any) -> HttpRequest:
    """The function-URL event (``body``, ``headers`` lower-case, ``httpMethod``, ``path``, ``queryString``;
    reference/http-entry-and-deploy.md §1), or the API Gateway event it is compatible with (tencent-scf.md §2),
    whose stage prefix (``/release/...``) is removed when the gateway passed it through."""
    if not isinstance(event, Mapping):
        raise VodValidationError("InvalidParameter", "event", type(event).__name__, "expected an HTTP event")
    raw_ctx = event.get("requestContext")
    ctx: Mapping[str, Any] = raw_ctx if isinstance(raw_ctx, Mapping) else {}
    method = event.get("httpMethod")
    if not isinstance(method, str) or not method:
        raise VodValidationError("InvalidParameter", "httpMethod", method, "missing")
    raw_headers = event.get("headers")
    headers = raw_headers if isinstance(raw_headers, Mapping) else {}
    raw_query = event.get("queryString") or event.get("queryStringParameters")
    query = raw_query if isinstance(raw_query, Mapping) else {}
    body = event.get("body")
    body = body if isinstance(body, str) else ""
    if _is_true(event.get("isBase64Encoded")):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise VodValidationError("InvalidParameter", "body", None, "is not base64 of UTF-8 text") from None
    path = event.get("path")
    path = path if isinstance(path, str) and path.startswith("/") else "/"
    stage = ctx.get("stage")
    if isinstance(stage, str) and stage and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    return HttpRequest(
        method=method.upper(),
        path=path,
        query={str(k): _query_value(v) for k, v in query.items()},
        headers=lowered,
        body=body,
        request_id=str(ctx.get("requestId") or ""),
        source_ip=str(ctx.get("sourceIp") or lowered.get("x-scf-remote-addr") or ""),
    )


@dataclass(frozen=True)
class TimerTick:
    trigger: str
    time: str
    message: str


def parse_timer_event(event: Any) -> TimerTick:
    if not isinstance(event, Mapping) or event.get("Type") != "Timer":
        raise VodValidationError(
            "InvalidParameter",
            "Type",
            (event or {}).get("Type") if isinstance(event, Mapping) else event,
            "expected a Timer event",
        )
    return TimerTick(str(event.get("TriggerName", "")), str(event.get("Time", "")), str(event.get("Message", "")))
