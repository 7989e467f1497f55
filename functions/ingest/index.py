"""SCF function `ingest`: COS ObjectCreated on the staging bucket starts (or finds) the job of each record."""

from typing import Any

from vodflow import handlers


def main_handler(event: Any, context: Any) -> Any:
    return handlers.ingest(event, context)
