"""Fan-out: which batches of a job get a part_copy invocation now.

At most ``VODFLOW_MAX_FANOUT`` batches of a job are in flight (SCF concurrency is an account-wide
quota). Ingest starts the first ones; each part_copy that finishes its batch starts the next; the
sweeper re-dispatches batches whose invocation died (no progress for a lease).

A batch is invoked first and recorded after: a retry may dispatch a batch twice (harmless:
part_copy skips parts already copied), but a batch is never lost.
"""

from __future__ import annotations

from vodflow.pipeline.lifecycle import Job


def in_flight(job: Job, gen: int) -> int:
    """Dispatched batches that still miss parts."""
    done = job.done(gen)
    return sum(1 for b in job.listing.dispatches(gen) if any(n not in done for n in job.spec.batch_members(b)))


def dispatch_batch(job: Job, gen: int, batch: int, attempt: int) -> None:
    job.rt.invoke(job.rt.config.part_copy_function, {"job_id": job.job_id, "generation": gen, "batch": batch})
    job.store.create_once(job.job_id, f"g{gen}/dispatch/{batch:05d}-{attempt:03d}.json", {"at": job.rt.clock()})


def dispatch_pending(job: Job, gen: int) -> int:
    """Dispatch never-dispatched batches up to the fan-out width; returns how many were started."""
    dispatched = job.listing.dispatches(gen)
    room = job.rt.config.max_fanout - in_flight(job, gen)
    started = 0
    for batch in range(job.spec.batch_count):
        if started >= room:
            break
        if batch in dispatched:
            continue
        dispatch_batch(job, gen, batch, attempt=1)
        started += 1
    if started:
        job.refresh()
    return started
