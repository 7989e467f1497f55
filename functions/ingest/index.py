"""SCF function `ingest`: COS ObjectCreated on the staging bucket starts (or finds) the job of each record."""

from typing import Any

from vodflow.pipeline.ingest import advance_job, ingest_event
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    rt = Runtime.from_environment(context)
    if isinstance(event, dict) and event.get("vodflow") == "advance":  # from the API or the sweeper
        return advance_job(rt, str(event.get("job_id", "")))
    return {"records": ingest_event(rt, event)}
