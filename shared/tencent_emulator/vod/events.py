"""VOD event notification: the per-(sub)application config, the PULL queue and PUSH delivery. No HTTP parsing here.

Sources (FIDELITY.md ## VOD, "Events"): tencentcloud-sdk-python ``vod/v20180717`` ``ModifyEventConfigRequest``,
``EventContent``, ``vod_client.PullEvents`` / ``ConfirmEvents`` docstrings; VOD doc 266/7830 (NewFileUpload sample).

- PULL ("reliable callback"): ``pull`` hands out at most 16 events, each with a fresh EventHandle; an event
  not confirmed within 30 s (emulator clock) becomes pullable again under a new handle; events are kept 4 days.
- PUSH ("HTTP callback"): the EventContent (without EventHandle, null members left out) is POSTed to the
  NotificationUrl, with ``Sign`` = MD5(SignKey + T) and ``T`` (decimal Unix expiry, 10 minutes ahead) added to
  the JSON body when a SignKey is set; a non-2xx answer or a connection error is retried with a backoff on the
  emulator clock.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

PULL_MAX = 16
CONFIRM_MAX = 16
CONFIRM_WINDOW_S = 30.0
RETENTION_S = 4 * 24 * 3600.0
SIGN_TTL_S = 600.0
# ⚠ Not documented: the retry schedule of a failed PUSH callback (seconds after each failure).
PUSH_BACKOFF_S = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
SIGN_KEY_MAX = 32
MODES = ("PUSH", "PULL")
SWITCHES = ("ON", "OFF")

# Which switch gates which event type (the others are always sent).
EVENT_SWITCHES = {"NewFileUpload": "upload", "FileDeleted": "delete", "PersistenceComplete": "persistence"}


@dataclass
class EventConfig:
    """What ModifyEventConfig sets for one (sub)application. ⚠ A fresh application answers PUSH with no URL."""

    mode: str = "PUSH"
    notification_url: str = ""
    upload: str = "OFF"
    delete: str = "OFF"
    persistence: str = "OFF"
    sign_key: str = ""

    def wants(self, event_type: str) -> bool:
        switch = EVENT_SWITCHES.get(event_type)
        return switch is None or getattr(self, switch) == "ON"


@dataclass
class QueuedEvent:
    """One event of a PULL queue."""

    event_id: str
    sub_app_id: int
    content: dict[str, Any]  # EventContent without EventHandle
    created: float
    handle: Optional[str] = None
    handed_out_at: Optional[float] = None
    deliveries: int = 0
    confirmed: bool = False

    def in_flight(self, now: float) -> bool:
        return self.handed_out_at is not None and now < self.handed_out_at + CONFIRM_WINDOW_S


@dataclass
class PushDelivery:
    """One event on its way to a NotificationUrl."""

    event_id: str
    sub_app_id: int
    content: dict[str, Any]
    created: float
    next_attempt: float
    attempts: int = 0
    delivered: bool = False
    given_up: bool = False
    history: list[tuple[float, int, str]] = field(default_factory=list)  # (clock time, HTTP status or 0, note)


class EventError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def sign(sign_key: str, t: int) -> str:
    """``Sign = MD5(SignKey + T)``, T as its decimal text (ModifyEventConfigRequest.SignKey docstring)."""
    return hashlib.md5(f"{sign_key}{t}".encode(), usedforsecurity=False).hexdigest()


def strip_nulls(value: Any) -> Any:
    """PUSH bodies leave out members whose value is null (doc 266/7830: "省略了值为 null 的字段")."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


