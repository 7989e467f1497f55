"""``python -m bench.pyspy``: a py-spy profile of every process of a benchmark run, summarized.

Runs ``py-spy record --subprocesses --format raw`` around ``python -m bench.run`` (by default one 1 GiB run of
the pipeline and the best plain copy under the network model), so the driver, the emulator server, every
warm function instance (ingest, part_copy, finalize) and every contender's child process are sampled, not
one thread of one process. The collapsed stacks are summarized per process kind (CPU samples, where the
samples are spent by own frame, and by the pipeline's phases) into ``bench/profile_pyspy.txt``; the raw
stacks stay in the work directory (``--keep`` copies them next to the summary).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

from bench.run import HERE, PY, ROOT, child_env

PROCESS = re.compile(r"^process (\d+):\"(.*?)\"$")


def kind_of(cmdline: str) -> str:
    if "child.py --serve" in cmdline or "child.py" in cmdline:
        text = cmdline  # a warm instance's command line ends with its handler file
        for name in ("ingest", "part_copy", "finalize", "sweeper", "api", "events"):
            if f"/{name}/" in text:
                return f"function {name}"
        return "function instance"
    if "bench.server" in cmdline:
        return "emulator server"
    if "bench.child" in cmdline:
        return "contender " + cmdline.split("bench.child", 1)[1].split(maxsplit=1)[0]
    if "bench.run" in cmdline:
        return "driver"
    return cmdline[:60]


def summarize(raw: Path, top: int = 12) -> str:
    own: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        frames = stack.split(";")
        kind = "unknown"
        match = PROCESS.match(frames[0])
        if match:
            kind = kind_of(match.group(2))
            frames = frames[1:]
        if frames and frames[0].startswith("thread "):
            frames = frames[1:]
        count = int(count_s)
        total[kind] += count
        leaf = frames[-1] if frames else "?"
        own[kind][re.sub(r" \(.*?/(site-packages|lib/python3\.\d+)/", " (", leaf)] += count
    lines = ["Samples per process kind (100 Hz, GIL-holding and running threads; idle threads excluded):", ""]
    grand = sum(total.values()) or 1
    for kind, n in total.most_common():
        lines.append(f"{n:8d}  {100 * n / grand:5.1f} %  {kind}")
    for kind, _ in total.most_common():
        lines += ["", f"== {kind}: top frames by own samples", ""]
        for frame, n in own[kind].most_common(top):
            lines.append(f"{n:8d}  {frame}")
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pyspy", description=__doc__)
    parser.add_argument("--sizes", default="1GiB")
    parser.add_argument("--contenders", default="pipeline,raw")
    parser.add_argument("--out", type=Path, default=HERE / "profile_pyspy.txt")
    parser.add_argument("--keep", action="store_true", help="also write the raw collapsed stacks next to the summary")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vodflow-pyspy-"))
    raw = work / "stacks.txt"
    py_spy = shutil.which("py-spy") or str(Path(PY).with_name("py-spy"))
    cmd = [
        py_spy,
        "record",
        "--subprocesses",
        "--format",
        "raw",
        "--rate",
        "100",
        "--output",
        str(raw),
        "--",
        PY,
        "-m",
        "bench.run",
        "--sizes",
        args.sizes,
        "--runs",
        "1",
        "--modes",
        "network",
        "--contenders",
        args.contenders,
        "--no-scaled",
        "--no-sweep",
        "--out",
        str(work / "out"),
        "--work",
        str(work / "scratch"),
    ]
    try:
        subprocess.run(cmd, cwd=ROOT, env=child_env(), check=True)
        header = f"py-spy record --subprocesses over: python -m bench.run --sizes {args.sizes} --runs 1 --modes network"
        args.out.write_text(header + f" --contenders {args.contenders}\n\n" + summarize(raw))
        if args.keep:
            shutil.copy(raw, args.out.with_suffix(".stacks.txt"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
