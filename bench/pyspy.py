"""``python -m bench.pyspy``: a py-spy profile of every process of a benchmark run, summarized.

Runs ``py-spy record --subprocesses --format raw`` on ``python -m bench.run`` (by default one 1 GiB run of
the pipeline and the best plain copy under the network model), so the driver, the emulator server, every
warm function instance (ingest, part_copy, finalize) and every contender's child process are sampled, not
one thread of one process. The collapsed stacks are summarized per process kind (samples, processes, where the
samples are spent by own frame and by the innermost frame of the project's code) into
``bench/profile_pyspy.txt``; the raw stacks stay in the work directory (``--keep`` copies them next to the
summary).

The raw format with ``--subprocesses`` (py-spy 0.4): one sample per record, ``FRAMES COUNT``, where FRAMES are
``;``-separated and begin with the chain of processes from the recorded command down to the sampled one, each as
``process PID:"COMMAND LINE"``, then the sampled thread's Python frames, outermost first::

    process 101:"python -m bench.run ...";process 102:"python -m bench.server ...";serve_forever (socketserver.py:235) 7

The sampled process is the chain's *last* (the old parser took the first, the recorded command, which py-spy
shows with an empty command line when it started the command itself, so every sample fell in one nameless kind).
A command line keeps its quotes, semicolons and newlines as they are (``bench.child``'s JSON argument has quotes;
a ``python -c`` script has newlines, so a record can span lines).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench.run import HERE, PY, ROOT, child_env

ROOT_PROCESS = re.compile(r'process \d+:"')
# One process frame at the start of what is left of a record. Its command line ends at the first quote that is
# followed by another process frame, by a Python frame (``name (file:line)``) or by nothing.
PROCESS = re.compile(r'process (\d+):"(.*?)"(?=;process \d+:"|;[^;]*? \([^;]*\)(?:;|$)|$)', re.S)
FUNCTIONS = ("ingest", "part_copy", "finalize", "sweeper", "api", "events")
# The project's own code as py-spy names files (the package part of the path): the emulator, the library and
# its pipeline, the bench, and the deployed functions' handler files.
PROJECT = re.compile(rf"\((tencent_emulator|vodflow|vodflow_ops|bench|functions|{'|'.join(FUNCTIONS)})/")


@dataclass(frozen=True)
class Sample:
    chain: tuple[tuple[int, str], ...]  # (pid, command line), from the recorded command down to the sampled process
    frames: tuple[str, ...]  # outermost first
    count: int


def kind_of(cmdline: str) -> str:
    """What a process is, from its command line."""
    if "child.py" in cmdline and "bench.child" not in cmdline:
        # An emulator function instance: ``scf/child.py --serve SPEC HANDLER_FILE`` (warm) names its handler
        # file, whose folder is the function; ``child.py SPEC OUT`` (one-shot) does not.
        for name in FUNCTIONS:
            if f"/{name}/" in cmdline:
                return f"function {name}"
        return "function instance"
    if "bench.server" in cmdline:
        return "emulator server"
    if "bench.child" in cmdline:
        rest = cmdline.split("bench.child", 1)[1].split(maxsplit=1)
        return "contender " + (rest[0] if rest else "?")
    if "bench.run" in cmdline:
        return "driver"
    if " -m vodflow " in f"{cmdline} ":
        return "vodflow CLI"
    return "other: " + " ".join(cmdline.split())[:80].rstrip()


def records(text: str) -> Iterator[str]:
    """Whole records of py-spy's raw output. With ``--subprocesses`` every record starts with the recorded
    command's process frame, so a line that does not is the rest of a command line with a newline in it."""
    first = ROOT_PROCESS.match(text)
    if first is None:  # no process frames: one record a line
        yield from (line for line in text.splitlines() if line)
        return
    start = first.group(0)
    record: list[str] = []
    for line in text.splitlines():
        if line.startswith(start) and record:
            yield "\n".join(record)
            record = []
        record.append(line)
    if record:
        yield "\n".join(record)


def parse(text: str) -> Iterator[Sample]:
    for record in records(text):
        stack, _, count_s = record.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        chain: list[tuple[int, str]] = []
        rest = stack
        while match := PROCESS.match(rest):
            chain.append((int(match.group(1)), match.group(2)))
            rest = rest[match.end() :].removeprefix(";")
        frames = tuple(f for f in rest.split(";") if f) if rest else ()
        if frames and frames[0].startswith("thread "):  # ``--threads``
            frames = frames[1:]
        yield Sample(tuple(chain), frames, int(count_s))


def sample_kind(chain: tuple[tuple[int, str], ...], root: str) -> str:
    if not chain:
        return root
    if len(chain) == 1 and not chain[0][1].strip():
        return root  # the recorded command: py-spy shows it with an empty command line
    return kind_of(chain[-1][1])


def _short(frame: str) -> str:
    return re.sub(r" \(.*?/(site-packages|lib/python3\.\d+)/", " (", frame)


