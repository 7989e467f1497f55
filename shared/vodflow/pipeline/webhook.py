"""The optional webhook: every state change of a job (committed, processing, processed, processing_failed,
failed) POSTed as JSON, signed the Standard Webhooks way.

Format (https://www.standardwebhooks.com, so receivers verify with a stock library):

- ``webhook-id``: ``msg_<job id>_<state>``, the same on every attempt (receivers deduplicate on it);
- ``webhook-timestamp``: Unix seconds of the attempt (receivers refuse old ones: replays);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``. The key is
  ``VODFLOW_WEBHOOK_SECRET``: written ``whsec_<base64>`` it is the decoded bytes (the convention of
  the spec); any other value is used as its UTF-8 bytes (a receiver then configures
  ``"whsec_" + base64(secret)``).

The body: ``{"type": "job.<state>", "job_id", "state", "source": {...}}`` plus ``file_id``,
``media_url``, ``cover_url`` (committed and after), ``task_id`` (processing), ``results`` (processed:
the transcodes and other outputs), ``error: {task, definition, code, message}`` (processing_failed) or
``code``, ``message`` (failed). It never carries a key, a certificate, an imported URL's query string or
a signature of anything but itself.

States are announced in the order the job reached them: a state's webhook is sent once the one before
it is acknowledged (or given up), so a receiver sees ``committed`` before ``processing`` before
``processed``.

At least once, across invocations: the job joins the webhooks set (:mod:`followups`) before its
final record exists; every attempt is claimed as a create-once record
(``webhook/<state>-attempt-<n>.json``); a 2xx writes ``webhook/<state>.json`` and leaves the set.
Otherwise the sweeper tries again once the backoff has passed (1 min, doubling, at most 1 h) until
``VODFLOW_WEBHOOK_MAX_AGE_S`` after the first attempt, then writes
``webhook/<state>-undeliverable.json``. Two sweepers never send the same attempt (the claim); a
receiver may still see a delivery twice (an acknowledgement lost on the way back), hence the id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Optional

import requests

from vodflow.errors import VodClientException, VodServiceError
from vodflow.pipeline import followups, records
from vodflow.pipeline.states import JobState

FIRST_BACKOFF_S = 60
MAX_BACKOFF_S = 3600
SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret


def signing_key(secret: str) -> bytes:
    """The HMAC key: ``whsec_<base64>`` decoded (the Standard Webhooks convention), else the UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the whole string is the key
    return secret.encode("utf-8")


def sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"<id>.<timestamp>.<body>"``."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def message_id(job_id: str, state: str) -> str:
    return f"msg_{job_id}_{state}"


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: 1 min, doubling, capped at 1 h."""
    return float(min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** max(0, attempts - 1)))


def expect(job: Any) -> None:
    """Put the job in the webhooks set (before its final record is written). No-op without a URL."""
    if job.rt.config.webhook_url:
        followups.mark(job.store, records.WEBHOOKS_DIR, job.job_id)


# Which record marks each announced state (a job has reached a state when its record exists).
STATE_RECORDS = (
    (JobState.COMMITTED, records.RESULT),
    (JobState.PROCESSING, records.PROCESSING),
    (JobState.PROCESSED, records.PROCESSED),
    (JobState.PROCESSING_FAILED, records.PROCESSING_FAILED),
    (JobState.FAILED, records.FAILED),
)


def reached(listing: Any) -> list[JobState]:
    """The announced states the job has reached, in order."""
    return [state for state, rel in STATE_RECORDS if listing.has(rel)]


def payload(job: Any, state: JobState) -> dict[str, Any]:
    """The body: built from the job's records only, so every attempt sends the same bytes."""
    src = job.spec.source
    body: dict[str, Any] = {
        "type": f"job.{state.value}",
        "job_id": job.job_id,
        "state": state.value,
        "source": {"bucket": src.bucket, "key": src.key, "etag": src.etag, "size": src.size},
    }
    if state == JobState.FAILED:
        failed = job.read(records.FAILED) or {}
        body.update(code=failed.get("code"), message=failed.get("message"))
        return body
    result = job.read(records.RESULT) or {}
    body.update(file_id=result.get("file_id"), media_url=result.get("media_url"), cover_url=result.get("cover_url"))
    if state == JobState.PROCESSING:
        body["task_id"] = (job.read(records.PROCESSING) or {}).get("task_id")
    elif state == JobState.PROCESSED:
        body["results"] = (job.read(records.PROCESSED) or {}).get("results") or {}
    elif state == JobState.PROCESSING_FAILED:
        doc = job.read(records.PROCESSING_FAILED) or {}
        body["error"] = {k: doc.get(k) for k in ("task", "definition", "code", "message")}
    return body


