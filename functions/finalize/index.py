"""SCF function `finalize`. Async: complete the multipart upload, verify CRC64, commit to VOD exactly once."""

from typing import Any

from vodflow import handlers


def main_handler(event: Any, context: Any) -> Any:
    return handlers.finalize(event, context)
