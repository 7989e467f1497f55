"""Figures from the raw runs: medians with spread, ratios against the goals, and the three output files."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Optional

MiB = 1024 * 1024
GiB = 1024 * MiB
LABELS = {
    "pipeline": "vodflow pipeline",
    "raw": "raw limit (requests)",
    "naive": "naive function",
    "library": "vodflow library",
    "official": "official SDK",
}


def human(n: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} B"


def stat(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(
    settings: dict[str, Any], machine: dict[str, Any], modes: dict[str, Any], cold_cpu: float
) -> dict[str, Any]:
    """Median and spread of every figure, ratios, and goals met or missed."""
    out: dict[str, Any] = {"machine": machine, "settings": settings, "cold_start_cpu_s": cold_cpu, "modes": {}}
    per_worker: list[float] = []
    for name, mode in modes.items():
        m: dict[str, Any] = {"bandwidth_mbps": mode["bandwidth_mbps"], "latency_ms": mode["latency_ms"], "sizes": {}}
        for size_s, data in mode["sizes"].items():
            size = int(size_s)
            figures: dict[str, Any] = {"plan": data["plan"], "contenders": {}}
            for contender, runs in data["runs"].items():
                secs = [r["seconds"] for r in runs]
                thr = [size / s / 1e6 for s in secs]
                c: dict[str, Any] = {
                    "seconds": stat(secs),
                    "throughput_mb_s": stat(thr),
                    "cpu_s_per_gib": stat([r["cpu_s"] * GiB / size for r in runs]),
                    "server_cpu_s_per_gib": stat([r["server_cpu_s"] * GiB / size for r in runs]),
                    "max_rss": stat([float(r["max_rss"]) for r in runs if "max_rss" in r] or [0.0]),
                    "runs": runs,
                }
                if contender == "pipeline":
                    c["cpu_s_per_gib_warm"] = stat([r["cpu_s_warm"] * GiB / size for r in runs])
                    c["requests_by_kind"] = runs[0]["requests_by_kind"]
                    c["requests"] = stat([float(r["requests"]) for r in runs])
                    c["invocations"] = runs[0]["invocations_by_function"]
                    if not data["plan"]["inline"]:
                        per_worker += [size / r["part_copy_seconds"] for r in runs if name == "network"]
                if contender == "naive":
                    c["temp_disk_bytes"] = max(r["temp_disk_bytes"] for r in runs)
                    c["download_s"] = stat([r["download_s"] for r in runs])
                figures["contenders"][contender] = c
            figures["ratios"] = ratios(figures["contenders"])
            m["sizes"][size_s] = figures
        if "rss" in mode:
            out["rss"] = mode["rss"]
        out["modes"][name] = m
    out["per_worker_throughput"] = statistics.median(per_worker) if per_worker else 20 * MiB
    out["goals"] = goals(out)
    return out


def _ratio(
    a: Optional[dict[str, Any]], b: Optional[dict[str, Any]], key: str, inverse: bool = False
) -> Optional[float]:
    if a is None or b is None:
        return None
    x, y = a[key]["median"], b[key]["median"]
    if not y or not x:
        return None
    return float(y / x) if inverse else float(x / y)


def ratios(c: dict[str, Any]) -> dict[str, Optional[float]]:
    return {
        "pipeline_vs_raw_throughput": _ratio(c.get("pipeline"), c.get("raw"), "throughput_mb_s"),
        "pipeline_vs_naive_throughput": _ratio(c.get("pipeline"), c.get("naive"), "throughput_mb_s"),
        "library_vs_official_throughput": _ratio(c.get("library"), c.get("official"), "throughput_mb_s"),
        "pipeline_vs_raw_cpu": _ratio(c.get("pipeline"), c.get("raw"), "cpu_s_per_gib"),
        "pipeline_warm_vs_raw_cpu": (
            c["pipeline"]["cpu_s_per_gib_warm"]["median"] / c["raw"]["cpu_s_per_gib"]["median"]
            if c.get("pipeline") and c.get("raw") and c["raw"]["cpu_s_per_gib"]["median"]
            else None
        ),
    }


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with the measured value (network model, except CPU which uses both)."""
    rows: list[dict[str, Any]] = []
    net = results["modes"].get("network", {}).get("sizes", {})
    for size_s, fig in net.items():
        size = int(size_s)
        r = fig["ratios"]
        rows.append(
            _goal(f"pipeline / raw limit throughput, {human(size)}", r["pipeline_vs_raw_throughput"], ">=", 0.85)
        )
        if size >= GiB:
            rows.append(
                _goal(f"pipeline / naive throughput, {human(size)}", r["pipeline_vs_naive_throughput"], ">=", 1.8)
            )
        if size == GiB:
            rows.append(_goal(f"library / official SDK, {human(size)}", r["library_vs_official_throughput"], ">=", 1.5))
    for name, mode in results["modes"].items():
        big = max(mode["sizes"], key=int) if mode["sizes"] else None
        if big is not None:
            r = mode["sizes"][big]["ratios"]
            rows.append(
                _goal(f"pipeline / raw CPU per GiB, {human(int(big))}, {name}", r["pipeline_vs_raw_cpu"], "<=", 1.3)
            )
            rows.append(
                _goal(f"same without cold starts, {human(int(big))}, {name}", r["pipeline_warm_vs_raw_cpu"], "<=", 1.3)
            )
    for row in results.get("rss", []):
        rows.append(
            _goal(f"part_copy RSS above idle, {human(row['part_size'])} part", row["above_idle"] / MiB, "<=", 32.0)
        )
    small = min(net, key=int) if net else None
    if small is not None:
        reqs = net[small]["contenders"].get("pipeline", {}).get("requests")
        rows.append(_goal(f"requests per ingest, {human(int(small))}", reqs["median"] if reqs else None, "<=", 10))
    return rows


