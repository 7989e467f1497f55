"""SCF function `finalize` (async): complete the multipart upload, verify CRC64, commit to VOD exactly once."""

from typing import Any

from vodflow.pipeline.finalize import finalize_job, parse_payload
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    job_id, generation, takeover = parse_payload(event)
    return finalize_job(Runtime.from_environment(context), job_id, generation, takeover=takeover)
