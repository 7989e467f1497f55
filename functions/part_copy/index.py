"""SCF function `part_copy` (async): copy one batch of parts from the staging object into VOD's storage."""

from typing import Any

from vodflow.pipeline.messages import CopyBatch
from vodflow.pipeline.part_copy import copy_batch
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    message = CopyBatch.parse(event)
    return copy_batch(Runtime.from_environment(context), message.job_id, message.generation, message.batch)
