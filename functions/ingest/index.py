"""SCF function `ingest`: COS ObjectCreated on the staging bucket starts (or finds) the job of each record;
an AdvanceJob or StartStaged message (from the API or the sweeper) moves one job on."""

from typing import Any

from vodflow.pipeline.ingest import advance_job, ingest_event, start_staged
from vodflow.pipeline.messages import AdvanceJob, parse_ingest_message
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    message = parse_ingest_message(event)
    rt = Runtime.from_environment(context)
    if message is None:
        return {"records": ingest_event(rt, event)}
    if isinstance(message, AdvanceJob):
        return advance_job(rt, message)
    return start_staged(rt, message)
