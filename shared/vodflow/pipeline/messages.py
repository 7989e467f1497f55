"""The messages the functions send each other (async Invoke payloads), as typed classes.

Each message knows its wire form (:meth:`to_payload`, small JSON of ids only: never a key, a
certificate or a presigned URL, since payloads show in consoles and logs) and parses it back,
refusing anything malformed with an error that names the field. Receivers dispatch on the parsed
type, never on ad-hoc dict keys.

- :class:`AdvanceJob` → ingest: move a known job on (from the API after a start, the sweeper for a
  stalled job, a package file that landed late).
- :class:`StartStaged` → ingest: start the job of a staged object whose event was lost (sweeper).
- :class:`CopyBatch` → part_copy: copy one batch of a generation.
- :class:`FinalizeJob` → finalize: complete and commit a generation (``takeover``: the holder of a
  stale commit lock the sweeper saw, which the new finalize may replace).

A COS trigger event (``{"Records": [...]}``) is the other thing ingest receives; it is parsed by
:func:`vodflow.pipeline.events.parse_cos_event`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

from vodflow.errors import VodValidationError

KIND_FIELD = "vodflow"
JOB_ID_RE = re.compile(r"^[0-9a-f]{32}(-r\d+)?$")


def _object(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise VodValidationError("InvalidParameter", "payload", type(payload).__name__, "expected an object")
    return payload


def _job_id(payload: Mapping[str, Any]) -> str:
    value = payload.get("job_id")
    if not isinstance(value, str) or not JOB_ID_RE.match(value):
        raise VodValidationError("InvalidParameter", "job_id", value, "expected a job id (32 hex digits)")
    return value


def _count(payload: Mapping[str, Any], name: str, minimum: int, required: bool = True) -> Optional[int]:
    value = payload.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise VodValidationError("InvalidParameter", name, value, f"expected an integer >= {minimum}")
    return value


def _text(payload: Mapping[str, Any], name: str, required: bool = True) -> Optional[str]:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or "\x00" in value:
        raise VodValidationError("InvalidParameter", name, value, "expected a non-empty string")
    return value


@dataclass(frozen=True)
class AdvanceJob:
    job_id: str

    def to_payload(self) -> dict[str, Any]:
        return {KIND_FIELD: "advance", "job_id": self.job_id}

    @classmethod
    def parse(cls, payload: Any) -> AdvanceJob:
        return cls(_job_id(_object(payload)))


@dataclass(frozen=True)
class StartStaged:
    bucket: str
    key: str

    def to_payload(self) -> dict[str, Any]:
        return {KIND_FIELD: "start", "bucket": self.bucket, "key": self.key}

    @classmethod
    def parse(cls, payload: Any) -> StartStaged:
        body = _object(payload)
        return cls(str(_text(body, "bucket")), str(_text(body, "key")))


@dataclass(frozen=True)
class CopyBatch:
    job_id: str
    generation: int
    batch: int

    def to_payload(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "generation": self.generation, "batch": self.batch}

    @classmethod
    def parse(cls, payload: Any) -> CopyBatch:
        body = _object(payload)
        return cls(_job_id(body), int(_count(body, "generation", 1) or 0), int(_count(body, "batch", 0) or 0))


@dataclass(frozen=True)
class FinalizeJob:
    job_id: str
    generation: Optional[int] = None
    takeover: Optional[str] = None

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job_id": self.job_id}
        if self.generation is not None:
            out["generation"] = self.generation
        if self.takeover is not None:
            out["takeover"] = self.takeover
        return out

    @classmethod
    def parse(cls, payload: Any) -> FinalizeJob:
        body = _object(payload)
        return cls(_job_id(body), _count(body, "generation", 1, required=False), _text(body, "takeover", False))


INGEST_MESSAGES: dict[str, Any] = {"advance": AdvanceJob, "start": StartStaged}


def parse_ingest_message(event: Any) -> Union[AdvanceJob, StartStaged, None]:
    """A message to ingest, or None when the event is not one (a COS trigger event)."""
    if not isinstance(event, Mapping) or KIND_FIELD not in event:
        return None
    kind = event.get(KIND_FIELD)
    cls = INGEST_MESSAGES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise VodValidationError("InvalidParameter", KIND_FIELD, kind, f"not one of {sorted(INGEST_MESSAGES)}")
    message: Union[AdvanceJob, StartStaged] = cls.parse(event)
    return message