def _goal(what: str, value: Optional[float], op: str, target: float) -> dict[str, Any]:
    met = None if value is None else (value >= target if op == ">=" else value <= target)
    return {"what": what, "value": value, "goal": f"{op} {target:g}", "met": met}


# ------------------------------------------------------------------------------------------- writing


def _fmt(stat_: dict[str, float], digits: int = 1) -> str:
    return f"{stat_['median']:.{digits}f} ({stat_['min']:.{digits}f}..{stat_['max']:.{digits}f})"


def markdown(results: dict[str, Any], notes: str) -> str:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_bytes'] / GiB:.0f} GiB RAM, Python {m['python']}"
        f" ({m['platform']}). Run took {results['elapsed_s'] / 60:.1f} min"
        + (" (quick smoke run: tiny sizes, test-sized plan)." if results["settings"]["quick"] else "."),
        "",
        "Figures are medians over the runs, with (min..max). Throughput is object size / wall time in MB/s"
        " (10^6 bytes/s). The pipeline's time runs from the start of the ingest invocation to the end of the last"
        " invocation (the commit); the others are timed inside their process after imports.",
        "",
    ]
    for name, mode in results["modes"].items():
        net = (
            f"{mode['bandwidth_mbps']:g} MB/s per connection, {mode['latency_ms']:g} ms per request"
            if mode["bandwidth_mbps"] or mode["latency_ms"]
            else "raw loopback, no network model"
        )
        lines += [f"## Throughput, {name} ({net})", ""]
        lines += [
            "| size | plan | "
            + " | ".join(LABELS[c] for c in LABELS)
            + " | pipeline/raw | pipeline/naive | library/official |"
        ]
        lines += ["|---" * (len(LABELS) + 5) + "|"]
        for size_s, fig in mode["sizes"].items():
            plan = fig["plan"]
            p = (
                "inline"
                if plan["inline"]
                else f"{plan['parts']}x{human(plan['part_size'])}, {plan['batches']} batch(es), x{plan['parallelism']}"
            )
            cells = [_fmt(fig["contenders"][c]["throughput_mb_s"]) if c in fig["contenders"] else "-" for c in LABELS]
            r = fig["ratios"]
            rs = [
                f"{v:.2f}" if v is not None else "-"
                for v in (
                    r["pipeline_vs_raw_throughput"],
                    r["pipeline_vs_naive_throughput"],
                    r["library_vs_official_throughput"],
                )
            ]
            lines.append(f"| {human(int(size_s))} | {p} | " + " | ".join(cells + rs) + " |")
        lines += ["", f"CPU seconds per GiB ({name}; the emulator's own request-serving CPU in brackets):", ""]
        lines += ["| size | pipeline | pipeline without cold starts | raw limit | naive | library | official |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for size_s, fig in mode["sizes"].items():
            c = fig["contenders"]

            def cpu(name_: str, key: str = "cpu_s_per_gib", c: dict[str, Any] = c) -> str:
                if name_ not in c:
                    return "-"
                return f"{c[name_][key]['median']:.2f} [{c[name_]['server_cpu_s_per_gib']['median']:.2f}]"

            warm = f"{c['pipeline']['cpu_s_per_gib_warm']['median']:.2f}" if "pipeline" in c else "-"
            lines.append(
                f"| {human(int(size_s))} | {cpu('pipeline')} | {warm} | {cpu('raw')} | {cpu('naive')}"
                f" | {cpu('library')} | {cpu('official')} |"
            )
        lines.append("")
    lines += [
        f"Cold start (fresh interpreter importing the handlers), paid by every pipeline invocation here:"
        f" {results['cold_start_cpu_s']:.2f} CPU s.",
        "",
    ]
    net_sizes = results["modes"].get("network", {}).get("sizes", {})
    if net_sizes:
        lines += ["## Cloud requests per ingest (network run, from the emulator's request log)", ""]
        lines += ["| size | invocations | requests | by kind |", "|---|---|---|---|"]
        for size_s, fig in net_sizes.items():
            p = fig["contenders"].get("pipeline")
            if p:
                kinds = ", ".join(f"{k} {v}" for k, v in p["requests_by_kind"].items())
                inv = ", ".join(f"{k.replace('vodflow-', '')} {v}" for k, v in p["invocations"].items())
                lines.append(f"| {human(int(size_s))} | {inv} | {p['requests']['median']:.0f} | {kinds} |")
        lines.append("")
    if results.get("rss"):
        lines += ["## Memory", "", "| what | idle RSS | peak RSS | above idle | temp disk |", "|---|---|---|---|---|"]
        for row in results["rss"]:
            lines.append(
                f"| part_copy worker, one {human(row['part_size'])} part | {human(row['idle_rss'])}"
                f" | {human(row['peak_rss'])} | {human(row['above_idle'])} | 0 |"
            )
        for size_s, fig in net_sizes.items():
            n = fig["contenders"].get("naive")
            if n:
                lines.append(
                    f"| naive function, {human(int(size_s))} object | - | {human(n['max_rss']['max'])} | -"
                    f" | {human(n['temp_disk_bytes'])} |"
                )
        lines.append("")
    if results.get("plan"):
        per = results["per_worker_throughput"]
        quota = results["settings"]["plan_concurrency_quota"]
        lines += [
            "## Scale on paper (`vodflow plan`)",
            "",
            f"Projected at the measured per-worker throughput ({per / MiB:.1f} MiB/s, part_copy under the network"
            f" model) and a concurrency quota of {quota}.",
            "",
            "| size | part size | parts | batches | invocations | largest payload | projected wall |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in results["plan"]:
            lines.append(
                f"| {human(row['size'])} | {human(row['part_size'])} | {row['parts']} | {row['batches']}"
                f" | {row['invocations']} | {row['largest_payload_bytes']} B | {row['projected_wall_s']:.0f} s |"
            )
        lines += ["", "Limits: ≤ 10,000 parts, ≤ 5 GiB a part, ≤ 128 KB async payload, 900 s per invocation.", ""]
    lines += ["## Goals", "", "| figure | measured | goal | met |", "|---|---|---|---|"]
    for g in results["goals"]:
        value = "-" if g["value"] is None else f"{g['value']:.2f}"
        met = "-" if g["met"] is None else ("yes" if g["met"] else "**no**")
        lines.append(f"| {g['what']} | {value} | {g['goal']} | {met} |")
    lines.append("")
    if notes.strip():
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def readme_section(results: dict[str, Any]) -> str:
    """The README's ``## Benchmarks`` section: machine, commands, the network table, goals, the plot."""
    md = markdown(results, "")
    keep: list[str] = []
    section = ""
    for line in md.splitlines():
        if line.startswith("## "):
            section = line
        elif line.startswith("# "):
            continue
        if section.startswith("## Throughput, network") or section.startswith("## Goals") or not section:
            keep.append(line.replace("## ", "### ", 1) if line.startswith("## ") else line)
    return "\n".join(
        [
            "## Benchmarks",
            "",
            "`make bench` (about 30 minutes, about 20 GB of free disk) runs every contender against the emulator"
            " server on loopback, in separate processes, once with a network model (a bandwidth cap per connection"
            " and a latency per request) and once on raw loopback; `make bench-quick` is the same code path with tiny"
            " sizes (under a minute, run by the test suite). Both write `bench/results.json`, `bench/results.md`"
            " (every table, CPU per GiB, requests per ingest, memory, the plan on paper, and the notes on each missed"
            " goal) and `bench/throughput.png`. `python -m bench.profile` writes the cProfile evidence the notes cite.",
            "",
            "Contenders: the deployed pipeline (stage, trigger, fan-out, committed FileId); the raw limit (plain"
            " `requests`: ranged GET streamed into UploadPart, same part size and parallelism); the naive function"
            " (COS `download_file` to a temp file, then the official `vod-python-sdk` upload, defaults); vodflow's"
            " `VodUploadClient.upload` and the official SDK's, from the same local file.",
            "",
            *keep,
            "",
            "![throughput against object size](bench/throughput.png)",
            "",
            "Full tables and the notes: [bench/results.md](bench/results.md).",
            "",
        ]
    )


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(results["modes"].items())
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.5), squeeze=False)
    for ax, (name, mode) in zip(axes[0], modes):
        sizes = sorted(int(s) for s in mode["sizes"])
        for contender, label in LABELS.items():
            xs, ys, lo, hi = [], [], [], []
            for size in sizes:
                c = mode["sizes"][str(size)]["contenders"].get(contender)
                if c:
                    t = c["throughput_mb_s"]
                    xs.append(size / MiB)
                    ys.append(t["median"])
                    lo.append(t["median"] - t["min"])
                    hi.append(t["max"] - t["median"])
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks([s / MiB for s in sizes], [human(s) for s in sizes])
        ax.set_xlabel("object size")
        ax.set_ylabel("throughput, MB/s")
        net = f"{mode['bandwidth_mbps']:g} MB/s/conn, {mode['latency_ms']:g} ms" if mode["bandwidth_mbps"] else "raw"
        ax.set_title(f"{name} ({net})")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], out: Path, notes: Optional[Path] = None) -> list[Path]:
    paths = [out / "results.json", out / "results.md", out / "throughput.png"]
    paths[0].write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    note_text = notes.read_text() if notes is not None and notes.exists() and not results["settings"]["quick"] else ""
    paths[1].write_text(markdown(results, note_text))
    plot(results, paths[2])
    return paths


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m bench.report [DIR]``: re-render results.md and throughput.png from results.json (after editing
    bench/notes.md), and print the README section."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parent
    results = json.loads((out / "results.json").read_text())
    write(results, out, notes=Path(__file__).resolve().parent / "notes.md")
    print(readme_section(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
