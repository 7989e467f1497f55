"""SCF function `sweeper`. Timer: re-dispatch stalled parts, fail expired jobs, clean old job records."""

from typing import Any

from vodflow import handlers


def main_handler(event: Any, context: Any) -> Any:
    return handlers.sweeper(event, context)
