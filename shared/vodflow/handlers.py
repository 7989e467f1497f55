"""Entry points of the SCF functions.

Each ``functions/<name>/index.py`` calls exactly one function here; the pipeline issue fills them.
Until then they fail loudly instead of pretending to work.
"""

from typing import Any


class NotBuiltError(RuntimeError):
    """Raised by a function whose pipeline step is not built yet."""


def _not_built(name: str) -> NotBuiltError:
    return NotBuiltError(f"the {name} function is not built yet (see the pipeline issue); nothing was done")


def ingest(event: Any, context: Any) -> Any:
    raise _not_built("ingest")


def part_copy(event: Any, context: Any) -> Any:
    raise _not_built("part_copy")


def finalize(event: Any, context: Any) -> Any:
    raise _not_built("finalize")


def sweeper(event: Any, context: Any) -> Any:
    raise _not_built("sweeper")


def api(event: Any, context: Any) -> Any:
    raise _not_built("api")
