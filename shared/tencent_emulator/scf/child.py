"""The child side of subprocess mode: a function instance in its own ``python`` process.

Two ways to run it, both as a script (not ``-m``) so it imports nothing of the emulator: the child is a
bare function instance with only its environment, like the real runtime. Only the standard library is
used here, so it runs on any Python 3 the function's ``Runtime`` names.

- ``python child.py SPEC OUT``: one invocation (a cold start every time), its result written to ``OUT``.
- ``python child.py --serve SPEC``: a warm instance. It imports the handler module once (the cold start),
  then serves invocations one after another: each is a JSON line on stdin (event, context, the
  invocation's environment, the file its log goes to), each reply a JSON line on the original stdout.
  The handler's own prints go to the invocation's log file (fd 1 and 2 are pointed at it). End of stdin
  ends the instance; a ``BaseException`` out of the handler (``SystemExit``...) ends the process as it
  would end a real instance, and the parent reports that invocation as a crash.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable


def _prepare_path(code_root: str) -> None:
    # The code root comes first, and this script's own folder (the emulator's scf package) not at all:
    # under ``python -I`` PYTHONPATH is ignored, and a user module must never shadow-import ours.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [code_root] + [p for p in sys.path if p and Path(p).resolve() != Path(here)]


def _load(handler_file: str) -> ModuleType:
    mod_spec = importlib.util.spec_from_file_location("index", handler_file)
    if mod_spec is None or mod_spec.loader is None:
        raise ImportError(f"cannot load {handler_file}")
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules["index"] = module
    mod_spec.loader.exec_module(module)
    return module


def main(spec_path: str, out_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    _prepare_path(spec["code_root"])
    try:
        module = _load(spec["handler_file"])
        result = getattr(module, spec["handler_func"])(spec["event"], spec["context"])
        reply = {"ok": True, "result": result}
        text = json.dumps(reply)
    except Exception:
        text = json.dumps({"ok": False, "stack": traceback.format_exc()})
    Path(out_path).write_text(text)
    return 0


def serve(spec_path: str) -> int:
    """A warm instance: import once, then one invocation per stdin line until stdin ends."""
    spec = json.loads(Path(spec_path).read_text())
    _prepare_path(spec["code_root"])
    replies = os.fdopen(os.dup(1), "w", buffering=1)  # the parent's pipe; fd 1 becomes each invocation's log
    func: Callable[[Any, Any], Any]
    try:
        func = getattr(_load(spec["handler_file"]), spec["handler_func"])
        init_error = ""
    except Exception:
        init_error = traceback.format_exc()
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        call = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        log_fd = os.open(call["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        # The invocation's environment replaces the last one's (renewed role keys, same variables).
        os.environ.clear()
        os.environ.update(call["env"])
        if init_error:
            text = json.dumps({"ok": False, "stack": init_error, "retire": True})
        else:
            try:
                text = json.dumps({"ok": True, "result": func(call["event"], call["context"])})
            except Exception:
                text = json.dumps({"ok": False, "stack": traceback.format_exc()})
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(text + "\n")
        if init_error:
            return 0  # an instance whose code failed to load is not kept: the next invocation starts afresh
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        sys.exit(serve(sys.argv[2]))
    sys.exit(main(sys.argv[1], sys.argv[2]))
