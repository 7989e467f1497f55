"""``make bench`` / ``make bench-quick``: vodflow against the raw copy limit, the naive function and the official SDK.

Every contender runs against the same emulator server (``bench.server``, its own process), twice:
once with a network model on the server (a bandwidth cap per connection and a latency per request,
the figures the goals apply to) and once on raw loopback (where CPU overhead shows). Each figure is
the median of several runs with its spread (min..max). The run writes ``results.json``,
``results.md`` and ``throughput.png`` (into ``bench/`` unless ``--out`` says otherwise).

How CPU is attributed: the server runs the deployed functions in subprocesses, so the pipeline's
CPU is the server's children's CPU (``os.times()`` in the server) over the run, and the server's own
CPU is the emulator serving requests. Every other contender runs in a child process of the driver
and reports its own ``getrusage``. Each pipeline invocation is a cold start (a fresh interpreter
importing the SDKs); that cost is measured separately and shown both included and excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import requests

from bench import report
from vodflow.planner import GiB, MiB, PlanConfig, plan_upload

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PY = sys.executable
PREFIX = "incoming/"


@dataclass
class Mode:
    name: str
    bandwidth_mbps: float
    latency_ms: float


@dataclass
class Settings:
    sizes: list[int]
    runs: dict[int, int]
    modes: list[Mode]
    rss_parts: list[int]
    plan_sizes: list[int]
    out: Path
    work: Path
    concurrency: int = 8
    quota: int = 100
    server_vars: dict[str, str] = field(default_factory=dict)
    contenders: tuple[str, ...] = ("pipeline", "raw", "naive", "library", "official")
    quick: bool = False


def full_settings(out: Path, work: Path, bandwidth: float, latency: float) -> Settings:
    sizes = [MiB, 64 * MiB, GiB, 4 * GiB]
    return Settings(
        sizes=sizes,
        runs={MiB: 5, 64 * MiB: 5, GiB: 3, 4 * GiB: 2},
        modes=[Mode("network", bandwidth, latency), Mode("loopback", 0, 0)],
        rss_parts=[64 * MiB, 512 * MiB, 2 * GiB],
        plan_sizes=[GiB, 100 * GiB, 10**12, 48 * 10**12],
        out=out,
        work=work,
        # Deployed as the README says to: the fan-out width at the account's SCF concurrency quota
        # (the emulated account has 8), so batches are not queued behind each other's cold starts.
        server_vars={"VODFLOW_MAX_FANOUT": "8"},
    )


def quick_settings(out: Path, work: Path, bandwidth: float, latency: float) -> Settings:
    """Tiny sizes, a test-sized plan (fan-out above 4 MiB, 1 MiB parts, 2 a batch): every code path in seconds."""
    sizes = [256 * 1024, 6 * MiB]
    return Settings(
        sizes=sizes,
        runs={s: 2 for s in sizes},
        modes=[Mode("network", bandwidth, latency), Mode("loopback", 0, 0)],
        rss_parts=[2 * MiB, 4 * MiB],
        plan_sizes=[GiB, 100 * GiB, 10**12, 48 * 10**12],
        out=out,
        work=work,
        server_vars={
            "VODFLOW_INLINE_THRESHOLD": str(4 * MiB),
            "VODFLOW_PART_SIZE": str(MiB),
            "VODFLOW_BATCH_PARTS": "2",
        },
        quick=True,
    )


# ------------------------------------------------------------------------------------------ processes


class Server:
    """``bench.server`` in its own process, with its control port."""

    def __init__(self, mode: Mode, work: Path, concurrency: int, variables: dict[str, str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"server-{mode.name}-", dir=work))
        self.info_file = self.dir / "info.json"
        cmd = [
            PY,
            "-m",
            "bench.server",
            "--info-file",
            str(self.info_file),
            "--data-dir",
            str(self.dir / "cloud"),
            "--bandwidth-mbps",
            str(mode.bandwidth_mbps),
            "--latency-ms",
            str(mode.latency_ms),
            "--concurrency",
            str(concurrency),
        ]
        for k, v in variables.items():
            cmd += ["--var", f"{k}={v}"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, env=child_env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("bench.server exited before it was ready")
        self.info: dict[str, Any] = json.loads(self.info_file.read_text())
        self.control = self.info["control"]
        self.http = requests.Session()

    def get(self, path: str, **params: Any) -> Any:
        reply = self.http.get(self.control + path, params=params, timeout=600)
        reply.raise_for_status()
        return reply.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        reply = self.http.post(self.control + path, json=body, timeout=1800)
        if reply.status_code != 200:
            raise RuntimeError(f"{path}: {reply.text}")
        return reply.json()

    def wait_idle(self, timeout_s: float = 1800) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.get("/idle")
            if state["queued"] == 0 and state["running"] == 0:
                return
            time.sleep(0.05)
        raise TimeoutError("the pipeline did not go idle")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "shared")]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("VODFLOW_TENCENT_ENDPOINT", None)
    return env


def run_child(name: str, info_file: Path, **args: Any) -> dict[str, Any]:
    """One contender in a fresh process; its JSON figures."""
    payload = json.dumps({"info_file": str(info_file), **args})
    proc = subprocess.run(
        [PY, "-m", "bench.child", name, payload], cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def cold_start_cpu() -> float:
    """CPU seconds of one cold start: a fresh interpreter importing every handler (what each invocation pays)."""
    code = (
        "import importlib.util, pathlib, sys\n"
        "for p in sorted(pathlib.Path('functions').glob('*/index.py')):\n"
        "    s = importlib.util.spec_from_file_location('index_' + p.parent.name, p)\n"
        "    m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
    )
    samples = []
    for _ in range(3):
        before = os.times()
        subprocess.run([PY, "-c", code], cwd=ROOT, env=child_env(), check=True)
        after = os.times()
        samples.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    return statistics.median(samples)


# ------------------------------------------------------------------------------------------- sources


def make_source(work: Path, size: int) -> Path:
    """A file of ``size`` pseudo-random bytes (one random MiB repeated with a counter, so no range repeats)."""
    path = work / f"source-{size}.mp4"
    if path.exists() and path.stat().st_size == size:
        return path
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        written, n = 0, 0
        while written < size:
            chunk = n.to_bytes(8, "big") + block[8:]
            piece = chunk[: size - written]
            f.write(piece)
            written += len(piece)
            n += 1
    return path


# ------------------------------------------------------------------------------------------ contenders


def pipeline_plan(size: int, variables: dict[str, str], concurrency: int) -> dict[str, Any]:
    """The plan ingest makes (same config), and the parallelism it gets: batches in flight at once."""

    def opt(name: str) -> Optional[int]:
        value = variables.get(name, "")
        return int(value) if value else None

    plan = plan_upload(
        size,
        PlanConfig(
            inline_threshold=opt("VODFLOW_INLINE_THRESHOLD") or 64 * MiB,
            part_size=opt("VODFLOW_PART_SIZE"),
            parts_per_batch=opt("VODFLOW_BATCH_PARTS"),
            max_fanout=opt("VODFLOW_MAX_FANOUT") or 32,
        ),
    )
    width = 1 if plan.inline else min(len(plan.batches), plan.fanout, concurrency)
    return {
        "inline": plan.inline,
        "part_size": plan.part_size,
        "parts": plan.part_count,
        "batches": len(plan.batches),
        "parallelism": width,
    }


def run_pipeline(server: Server, source: Path, key: str) -> dict[str, Any]:
    marks = server.get("/marks")
    cpu0 = server.get("/cpu")
    server.post("/stage", {"key": key, "path": str(source)})
    server.wait_idle()
    cpu1 = server.get("/cpu")
    log = server.get("/log", inv=marks["inv"], req=marks["req"])
    # The sweeper's timer may fire inside the window: background housekeeping, not this ingest's work.
    timers = {i["function"] for i in log["invocations"] if i["source"] == "timer"}
    invs = [i for i in log["invocations"] if i["function"] not in timers]
    log["requests"] = [r for r in log["requests"] if r["function"] not in timers]
    if not invs:
        raise RuntimeError(f"no invocation for {key}")
    failed = [i for i in invs if i["status"] != "ok"]
    commits = [r for r in log["requests"] if r["action"] == "CommitUpload" and r["status"] == 200]
    if failed or len(commits) != 1:
        why = failed[0]["error"][-2000:] if failed else ""
        raise RuntimeError(f"pipeline run for {key}: {len(failed)} failed invocations, {len(commits)} commits\n{why}")
    started = min(i["started"] for i in invs)
    ended = max(i["ended"] for i in invs)
    kinds: dict[str, int] = {}
    for r in log["requests"]:
        if r["function"]:
            name = f"{r['service']}:{r['action']}"
            kinds[name] = kinds.get(name, 0) + 1
    per_function: dict[str, int] = {}
    for i in invs:
        per_function[i["function"]] = per_function.get(i["function"], 0) + 1
    for i in invs:
        i.pop("error", None)
    function_s: dict[str, float] = {}
    for i in invs:
        function_s[i["function"]] = function_s.get(i["function"], 0.0) + i["ended"] - i["started"]
    copy_s = sum(i["ended"] - i["started"] for i in invs if i["function"].endswith("part-copy"))
    return {
        "seconds": ended - started,
        "cpu_s": cpu1["children"] - cpu0["children"],
        "server_cpu_s": cpu1["self"] - cpu0["self"],
        "invocations": len(invs),
        "invocations_by_function": per_function,
        "requests": sum(kinds.values()),
        "requests_by_kind": dict(sorted(kinds.items())),
        "part_copy_seconds": copy_s,
        "seconds_by_function": function_s,
    }


def run_other(server: Server, name: str, **args: Any) -> dict[str, Any]:
    cpu0 = server.get("/cpu")
    result = run_child(name, server.info_file, **args)
    cpu1 = server.get("/cpu")
    result["server_cpu_s"] = cpu1["self"] - cpu0["self"]
    return result


def measure_mode(settings: Settings, mode: Mode, sources: dict[int, Path], cold_cpu: float) -> dict[str, Any]:
    server = Server(mode, settings.work, settings.concurrency, settings.server_vars)
    out: dict[str, Any] = {"bandwidth_mbps": mode.bandwidth_mbps, "latency_ms": mode.latency_ms, "sizes": {}}
    try:
        for size in settings.sizes:
            plan = pipeline_plan(size, settings.server_vars, settings.concurrency)
            runs: dict[str, list[dict[str, Any]]] = {c: [] for c in settings.contenders}
            for n in range(settings.runs[size]):
                key = f"{PREFIX}bench-{mode.name}-{size}-{n}.mp4"
                log(f"{mode.name} {report.human(size)} run {n + 1}/{settings.runs[size]}")
                for contender in settings.contenders:
                    if contender == "pipeline":
                        result = run_pipeline(server, sources[size], key)
                        result["cpu_s_warm"] = max(0.0, result["cpu_s"] - result["invocations"] * cold_cpu)
                    elif contender == "raw":
                        result = run_other(
                            server,
                            "raw",
                            key=key,
                            size=size,
                            part_size=plan["part_size"],
                            parallelism=plan["parallelism"],
                            inline=plan["inline"],
                        )
                    elif contender == "naive":
                        result = run_other(server, "naive", key=key, tmp_root=str(settings.work))
                    else:
                        result = run_other(server, contender, path=str(sources[size]))
                    log(f"  {contender:9s} {result['seconds']:8.2f} s  cpu {result['cpu_s']:7.2f} s")
                    runs[contender].append(result)
                    server.post("/clear", {"keep": key})
                server.post("/clear", {"keep": ""})
            out["sizes"][str(size)] = {"plan": plan, "runs": runs}
        if mode.name == "loopback" and settings.rss_parts:
            out["rss"] = measure_rss(server, settings, sources)
    finally:
        server.stop()
    return out


def measure_rss(server: Server, settings: Settings, sources: dict[int, Path]) -> list[dict[str, Any]]:
    """Peak RSS of the part_copy step over parts of each size, each in a fresh worker process."""
    largest = max(settings.rss_parts)
    size = next(s for s in sorted(sources) if s >= largest + MiB)
    key = "rss/source.mp4"  # outside the trigger's prefix: no job
    server.post("/stage", {"key": key, "path": str(sources[size])})
    out = []
    for part in settings.rss_parts:
        log(f"part_copy RSS, {report.human(part)} part")
        out.append(run_child("part_copy_rss", server.info_file, key=key, part_size=part))
        server.post("/clear", {"keep": key})
    server.post("/clear", {"keep": ""})
    return out


def plan_on_paper(settings: Settings, per_worker: float) -> list[dict[str, Any]]:
    rows = []
    for size in settings.plan_sizes:
        proc = subprocess.run(
            [
                PY,
                "-m",
                "vodflow",
                "plan",
                str(size),
                "--json",
                "--throughput",
                str(max(1, int(per_worker))),
                "--concurrency",
                str(settings.quota),
            ],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout))
    return rows


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_bytes": ram,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run with tiny sizes (CI)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where results.json/.md and throughput.png go (bench/; build/bench-quick/ with --quick)",
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch space for sources and the cloud's disk")
    parser.add_argument("--bandwidth-mbps", type=float, default=50.0, help="network model: MB/s per connection")
    parser.add_argument("--latency-ms", type=float, default=10.0, help="network model: latency per request")
    parser.add_argument("--runs", type=int, default=0, help="override the runs per size")
    parser.add_argument("--sizes", default="", help="override the sizes, e.g. 1GiB,4GiB")
    parser.add_argument("--modes", default="", help="only these modes: network,loopback")
    parser.add_argument("--contenders", default="", help="only these contenders, e.g. pipeline,raw")
    parser.add_argument("--var", action="append", default=[], help="pipeline deployment variable NAME=VALUE")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="vodflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    make = quick_settings if args.quick else full_settings
    out = args.out or (ROOT / "build" / "bench-quick" if args.quick else HERE)
    settings = make(out, work, args.bandwidth_mbps, args.latency_ms)
    if args.sizes:
        settings.sizes = [parse_size(s) for s in args.sizes.split(",")]
        settings.runs = {s: settings.runs.get(s, 3) for s in settings.sizes}
    if args.runs:
        settings.runs = {s: args.runs for s in settings.sizes}
    if args.modes:
        settings.modes = [m for m in settings.modes if m.name in args.modes.split(",")]
        if "loopback" not in args.modes.split(","):
            settings.rss_parts = []  # measured on the loopback server only
    if args.contenders:
        settings.contenders = tuple(c for c in settings.contenders if c in args.contenders.split(","))
    for pair in args.var:
        name, _, value = pair.partition("=")
        settings.server_vars[name] = value
    settings.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        needed = max([*settings.sizes, *(p + MiB for p in settings.rss_parts)])
        sources = {s: make_source(work, s) for s in settings.sizes}
        if max(sources) < needed:
            sources[needed] = make_source(work, needed)
        log(f"sources ready in {work}")
        cold = cold_start_cpu()
        modes = {m.name: measure_mode(settings, m, sources, cold) for m in settings.modes}
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    results = report.summarize(settings_dict(settings), machine(), modes, cold)
    per_worker = results["per_worker_throughput"]
    results["plan"] = plan_on_paper(settings, per_worker)
    results["elapsed_s"] = time.monotonic() - started
    paths = report.write(results, settings.out, notes=(HERE / "notes.md"))
    for p in paths:
        log(f"wrote {p}")
    return 0


def parse_size(text: str) -> int:
    units = {"KiB": 1024, "MiB": MiB, "GiB": GiB, "TiB": 1024 * GiB, "TB": 10**12, "GB": 10**9, "MB": 10**6}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def settings_dict(settings: Settings) -> dict[str, Any]:
    return {
        "quick": settings.quick,
        "sizes": settings.sizes,
        "runs": {str(k): v for k, v in settings.runs.items()},
        "modes": [m.__dict__ for m in settings.modes],
        "rss_parts": settings.rss_parts,
        "scf_concurrency": settings.concurrency,
        "plan_concurrency_quota": settings.quota,
        "server_vars": settings.server_vars,
    }


if __name__ == "__main__":
    sys.exit(main())
