"""The child side of subprocess mode: ``python child.py SPEC OUT`` runs one handler and writes its result.

Run as a script (not ``-m``) so it imports nothing of the emulator: the child is a bare function
instance with only its environment, like the real runtime. Only the standard library is used here,
so it runs on any Python 3 the function's ``Runtime`` names.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path


def main(spec_path: str, out_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    # The code root comes first, and this script's own folder (the emulator's scf package) not at all:
    # under ``python -I`` PYTHONPATH is ignored, and a user module must never shadow-import ours.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [spec["code_root"]] + [p for p in sys.path if p and Path(p).resolve() != Path(here)]
    try:
        mod_spec = importlib.util.spec_from_file_location("index", spec["handler_file"])
        if mod_spec is None or mod_spec.loader is None:
            raise ImportError(f"cannot load {spec['handler_file']}")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules["index"] = module
        mod_spec.loader.exec_module(module)
        result = getattr(module, spec["handler_func"])(spec["event"], spec["context"])
        reply = {"ok": True, "result": result}
        text = json.dumps(reply)
    except Exception:
        text = json.dumps({"ok": False, "stack": traceback.format_exc()})
    Path(out_path).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
