"""SCF function `part_copy` (async): copy one batch of parts from the staging object into VOD's storage."""

from typing import Any

from vodflow.pipeline.part_copy import copy_batch, parse_payload
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    job_id, generation, batch = parse_payload(event)
    return copy_batch(Runtime.from_environment(context), job_id, generation, batch)
