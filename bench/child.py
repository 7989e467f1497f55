"""``python -m bench.child NAME ARGS_JSON``: run one contender in this fresh process, print its figures as JSON.

A process per run keeps each contender's CPU time and peak RSS its own (getrusage of the process),
away from the driver's and the server's.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

from bench.contenders import CONTENDERS, max_rss_bytes


def main(argv: Optional[list[str]] = None) -> int:
    name, raw_args = (argv if argv is not None else sys.argv[1:])[:2]
    args = json.loads(raw_args)
    with open(args.pop("info_file")) as f:
        info = json.load(f)
    before = os.times()
    result = CONTENDERS[name](info, **args)
    after = os.times()
    result["cpu_s"] = (after.user - before.user) + (after.system - before.system)
    result["max_rss"] = max_rss_bytes()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
