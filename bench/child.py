"""``python -m bench.child NAME ARGS_JSON``: run one contender in this fresh process, print its figures as JSON.

A process per run keeps each contender's CPU time and peak RSS its own (getrusage of the process),
away from the driver's and the server's. Every contender's imports happen before the CPU clock starts
(``preimport``), as the pipeline's figures exclude what its cold starts spend importing: imports are
excluded from every contender alike.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

from bench.contenders import CONTENDERS, max_rss_bytes

PREIMPORT = (
    "requests",
    "qcloud_cos",
    "qcloud_cos.cos_auth",
    "qcloud_vod.vod_upload_client",
    "qcloud_vod.model",
    "tencentcloud.vod.v20180717.vod_client",
    "tencentcloud.vod.v20180717.models",
    "vodflow",
    "vodflow.flow",
    "vodflow.clients",
    "vodflow.sources",
)


def preimport() -> None:
    import importlib

    for name in PREIMPORT:
        importlib.import_module(name)


def main(argv: Optional[list[str]] = None) -> int:
    name, raw_args = (argv if argv is not None else sys.argv[1:])[:2]
    args = json.loads(raw_args)
    with open(args.pop("info_file")) as f:
        info = json.load(f)
    preimport()
    before = os.times()
    result = CONTENDERS[name](info, **args)
    after = os.times()
    result["cpu_s"] = (after.user - before.user) + (after.system - before.system)
    result["max_rss"] = max_rss_bytes()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
