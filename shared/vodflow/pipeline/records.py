"""Where every job record lives: the one place that names the paths of the job store.

Relative to a job's folder (``<state prefix>jobs/<job id>/``, see :mod:`vodflow.pipeline.jobs`):
job facts (``job.json``, ``commit.lock``, ``result.json``...) and per-generation facts
(``g<N>/session.json``, ``g<N>/parts/<n>.json``...). Relative to the state prefix: the index,
the active set and the package pointers. A record's name is part of the protocol between the
functions: change it here or nowhere.
"""

from __future__ import annotations

from typing import Optional

# -- per job -----------------------------------------------------------------------------------
JOB = "job.json"  # what to ingest (the JobSpec), create-once by the first ingest
COMMIT_LOCK = "commit.lock"  # the one finalize (or failer) allowed to end the job
RESULT = "result.json"  # FileId, MediaUrl, CoverUrl once committed
FAILED = "failed.json"  # code and message once failed
STAGING = "staging.json"  # the staging policy applied after the commit
WEBHOOK_DIR = "webhook/"  # one job's webhook deliveries, per final state
WAITING = "waiting.json"  # a package waiting for files staged after its index
PACKAGE = "package.json"  # a package's resolved file list
# -- after the commit (VOD's task flow, followed through its events; see vodflow.pipeline.processing) --
PULL = "pull.json"  # an import's PullUpload TaskId (the URL itself is never recorded: see pull_import)
PROCESSING = "processing.json"  # the Procedure's task started (ProcedureTaskId), create-once
PROCESSING_END = "processing-end.lock"  # the one outcome (processed or processing_failed) allowed
PROCESSED = "processed.json"  # the Procedure finished: its results (transcodes, snapshots...)
PROCESSING_FAILED = "processing-failed.json"  # the failing task's type, code and message


def session(gen: int) -> str:
    """The VOD session (ApplyUpload reply, certificate included) of generation ``gen``."""
    return f"g{gen}/session.json"


def upload(gen: int) -> str:
    """The multipart UploadId of generation ``gen``."""
    return f"g{gen}/upload.json"


def parts_prefix(gen: int) -> str:
    return f"g{gen}/parts/"


def part(gen: int, number: int) -> str:
    """One copied part (1-based): number, size, ETag, CRC64."""
    return f"{parts_prefix(gen)}{number:05d}.json"


def files_prefix(gen: int) -> str:
    return f"g{gen}/files/"


def file(gen: int, index: int) -> str:
    """One copied file (0-based): the inline object, or a package file."""
    return f"{files_prefix(gen)}{index:05d}.json"


def dispatch_prefix(gen: int) -> str:
    return f"g{gen}/dispatch/"


def dispatch(gen: int, batch: int, attempt: int) -> str:
    """Batch ``batch`` dispatched for the ``attempt``-th time (the sweeper's lease)."""
    return f"{dispatch_prefix(gen)}{batch:05d}-{attempt:03d}.json"


def parse_dispatch(name: str) -> Optional[tuple[int, int]]:
    """(batch, attempt) of a name under :func:`dispatch_prefix`, None for anything else."""
    batch, _, attempt = name.removesuffix(".json").partition("-")
    return (int(batch), int(attempt)) if batch.isdigit() and attempt.isdigit() else None


def finalize_claim(gen: int) -> str:
    """The part_copy that saw the last part land claims starting finalize once."""
    return f"g{gen}/finalize.json"


def restart(gen: int) -> str:
    """Why generation ``gen`` replaced the one before (certificate expiring)."""
    return f"g{gen}/restart.json"


def aborted(gen: int) -> str:
    """Every multipart upload of generation ``gen`` confirmed closed (aborted, or completed before)."""
    return f"g{gen}/aborted.json"


def abort_impossible(gen: int) -> str:
    """Generation ``gen``'s uploads can no longer be aborted (its certificate or session is gone): why."""
    return f"g{gen}/abort-impossible.json"


def webhook_delivered(state: str) -> str:
    """The webhook of final state ``state`` acknowledged (2xx) by the receiver."""
    return f"{WEBHOOK_DIR}{state}.json"


def webhook_attempt(state: str, attempt: int) -> str:
    """The ``attempt``-th delivery of ``state``'s webhook, claimed before it is sent (1-based)."""
    return f"{WEBHOOK_DIR}{state}-attempt-{attempt:03d}.json"


def webhook_attempt_prefix(state: str) -> str:
    return f"{WEBHOOK_DIR}{state}-attempt-"


def webhook_undeliverable(state: str) -> str:
    """``state``'s webhook given up after the maximum age: the attempts made and the last answer."""
    return f"{WEBHOOK_DIR}{state}-undeliverable.json"


def cover(gen: int) -> str:
    """The cover copied into generation ``gen``'s session."""
    return f"g{gen}/cover.json"


# -- per store (relative to the state prefix) --------------------------------------------------
JOBS_DIR = "jobs/"
INDEX_DIR = "index/"
ACTIVE_DIR = "active/"
PACKAGES_DIR = "packages/"
UPLOADS_DIR = "uploads/"  # POST /uploads grants: what the API issued for each upload id


def upload_grant(upload_id: str) -> str:
    """What ``POST /uploads`` issued for one upload (key, signed options, part plan), create-once."""
    return f"{UPLOADS_DIR}{upload_id}.json"


def upload_cancelled(upload_id: str) -> str:
    """``DELETE /uploads/{id}`` was called: the upload is aborted, its object gets no options applied."""
    return f"{UPLOADS_DIR}{upload_id}.cancelled.json"


ABORTS_DIR = "aborts/"  # jobs with a multipart upload not yet confirmed closed (the sweeper visits them)
PROCESSING_DIR = "processing/"  # committed jobs whose Procedure has not ended (the sweeper's deadline)
IMPORTS_DIR = "imports/"  # imports not yet committed or failed (the sweeper asks DescribeTaskDetail)
FILES_DIR = "files/"  # FileId → job: a create-once fact written at commit (VOD's events name FileIds)


def file_job(file_id: str) -> str:
    """Which job committed media ``file_id`` (relative to the state prefix)."""
    return f"{FILES_DIR}{file_id}.json"


WEBHOOKS_DIR = "webhooks/"  # jobs with a webhook not yet acknowledged nor given up (the sweeper redelivers)