def deliver(job: Any, now: Optional[float] = None) -> str:
    """Send the webhooks of the states the job reached, in order, as far as they are due; what happened.

    ``delivered`` / ``undeliverable`` (the last state settled by this call), ``done`` (every state was
    already settled: the job leaves the set), ``retry`` (not acknowledged: a later sweep tries again),
    ``not due`` (backing off), ``busy`` (another worker claimed this attempt), ``not final`` / ``off``.
    """
    cfg = job.rt.config
    if not cfg.webhook_url:
        return "off"
    states = reached(job.listing)
    if not states:
        return "not final"
    now = job.rt.clock() if now is None else now
    last = "done"
    for state in states:
        result = _deliver_state(job, state, now)
        if result not in ("done", "delivered", "undeliverable"):
            return result  # a later state waits until this one is settled: receivers see them in order
        if result != "done":
            last = result
    followups.clear(job.store, records.WEBHOOKS_DIR, job.job_id)
    # A state reached meanwhile (its writer marked the set before its record, and we just cleared it):
    # back into the set, so the sweeper still delivers it if its writer's own delivery does not go through.
    fresh = job.store.listing(job.job_id)
    if reached(fresh) != states:
        followups.mark(job.store, records.WEBHOOKS_DIR, job.job_id)
    return last


def _deliver_state(job: Any, state: JobState, now: float) -> str:
    """One state's webhook: ``done`` (settled before), ``delivered``, ``undeliverable``, ``retry``, ``not due``..."""
    cfg = job.rt.config
    listing = job.listing
    if listing.has(records.webhook_delivered(state.value)) or listing.has(records.webhook_undeliverable(state.value)):
        return "done"
    attempts = len(listing.under(records.webhook_attempt_prefix(state.value)))
    first_at = now
    if attempts:
        last = job.read(records.webhook_attempt(state.value, attempts)) or {}
        first_at = float(last.get("first_at", now))
        if now - first_at > cfg.webhook_max_age_s:
            doc = {"attempts": attempts, "first_at": first_at, "at": now, "last": last.get("answer")}
            job.store.create_once(job.job_id, records.webhook_undeliverable(state.value), doc)
            job.rt.log("webhook undeliverable", job.job_id, state=state.value, attempts=attempts)
            job.note(records.webhook_undeliverable(state.value))
            return "undeliverable"
        if now < float(last.get("at", now)) + backoff(attempts):
            return "not due"
    # The claim: two workers never send the same attempt (each attempt is one create-once record).
    claim = {"at": now, "first_at": first_at}
    if not job.store.create_once(job.job_id, records.webhook_attempt(state.value, attempts + 1), claim):
        return "busy"
    answer = _post(job, state)
    if answer.get("status") is not None and 200 <= int(answer["status"]) < 300:
        doc = {"status": answer["status"], "at": job.rt.clock(), "attempts": attempts + 1}
        job.store.create_once(job.job_id, records.webhook_delivered(state.value), doc)
        job.rt.log("webhook delivered", job.job_id, state=state.value, attempts=attempts + 1)
        job.note(records.webhook_delivered(state.value))
        return "delivered"
    job.rt.log("webhook not delivered; retried later", job.job_id, state=state.value, attempt=attempts + 1, **answer)
    return "retry"


def _post(job: Any, state: JobState) -> dict[str, Any]:
    """One delivery (with the in-call retries on 5xx, 429 and network errors): the status, or the error code."""
    cfg = job.rt.config
    body = json.dumps(payload(job, state), sort_keys=True, separators=(",", ":")).encode()
    msg_id = message_id(job.job_id, state.value)
    # The wall clock, not the runtime's: the receiver compares it with its own clock to refuse replays.
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": timestamp}
    if cfg.webhook_secret:
        headers["webhook-signature"] = sign(signing_key(cfg.webhook_secret), msg_id, timestamp, body)

    def post() -> int:
        try:
            resp = requests.post(cfg.webhook_url, data=body, headers=headers, timeout=10, allow_redirects=False)
        except requests.RequestException as exc:
            # Network failures are retried; the URL (it may carry a receiver's token) is never logged.
            raise VodServiceError(
                "ClientNetworkError", f"webhook unreachable ({type(exc).__name__})", service="webhook"
            ) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise VodServiceError(
                "ResourceUnavailable",
                f"webhook answered {resp.status_code}",
                service="webhook",
                http_status=resp.status_code,
            )
        return resp.status_code

    try:
        return {"status": job.rt.retry.call(post, service="webhook", action="POST")}
    except VodClientException as exc:
        return {"status": getattr(exc, "http_status", None), "code": exc.code}
