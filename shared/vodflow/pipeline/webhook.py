"""The optional webhook: the job's result POSTed as JSON, signed with HMAC-SHA256.

Headers: ``X-Vodflow-Timestamp`` (Unix seconds) and ``X-Vodflow-Signature: sha256=<hex>`` over
``"<timestamp>.<body>"``, so a receiver can reject replays. Delivered at least once: the record
``webhook.json`` is written after a 2xx, so a retried finalize may deliver again; receivers
deduplicate on ``job_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import requests

from vodflow.errors import VodServiceError
from vodflow.pipeline import records


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def send_webhook(job: Any, result: dict[str, Any]) -> None:
    cfg = job.rt.config
    if not cfg.webhook_url or job.listing.has(records.WEBHOOK):
        return
    src = job.spec.source
    payload = {
        "job_id": job.job_id,
        "state": "committed",
        "file_id": result.get("file_id"),
        "media_url": result.get("media_url"),
        "cover_url": result.get("cover_url"),
        "source": {"bucket": src.bucket, "key": src.key, "etag": src.etag, "size": src.size},
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Vodflow-Timestamp": timestamp}
    if cfg.webhook_secret:
        headers["X-Vodflow-Signature"] = sign(cfg.webhook_secret, timestamp, body)

    def post() -> int:
        resp = requests.post(cfg.webhook_url, data=body, headers=headers, timeout=10)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise VodServiceError(
                "ResourceUnavailable",
                f"webhook answered {resp.status_code}",
                service="webhook",
                http_status=resp.status_code,
            )
        return resp.status_code

    try:
        status = job.rt.retry.call(post, service="webhook", action="POST")
    except VodServiceError as exc:
        # The media is committed; a webhook that stays down does not undo that. Logged, not raised.
        job.rt.log("webhook not delivered", job.job_id, code=exc.code)
        return
    job.store.create_once(job.job_id, records.WEBHOOK, {"status": status, "at": job.rt.clock()})
