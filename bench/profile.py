"""``python -m bench.profile``: cProfile of one part copy (vodflow's part_copy step) and of the raw copy, same part.

Written to ``bench/profile_part_copy.txt`` and ``bench/profile_raw.txt`` (top functions by own time),
the evidence behind the notes on what bounds the pipeline's per-worker throughput and CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from bench.run import HERE, PY, ROOT, Mode, Server, child_env, make_source
from vodflow.planner import MiB


def profile_child(server: Server, name: str, args: dict[str, object], out: Path, title: str) -> None:
    stats_file = server.dir / f"{name}.prof"
    payload = json.dumps({"info_file": str(server.info_file), **args})
    cmd = [PY, "-m", "cProfile", "-o", str(stats_file), "-m", "bench.child", name, payload]
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    text = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=text)
    stats.sort_stats("tottime").print_stats(25)
    out.write_text(f"# {title}\n# figures: {json.dumps(figures)}\n" + machine_neutral(text.getvalue()))


def machine_neutral(text: str) -> str:
    """Profiles name files by absolute path: keep them relative (to the repo, site-packages or the stdlib)."""
    text = re.sub(r"\S*/site-packages/", "site-packages/", text)
    text = text.replace(str(ROOT) + "/", "")
    text = re.sub(r"\S*/lib/python3\.\d+/", "stdlib/", text)
    return re.sub(r"\S*/vodflow-profile-[^/\s]+/\S*", "<tmp>/profile.prof", text)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--part-mib", type=int, default=256)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vodflow-profile-"))
    server = Server(Mode("loopback", 0, 0), work, 8, {})
    try:
        part = args.part_mib * MiB
        source = make_source(work, part + MiB)
        key = "profile/source.mp4"
        server.post("/stage", {"key": key, "path": str(source)})
        profile_child(
            server,
            "part_copy_rss",
            {"key": key, "part_size": part},
            args.out / "profile_part_copy.txt",
            f"vodflow part_copy step (flow.copy_part), one {args.part_mib} MiB part, raw loopback",
        )
        server.post("/clear", {"keep": key})
        profile_child(
            server,
            "raw",
            {"key": key, "size": part, "part_size": part, "parallelism": 1, "inline": False},
            args.out / "profile_raw.txt",
            f"raw limit (requests), one {args.part_mib} MiB part, raw loopback",
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
