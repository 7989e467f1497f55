"""The events SCF hands to functions: COS trigger records and timer events.

Shapes: reference/events/cos-object-created.json and reference/tencent-scf.md §1 (COS),
reference/events/timer.json (timer). Key encoding and the other choices are in FIDELITY.md.
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from tencent_emulator.core.cloud import REGION_SHORT

KEY_SAFE = "/-_.~"


def encode_key(key: str, mode: str) -> str:
    """``quote``: percent-encode as COS URLs do (UTF-8, ``/`` kept); ``raw``: the key as stored."""
    if mode == "raw":
        return key
    if mode == "quote":
        return quote(key, safe=KEY_SAFE)
    raise ValueError(f"cos_key_encoding must be 'quote' or 'raw', not {mode!r}")


def cos_record(
    cos_event: Any,
    trigger_event_name: str,
    app_id: str,
    namespace: str,
    function_name: str,
    key_encoding: str,
) -> dict[str, Any]:
    """One ``Records[]`` entry for a COS event, as the trigger delivers it."""
    bucket: str = cos_event.bucket
    short_name = bucket[: -(len(app_id) + 1)] if bucket.endswith(f"-{app_id}") else bucket
    region: str = cos_event.region
    short_region = REGION_SHORT.get(region, region)
    key = encode_key(cos_event.key, key_encoding)
    meta: dict[str, str] = {
        "x-cos-request-id": base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:8]).decode(),
        "Content-Type": "",
    }
    for k, v in (cos_event.metadata or {}).items():
        if k.lower() == "content-type":
            meta["Content-Type"] = v or ""
        elif k.lower().startswith("x-cos-meta-"):
            meta[k.lower()] = v
    headers = {str(k).lower(): str(v) for k, v in (cos_event.request_headers or {}).items()}
    return {
        "cos": {
            "cosSchemaVersion": "1.0",
            "cosObject": {
                "url": f"http://{bucket}.cos.{region}.myqcloud.com/{key}",
                "meta": meta,
                # ⚠ The version id of a versioned bucket's object (scf-go-lib's sample has a non-empty vid whose
                # format does not look like x-cos-version-id); "" when the bucket never had versioning, as sampled.
                "vid": getattr(cos_event, "version_id", None) or "",
                "key": f"/{app_id}/{short_name}/{key}",
                "size": int(cos_event.size),
            },
            "cosBucket": {"region": short_region, "name": short_name, "appid": app_id},
            "cosNotificationId": "unkown",  # sic, as in the documented sample
        },
        "event": {
            "eventName": trigger_event_name,
            "eventVersion": "1.0",
            "eventTime": int(cos_event.time),
            "eventSource": "qcs::cos",
            "requestParameters": {
                "requestSourceIP": str(cos_event.source_ip or ""),
                "requestHeaders": {"Authorization": headers.get("authorization", "")},
            },
            "eventQueue": f"qcs:0:scf:{short_region}:appid/{app_id}:{namespace}.{function_name}.$LATEST",
            "reservedInfo": "",
            "reqid": random.randint(100_000_000, 999_999_999),
        },
    }


def timer_event(trigger_name: str, now: float, message: str) -> dict[str, Any]:
    """The timer trigger's event; ``Time`` is UTC with second precision."""
    when = datetime.fromtimestamp(int(now), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"Type": "Timer", "TriggerName": trigger_name, "Time": when, "Message": message}
