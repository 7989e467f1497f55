"""SCF function `ingest`: COS ObjectCreated on the staging bucket starts (or finds) the job of each record."""

from typing import Any

from vodflow.pipeline.ingest import advance_job, ingest_event, start_staged
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    rt = Runtime.from_environment(context)
    if isinstance(event, dict) and event.get("vodflow") == "advance":  # from the API or the sweeper
        return advance_job(rt, str(event.get("job_id", "")))
    if isinstance(event, dict) and event.get("vodflow") == "start":  # from the sweeper: a lost event
        return start_staged(rt, str(event.get("bucket", "")), str(event.get("key", "")))
    return {"records": ingest_event(rt, event)}
