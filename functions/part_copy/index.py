"""SCF function `part_copy`. Async: copy one batch of parts from the staging object into VOD's storage."""

from typing import Any

from vodflow import handlers


def main_handler(event: Any, context: Any) -> Any:
    return handlers.part_copy(event, context)
