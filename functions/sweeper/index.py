"""SCF function `sweeper` (timer): re-dispatch stalled parts, fail expired jobs, clean old job records."""

from typing import Any

from vodflow.pipeline.events import parse_timer_event
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.sweeper import sweep


def main_handler(event: Any, context: Any) -> Any:
    tick = parse_timer_event(event)
    return {"trigger": tick.trigger, "actions": sweep(Runtime.from_environment(context))}
