"""SCF function `finalize` (async): complete the multipart upload, verify CRC64, commit to VOD exactly once."""

from typing import Any

from vodflow.pipeline.finalize import finalize_job
from vodflow.pipeline.messages import FinalizeJob
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    message = FinalizeJob.parse(event)
    return finalize_job(
        Runtime.from_environment(context), message.job_id, message.generation, takeover=message.takeover
    )