def summarize(raw: Path, top: int = 12, root: str = "driver") -> str:
    """Samples per process kind (with how many processes), then each kind's top frames: by own samples (the
    leaf frame) and by the innermost frame of the project's code (who called into the library that spent them)."""
    return summarize_text(raw.read_text(errors="replace"), top, root)


def summarize_text(text: str, top: int = 12, root: str = "driver") -> str:
    own: dict[str, Counter[str]] = defaultdict(Counter)
    mine: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    pids: dict[str, set[int]] = defaultdict(set)
    for sample in parse(text):
        kind = sample_kind(sample.chain, root)
        total[kind] += sample.count
        if sample.chain:
            pids[kind].add(sample.chain[-1][0])
        leaf = sample.frames[-1] if sample.frames else "(no Python frame)"
        own[kind][_short(leaf)] += sample.count
        ours = next((f for f in reversed(sample.frames) if PROJECT.search(f)), "(none)")
        mine[kind][_short(ours)] += sample.count
    grand = sum(total.values()) or 1
    lines = [
        "Samples per process kind, 100 Hz a process. py-spy leaves out threads it judges idle from their system"
        " call (a blocked socket read, a select, a long sleep); a thread between short waits (the network model's"
        " pacing sleeps per chunk) can still be sampled, so samples are threads' time, not all CPU.",
        "",
        " samples  share    processes  kind",
    ]
    for kind, n in total.most_common():
        lines.append(f"{n:8d}  {100 * n / grand:5.1f} %  {len(pids[kind]):9d}  {kind}")
    lines.append(f"{sum(total.values()):8d}  100.0 %  {len(set().union(*pids.values())):9d}  all")
    for kind, n in total.most_common():
        lines += ["", f"== {kind} ({n} samples): top frames by own samples", ""]
        lines += [f"{c:8d}  {100 * c / n:5.1f} %  {frame}" for frame, c in own[kind].most_common(top)]
        lines += ["", f"-- {kind}: by the innermost frame of the project's code", ""]
        lines += [f"{c:8d}  {100 * c / n:5.1f} %  {frame}" for frame, c in mine[kind].most_common(top // 2)]
    return "\n".join(lines) + "\n"


def stop_spy(spy: subprocess.Popen[bytes], grace_s: float = 30.0) -> int:
    """Wait for py-spy to write its output after the run ended; if it has not exited by then, SIGINT it (as
    Ctrl-C: it stops sampling and writes what it has). Seen here: py-spy 0.4.3 hung with one function instance held
    in ptrace stop after the emulator that started it had exited, until it was interrupted."""
    try:
        return spy.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        print(f"py-spy still running {grace_s:g} s after the run ended: interrupting it", file=sys.stderr, flush=True)
        spy.send_signal(signal.SIGINT)
    try:
        return spy.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
        raise RuntimeError("py-spy did not stop after SIGINT") from None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pyspy", description=__doc__)
    parser.add_argument("--sizes", default="1GiB")
    parser.add_argument("--contenders", default="pipeline,raw")
    parser.add_argument(
        "--rss-parts", default="none", help="bench.run's part_copy memory parts (default none: not profiled)"
    )
    parser.add_argument(
        "--uncontended", action="store_true", help="also profile the uncontended per-worker run (VODFLOW_MAX_FANOUT=1)"
    )
    parser.add_argument("--rate", type=int, default=100, help="samples per second and process")
    parser.add_argument("--out", type=Path, default=HERE / "profile_pyspy.txt")
    parser.add_argument("--keep", action="store_true", help="also write the raw collapsed stacks next to the summary")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vodflow-pyspy-"))
    raw = work / "stacks.txt"
    py_spy = shutil.which("py-spy") or str(Path(PY).with_name("py-spy"))
    bench = [
        *("--sizes", args.sizes, "--runs", "1", "--modes", "network", "--contenders", args.contenders),
        *("--rss-parts", args.rss_parts, "--no-scaled", "--no-sweep"),
        *(() if args.uncontended else ("--no-uncontended",)),
    ]
    record = ["record", "--subprocesses", "--format", "raw", "--rate", str(args.rate)]
    try:
        # py-spy attaches to the run once its sources are made (its first line), so that it can be stopped on its
        # own if it outlives the run (``stop_spy``); everything after that line is sampled.
        run = subprocess.Popen(
            [PY, "-m", "bench.run", *bench, "--out", str(work / "out"), "--work", str(work / "scratch")],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert run.stdout is not None
        print(run.stdout.readline(), end="", flush=True)
        spy = subprocess.Popen([py_spy, *record, "--output", str(raw), "--pid", str(run.pid)], cwd=ROOT)
        for line in run.stdout:
            print(line, end="", flush=True)
        code = run.wait()
        stop_spy(spy)
        if code != 0:
            raise SystemExit(f"bench.run exited with {code}")
        header = f"py-spy {' '.join(record)} --pid <the run> -- python -m bench.run {' '.join(bench)}"
        args.out.write_text(header + "\n\n" + summarize(raw))
        if args.keep:
            shutil.copy(raw, args.out.with_suffix(".stacks.txt"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
