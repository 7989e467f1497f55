"""VOD's events → jobs: the reliable-callback poller (PULL) and the HTTP callback check (PUSH).

Both hand each ``EventContent`` (as a dict) to :func:`handle_event`, which maps it to its job
(``FileId`` → job through the create-once fact written at commit; an import's ``PullComplete`` by its
``SessionId``, which is the job id) and records what it means (:mod:`processing`, :mod:`pull_import`).

PULL (``VODFLOW_EVENTS_MODE=pull``): the sweeper calls :func:`poll` on every pass. ``PullEvents``
long-polls (up to 5 s, at most 16 events); each event is recorded first and only then confirmed
(``ConfirmEvents``). An event whose recording failed is left unconfirmed: VOD hands it out again after
30 s. Recording is create-once and the outcome is decided once, so an event seen twice (a poller
killed between recording and confirming, two pollers overlapping past the 30 s window) changes
nothing the second time, and its notification goes out once per state.

PUSH (``VODFLOW_EVENTS_MODE=push``): VOD POSTs the event to ``/vod/events`` on the function URL with
``Sign = MD5(SignKey + T)`` and ``T`` (its expiry, Unix seconds); :func:`verify_push` refuses a wrong
sign or a past ``T``. A 5xx answer makes VOD retry, so a failed recording is answered 5xx.

Events for media vodflow did not ingest are acknowledged and ignored: counted and logged at debug.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional

from tencentcloud.vod.v20180717 import models as vod_models

from vodflow.errors import VodClientException, VodValidationError
from vodflow.pipeline import processing
from vodflow.pipeline.jobs import JobStore
from vodflow.pipeline.lifecycle import load_job
from vodflow.pipeline.messages import JOB_ID_RE
from vodflow.pipeline.pull_import import on_pull_complete
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.states import JobKind

CONFIRM_MAX = 16
PULL_TIMEOUT_S = 10  # PullEvents long-polls up to 5 s: the client waits longer
NO_EVENT_CODES = ("ResourceNotFound", "ResourceNotFound.NoEvent")  # an empty queue, as some regions answer


def handle_event(rt: Runtime, store: JobStore, event: Mapping[str, Any]) -> str:
    """Record what one event means for its job. ``foreign`` (not ours), ``ignored`` (a type we do not
    follow) or what was recorded. Raises when recording failed (the event must come back)."""
    kind = str(event.get("EventType") or "")
    if kind == "NewFileUpload":
        body = _member(event, "FileUploadEvent")
        job = processing.job_for_file(rt, store, str(body.get("FileId") or ""))
        return processing.on_new_file(job, body) if job is not None else "foreign"
    if kind == "ProcedureStateChanged":
        body = _member(event, "ProcedureStateChangeEvent")
        job = processing.job_for_file(rt, store, str(body.get("FileId") or ""))
        if job is None:
            job = _import_job(rt, store, body.get("SessionId"))
            if job is not None and not job.listing.has("result.json"):
                raise processing.NotYetRecorded(job.job_id)  # its PullComplete is recorded first
        return processing.on_procedure_state(job, body) if job is not None else "foreign"
    if kind == "PullComplete":
        body = _member(event, "PullCompleteEvent")
        job = _import_job(rt, store, body.get("SessionId"))
        return on_pull_complete(job, body) if job is not None else "foreign"
    return "ignored"


def _member(event: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = event.get(name)
    return value if isinstance(value, Mapping) else {}


def _import_job(rt: Runtime, store: JobStore, session_id: Any) -> Any:
    if not isinstance(session_id, str) or not JOB_ID_RE.match(session_id):
        return None
    job = load_job(rt, session_id, store)
    return job if job is not None and job.spec.kind == JobKind.IMPORT else None


def _describe(event: Mapping[str, Any]) -> dict[str, Any]:
    """What a log line may say about an event: its type and ids, never a URL or the metadata."""
    kind = str(event.get("EventType") or "")
    body = next((v for k, v in event.items() if k.endswith("Event") and isinstance(v, Mapping)), {})
    return {"event_type": kind, "file_id": body.get("FileId"), "task_id": body.get("TaskId")}


def record(rt: Runtime, store: JobStore, event: Mapping[str, Any], counts: dict[str, int]) -> bool:
    """Handle one event, counting the outcome; False if it must come back (left unconfirmed / 5xx)."""
    try:
        outcome = handle_event(rt, store, event)
    except VodClientException as exc:
        rt.log("event not recorded; it comes back", None, level=logging.WARNING, code=exc.code, **_describe(event))
        counts["events failed"] = counts.get("events failed", 0) + 1
        return False
    if outcome in ("foreign", "ignored"):
        rt.log(f"event {outcome}", None, level=logging.DEBUG, **_describe(event))
    else:
        rt.log("event recorded", None, outcome=outcome, **_describe(event))
    key = f"events {outcome}"
    counts[key] = counts.get(key, 0) + 1
    return True


def poll(
    rt: Runtime,
    budget_s: Optional[float] = None,
    *,
    before_confirm: Optional[Callable[[list[str]], None]] = None,
) -> dict[str, int]:
    """Pull, record, confirm, until the queue is empty or ``budget_s`` (wall time) is spent.

    ``before_confirm`` (tests): called with the handles about to be confirmed (a kill right there).
    """
    budget = rt.config.events_poll_s if budget_s is None else budget_s
    deadline = time.monotonic() + budget
    store = rt.store()
    vod = rt.vod()
    counts: dict[str, int] = {}
    while True:
        events = pull(rt, vod)
        if not events:
            return counts
        counts["events pulled"] = counts.get("events pulled", 0) + len(events)
        done = [str(e.get("EventHandle")) for e in events if record(rt, store, e, counts) and e.get("EventHandle")]
        if before_confirm is not None:
            before_confirm(done)
        confirm(rt, vod, done, counts)
        if time.monotonic() >= deadline:
            return counts


def pull(rt: Runtime, vod: Any) -> list[dict[str, Any]]:
    """One PullEvents: the events as dicts (empty when the queue is)."""
    req = vod_models.PullEventsRequest()
    if rt.config.sub_app_id:
        req.SubAppId = rt.config.sub_app_id

    def call() -> Any:
        return vod.PullEvents(req)

    try:
        resp = rt.retry.call(call, service="vod", action="PullEvents")
    except VodClientException as exc:
        if exc.code in NO_EVENT_CODES:
            return []
        raise
    out: list[dict[str, Any]] = []
    for ev in resp.EventSet or []:
        doc = json.loads(ev.to_json_string()) if hasattr(ev, "to_json_string") else dict(ev)
        out.append(doc)
    return out


def confirm(rt: Runtime, vod: Any, handles: list[str], counts: dict[str, int]) -> None:
    """ConfirmEvents, 16 handles a call. A handle past its 30 s window is refused: its event comes back and
    is recorded again (a no-op), so a refusal is counted, not raised."""
    for i in range(0, len(handles), CONFIRM_MAX):
        req = vod_models.ConfirmEventsRequest()
        req.EventHandles = handles[i : i + CONFIRM_MAX]
        if rt.config.sub_app_id:
            req.SubAppId = rt.config.sub_app_id

        def call(r: Any = req) -> Any:
            return vod.ConfirmEvents(r)

        try:
            rt.retry.call(call, service="vod", action="ConfirmEvents")
        except VodClientException as exc:
            if not exc.code.startswith("InvalidParameter"):
                raise
            rt.log("some event handles were refused; their events come back", None, code=exc.code)
            counts["events confirm refused"] = counts.get("events confirm refused", 0) + 1
            continue
        counts["events confirmed"] = counts.get("events confirmed", 0) + len(req.EventHandles)


# -- PUSH ---------------------------------------------------------------------------------------------
def expected_sign(sign_key: str, t: Any) -> str:
    return hashlib.md5(f"{sign_key}{t}".encode()).hexdigest()  # noqa: S324  (VOD's documented callback sign)


def verify_push(sign_key: Optional[str], body: Mapping[str, Any], query: Mapping[str, str], now: float) -> None:
    """Refuse a callback whose ``Sign`` is not MD5(SignKey + T) or whose ``T`` has passed.

    ``Sign`` and ``T`` are read from the JSON body (where the emulator puts them), else the query string.
    Raises VodValidationError with an AuthFailure code; never echoes the sign or the key.
    """
    if not sign_key:
        raise VodValidationError("AuthFailure.NoSignKey", "Sign", None, "VODFLOW_EVENTS_SIGN_KEY is not configured")
    sign = body.get("Sign", query.get("Sign"))
    t = body.get("T", query.get("T"))
    if not isinstance(sign, str) or t is None or not str(t).isdigit():
        raise VodValidationError("AuthFailure.Sign", "Sign", None, "the callback carries no Sign and T")
    if not hmac.compare_digest(sign.lower(), expected_sign(sign_key, str(t))):
        raise VodValidationError("AuthFailure.Sign", "Sign", None, "the callback's Sign is wrong")
    if int(str(t)) < now:
        raise VodValidationError("AuthFailure.SignExpired", "T", None, "the callback's T has passed")


def on_push(rt: Runtime, body: Mapping[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    """The PUSH route: verify, record; ``{"recorded": bool, "outcome"}``. Raises if it must come back."""
    verify_push(rt.config.events_sign_key, body, query, time.time())
    event = {k: v for k, v in body.items() if k not in ("Sign", "T")}
    counts: dict[str, int] = {}
    if not record(rt, rt.store(), event, counts):
        raise processing.NotYetRecorded("(event)")
    return {"outcome": next(iter(counts), "events recorded").removeprefix("events ")}
