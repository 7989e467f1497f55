"""SCF function `api`. API Gateway: presigned uploads, job start and status."""

from typing import Any

from vodflow import handlers


def main_handler(event: Any, context: Any) -> Any:
    return handlers.api(event, context)
