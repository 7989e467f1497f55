"""A job's states and kinds: names shared by the records, the API and the logs."""

from __future__ import annotations

import enum


class JobState(str, enum.Enum):
    """Derived from which records exist (:func:`vodflow.pipeline.jobs.derive_state`), never stored."""

    PLANNED = "planned"
    WAITING = "waiting"
    COPYING = "copying"
    COMPLETING = "completing"
    COMMITTED = "committed"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (JobState.COMMITTED, JobState.FAILED)

    def __str__(self) -> str:
        return self.value


class JobKind(str, enum.Enum):
    INLINE = "inline"  # one streaming PUT by ingest
    MULTIPART = "multipart"  # parts copied by the part_copy fan-out
    PACKAGE = "package"  # an HLS/DASH folder: one file per copy task

    def __str__(self) -> str:
        return self.value


FINAL_STATES = frozenset({JobState.COMMITTED, JobState.FAILED})
