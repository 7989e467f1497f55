"""Sets of jobs the sweeper visits besides the active ones: work that outlives a job's end.

Each set is a folder of empty-ish markers under the state prefix (``<state prefix><set>/<job id>``),
like the active set:

- ``aborts/``: a multipart upload was (or is about to be) opened for the job and is not yet
  confirmed closed. Marked *before* InitiateMultipartUpload, cleared once every generation has its
  ``aborted`` (or ``abort-impossible``) record, so no opened upload escapes the sweeper.
- ``webhooks/``: the job's webhook is not yet acknowledged nor given up. Marked *before* the final
  record (``result.json``, ``failed.json``) is written, cleared once delivered or undeliverable.

Marking is a create-once PUT and clearing a DELETE: both safe to repeat, and a marker left by a
worker that died only costs the sweeper one look.
"""

from __future__ import annotations

from collections.abc import Iterator

from vodflow.pipeline.jobs import JobStore


def _key(store: JobStore, set_dir: str, job_id: str) -> str:
    return f"{store.prefix}{set_dir}{job_id}"


def mark(store: JobStore, set_dir: str, job_id: str) -> None:
    """Put the job in the set (create-once: repeating it costs one refused PUT)."""
    store.create_key_once(_key(store, set_dir, job_id), {"job_id": job_id, "at": store.clock()})


def clear(store: JobStore, set_dir: str, job_id: str) -> None:
    """Take the job out of the set (deleting a deleted key is a no-op: safe to repeat)."""
    key = _key(store, set_dir, job_id)

    def delete() -> None:
        store.cos.delete_object(Bucket=store.bucket, Key=key)

    store.retry.call(delete, service="cos", action="DeleteObject")


def members(store: JobStore, set_dir: str) -> Iterator[str]:
    """The job ids in the set (one LIST page per 1000)."""
    base = f"{store.prefix}{set_dir}"
    for key in store.list_keys(base):
        yield key[len(base) :]