class EventStore:
    """Config, PULL queues and PUSH outbox of every (sub)application; thread-safe."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.configs: dict[int, EventConfig] = {}
        self.queues: dict[int, list[QueuedEvent]] = {}
        self.outbox: list[PushDelivery] = []
        self.dropped: list[dict[str, Any]] = []  # events produced while no receiver was configured
        self._cond = threading.Condition(threading.RLock())

    # -- config ----------------------------------------------------------------------------
    def config(self, sub_app_id: int) -> EventConfig:
        with self._cond:
            return self.configs.setdefault(sub_app_id, EventConfig())

    def modify(
        self,
        sub_app_id: int,
        *,
        mode: Optional[str] = None,
        notification_url: Optional[str] = None,
        upload: Optional[str] = None,
        delete: Optional[str] = None,
        persistence: Optional[str] = None,
        sign_key: Optional[str] = None,
    ) -> EventConfig:
        """Change the given members only (absent = unchanged, as the API's optional parameters)."""
        if mode is not None and mode not in MODES:
            raise EventError("InvalidParameterValue", f"Mode must be PUSH or PULL, not `{mode}`.")
        for name, value in (
            ("UploadMediaCompleteEventSwitch", upload),
            ("DeleteMediaCompleteEventSwitch", delete),
            ("PersistenceCompleteEventSwitch", persistence),
        ):
            if value is not None and value not in SWITCHES:
                raise EventError("InvalidParameterValue", f"{name} must be ON or OFF, not `{value}`.")
        if sign_key is not None and (len(sign_key) > SIGN_KEY_MAX or not sign_key.isascii() or not sign_key.isalnum()):
            if sign_key != "":
                raise EventError("InvalidParameterValue", "SignKey is letters and digits, at most 32 characters.")
        if notification_url and not notification_url.lower().startswith(("http://", "https://")):
            raise EventError("InvalidParameterValue", "NotificationUrl must be an HTTP or HTTPS URL.")
        with self._cond:
            cfg = self.config(sub_app_id)
            if mode is not None:
                cfg.mode = mode
            if notification_url is not None:
                cfg.notification_url = notification_url
            if upload is not None:
                cfg.upload = upload
            if delete is not None:
                cfg.delete = delete
            if persistence is not None:
                cfg.persistence = persistence
            if sign_key is not None:
                cfg.sign_key = sign_key
            return cfg

    # -- producing -------------------------------------------------------------------------
    def emit(self, sub_app_id: int, content: dict[str, Any]) -> Optional[str]:
        """Route one EventContent (no EventHandle) by the sub-app's config; the event id, or None if not sent."""
        with self._cond:
            cfg = self.config(sub_app_id)
            if not cfg.wants(str(content.get("EventType"))):
                return None
            event_id = secrets.token_hex(12)
            now = self.now()
            if cfg.mode == "PULL":
                self.queues.setdefault(sub_app_id, []).append(QueuedEvent(event_id, sub_app_id, content, now))
                self._cond.notify_all()
            elif cfg.notification_url:
                self.outbox.append(PushDelivery(event_id, sub_app_id, content, now, next_attempt=now))
            else:
                self.dropped.append(content)
                return None
            return event_id

    # -- PULL ------------------------------------------------------------------------------
    def _expire(self, sub_app_id: int, now: float) -> list[QueuedEvent]:
        queue = self.queues.setdefault(sub_app_id, [])
        queue[:] = [e for e in queue if not e.confirmed and now < e.created + RETENTION_S]
        return queue

    def pull(self, sub_app_id: int, wait_s: float) -> list[dict[str, Any]]:
        """Up to 16 events not in flight, each under a new handle; waits (wall time) up to ``wait_s`` for one."""
        deadline = time.monotonic() + max(0.0, wait_s)
        with self._cond:
            while True:
                now = self.now()
                ready = [e for e in self._expire(sub_app_id, now) if not e.in_flight(now)]
                if ready:
                    out = []
                    for e in ready[:PULL_MAX]:
                        e.handle = f"{secrets.token_hex(16)}"
                        e.handed_out_at = now
                        e.deliveries += 1
                        out.append({"EventHandle": e.handle, **e.content})
                    return out
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                # Re-check every 0.1 s: the emulator clock may move (a confirm window ends) without a notify.
                self._cond.wait(min(left, 0.1))

    def confirm(self, sub_app_id: int, handles: list[str]) -> list[str]:
        """Confirm the current handles; the handles that are unknown, stale or past their 30 s window."""
        if len(handles) > CONFIRM_MAX:
            raise EventError("InvalidParameterValue", f"EventHandles has more than {CONFIRM_MAX} elements.")
        bad: list[str] = []
        with self._cond:
            now = self.now()
            by_handle = {e.handle: e for e in self.queues.get(sub_app_id, []) if e.handle}
            for h in handles:
                e = by_handle.get(h)
                if e is None or e.confirmed or not e.in_flight(now):
                    bad.append(h)
                    continue
                e.confirmed = True
            self._expire(sub_app_id, now)
        return bad

    def pending_count(self, sub_app_id: int) -> int:
        with self._cond:
            now = self.now()
            return sum(1 for e in self._expire(sub_app_id, now) if not e.in_flight(now))

    def queued(self, sub_app_id: int) -> list[QueuedEvent]:
        """Every unconfirmed, unexpired event of a queue (in flight or not), oldest first."""
        with self._cond:
            return list(self._expire(sub_app_id, self.now()))

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- PUSH ------------------------------------------------------------------------------
    def due_pushes(self) -> list[tuple[PushDelivery, EventConfig]]:
        with self._cond:
            now = self.now()
            self.outbox[:] = [d for d in self.outbox if not d.delivered and not d.given_up]
            out = []
            for d in self.outbox:
                if d.next_attempt > now:
                    continue
                if now >= d.created + RETENTION_S:
                    d.given_up = True
                    continue
                out.append((d, self.config(d.sub_app_id)))
            return out

    def push_body(self, d: PushDelivery, cfg: EventConfig) -> bytes:
        body = strip_nulls(dict(d.content))
        if cfg.sign_key:
            t = int(self.now() + SIGN_TTL_S)
            body["T"] = t
            body["Sign"] = sign(cfg.sign_key, t)
        return json.dumps(body, ensure_ascii=False).encode()

    def push_result(self, d: PushDelivery, status: int, note: str = "") -> None:
        with self._cond:
            now = self.now()
            d.attempts += 1
            d.history.append((now, status, note))
            if 200 <= status < 300:
                d.delivered = True
                return
            d.next_attempt = now + PUSH_BACKOFF_S[min(d.attempts - 1, len(PUSH_BACKOFF_S) - 1)]

    def next_due(self) -> Optional[float]:
        with self._cond:
            times = [d.next_attempt for d in self.outbox if not d.delivered and not d.given_up]
            return min(times) if times else None
