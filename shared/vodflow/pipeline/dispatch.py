"""Fan-out: which batches of a job get a part_copy invocation now.

At most ``VODFLOW_MAX_FANOUT`` batches of a job are in flight (SCF concurrency is an account-wide
quota). Ingest starts the first ones; each part_copy that finishes its batch starts the next; the
sweeper re-dispatches batches whose invocation died (no progress for a lease).

A dispatch is claimed before it is invoked (its record is create-once), so part_copies finishing
at the same moment never start the same batch twice; an invoke that fails gives its claim back.
A worker killed between claim and invoke leaves a claimed batch with no invocation: the sweeper
dispatches it again when the lease runs out. Duplicates that still happen are harmless (part_copy
skips parts already copied); a batch is never lost.
"""

from __future__ import annotations

from typing import Union

from vodflow.logs import ContextThreadPool
from vodflow.pipeline import records
from vodflow.pipeline.lifecycle import Job
from vodflow.pipeline.messages import CopyBatch, FinalizeJob


def in_flight(job: Job, gen: int) -> int:
    """Dispatched batches that still miss parts."""
    dispatched = job.listing.dispatches(gen)
    if not dispatched:
        return 0  # nothing dispatched yet: no need to ask which parts are in (a ListParts)
    done = job.done(gen)
    return sum(1 for b in dispatched if any(n not in done for n in job.spec.batch_members(b)))


def dispatch_batch(job: Job, gen: int, batch: int, attempt: int) -> bool:
    """Claim the batch's dispatch, then invoke part_copy for it. False if another worker claimed it."""
    message = CopyBatch(job.job_id, gen, batch)
    return claim_and_invoke(job, records.dispatch(gen, batch, attempt), job.rt.config.part_copy_function, message)


def claim_and_invoke(job: Job, rel: str, function: str, message: Union[CopyBatch, FinalizeJob]) -> bool:
    """Invoke ``function`` once per claim record ``rel`` (create-once); the claim is given back if the invoke fails."""
    if not job.store.create_once(job.job_id, rel, {"at": job.rt.clock()}):
        return False
    try:
        job.rt.invoke(function, message.to_payload())
    except BaseException:
        job.store.delete(job.job_id, rel)
        raise
    job.note(rel)
    return True


DISPATCH_THREADS = 8  # claims and Invoke calls in flight at once: each is a round trip, not CPU


def dispatch_pending(job: Job, gen: int) -> int:
    """Dispatch never-dispatched batches up to the fan-out width; returns how many were started.

    The claims and invokes run on a few threads at once (each is a round trip): ingest starts 32 batches
    in about the time of four, instead of one after another while it holds a concurrency slot. Safe in
    parallel for the same reason as across invocations: each batch's claim is create-once, so two threads
    (or two invocations) never both invoke one batch, and a failed invoke gives its claim back.
    """
    dispatched = job.listing.dispatches(gen)
    room = job.rt.config.max_fanout - in_flight(job, gen)
    candidates = [b for b in range(job.spec.batch_count) if b not in dispatched]
    started = 0
    while started < room and candidates:
        wave, candidates = candidates[: room - started], candidates[room - started :]
        if len(wave) == 1:
            started += dispatch_batch(job, gen, wave[0], attempt=1)
            continue
        with ContextThreadPool(max_workers=min(DISPATCH_THREADS, len(wave)), thread_name_prefix="dispatch") as pool:
            claimed = list(pool.map(lambda batch: dispatch_batch(job, gen, batch, attempt=1), wave))
        for batch, ok in zip(wave, claimed):
            if ok:  # noted again from this thread: notes made side by side may have replaced each other
                job.note(records.dispatch(gen, batch, 1))
        started += sum(claimed)
    return started
