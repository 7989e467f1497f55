"""A job's states and kinds: names shared by the records, the API and the logs."""

from __future__ import annotations

import enum


class JobState(str, enum.Enum):
    """Derived from which records exist (:func:`vodflow.pipeline.jobs.derive_state`), never stored.

    ``planned → (waiting) → copying → completing → committed`` (an import: ``planned → importing →
    committed``), then, for media with a Procedure whose events vodflow follows, ``processing →
    processed | processing_failed``. ``failed``: the ingest (or import) itself failed.
    """

    PLANNED = "planned"
    WAITING = "waiting"
    IMPORTING = "importing"
    COPYING = "copying"
    COMPLETING = "completing"
    COMMITTED = "committed"
    FAILED = "failed"
    PROCESSING = "processing"
    PROCESSED = "processed"
    PROCESSING_FAILED = "processing_failed"

    @property
    def final(self) -> bool:
        """The ingest is over (committed, or failed): no copy, commit or abort will happen any more.

        What follows a commit (VOD's task flow) only adds post-commit records; see :attr:`ended`.
        """
        return self in FINAL_STATES

    @property
    def ended(self) -> bool:
        """Nothing will change any more (a committed job without a Procedure is ended too: see
        :func:`vodflow.pipeline.processing.expects_processing`)."""
        return self in (JobState.FAILED, JobState.PROCESSED, JobState.PROCESSING_FAILED)

    def __str__(self) -> str:
        return self.value


class JobKind(str, enum.Enum):
    INLINE = "inline"  # one streaming PUT by ingest
    MULTIPART = "multipart"  # parts copied by the part_copy fan-out
    PACKAGE = "package"  # an HLS/DASH folder: one file per copy task
    IMPORT = "import"  # a URL VOD pulls itself (PullUpload): no byte passes through a function

    def __str__(self) -> str:
        return self.value


FINAL_STATES = frozenset(
    {JobState.COMMITTED, JobState.FAILED, JobState.PROCESSING, JobState.PROCESSED, JobState.PROCESSING_FAILED}
)
# The states a webhook announces, in the order a job reaches them.
NOTIFIED_STATES = (
    JobState.COMMITTED,
    JobState.PROCESSING,
    JobState.PROCESSED,
    JobState.PROCESSING_FAILED,
    JobState.FAILED,
)
