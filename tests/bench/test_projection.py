"""bench.report's 1 TB projection: T = before + S / min(W x per-worker, cap) + after + cold, with the per-worker
rate measured uncontended (one part_copy at a time) for 1 TB and contended (8 instances on the bench machine)
beside it and for the scaled run, from synthetic run figures (no server)."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from bench import report

GiB = 2**30
TB = 10**12
CAP = report.ACCOUNT_MBPS * 1e6


def pipeline_run(seconds: float, part_copy_seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "cpu_s": 3.0,
        "cpu_s_warm": 3.0,
        "import_cpu_s": 0.0,
        "server_cpu_s": 4.0,
        "cold_starts": 0,
        "warm_starts": 34,
        "invocations": 34,
        "invocations_by_function": {"vodflow-ingest": 1, "vodflow-part-copy": 32, "vodflow-finalize": 1},
        "requests": 500,
        "requests_by_kind": {"vod:CommitUpload": 1},
        "part_copy_seconds": part_copy_seconds,
        "part_copy_invocations": 32,
        "before_copies_s": 0.5,
        "copies_s": seconds - 1.0,
        "after_copies_s": 0.5,
        **extra,
    }


def summarize(uncontended: Optional[dict[str, Any]], scaled: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    modes = {
        "network": {
            "bandwidth_mbps": 50.0,
            "latency_ms": 10.0,
            "account_mbps": report.ACCOUNT_MBPS,
            "sizes": {
                str(GiB): {
                    "plan": {"inline": False, "part_size": 16 * 2**20, "parts": 64, "batches": 32, "parallelism": 8},
                    # 1 GiB over 8 instances' 50 s of part_copy: 21.5 MB/s a worker (contended)
                    "runs": {"pipeline": [pipeline_run(8.0, 50.0), pipeline_run(8.0, 50.0)]},
                    "cold_runs": [pipeline_run(11.0, 60.0, cold_starts=10)],
                }
            },
        }
    }
    settings = {"quick": False, "plan_concurrency_quota": 100, "scf_concurrency": 8, "server_vars": {}}
    return report.summarize(settings, {}, modes, scaled, uncontended)


def alone(part_copy_seconds: list[float]) -> dict[str, Any]:
    return {
        "size": GiB,
        "server_vars": {"VODFLOW_MAX_FANOUT": "1"},
        "plan": {"inline": False, "part_size": 16 * 2**20, "parts": 64, "batches": 1, "parallelism": 1},
        "warmup": pipeline_run(12.0, 11.0, cold_starts=3),
        "runs": [pipeline_run(s + 1.0, s) for s in part_copy_seconds],
    }


SCALED = {
    "size": GiB,
    "account_mbps": 60.0,
    "bandwidth_mbps": 50.0,
    "plan": {},
    "runs": [
        {"state": "cold", "seconds": 42.0, "cold_starts": 10},
        {"state": "warm", "seconds": 37.0, "cold_starts": 0},
    ],
}


def test_1tb_uses_the_uncontended_rate_and_shows_the_contended_beside_it() -> None:
    results = summarize(alone([10.0, 8.0, 9.0]), SCALED)
    proj = results["projection"]

    assert proj["per_worker_basis"] == "uncontended"
    assert proj["per_worker_uncontended_bytes_s"] == pytest.approx(GiB / 9.0)  # the median run
    assert proj["per_worker_contended_bytes_s"] == pytest.approx(GiB / 50.0)
    assert results["per_worker_throughput"] == proj["per_worker_bytes_s"] == proj["per_worker_uncontended_bytes_s"]
    assert results["per_worker_throughput_contended"] == proj["per_worker_contended_bytes_s"]

    # 32 workers at 119 MB/s are more than the cap: the cap binds, and T is the cap's time plus the fixed costs.
    tb = proj["tb_default"]
    assert (tb["fanout"], tb["workers"], tb["bound_by"]) == (32, 32, "account cap")
    cold = 11.0 - 8.0
    assert tb["seconds"] == pytest.approx(0.5 + TB / CAP + 0.5 + cold)
    assert tb["vs_cap"] == pytest.approx(tb["seconds"] / (TB / CAP))
    # The same formula at the contended rate: the workers bind.
    slow = proj["tb_default_contended"]
    assert slow["bound_by"] == "workers"
    assert slow["seconds"] == pytest.approx(0.5 + TB / (32 * GiB / 50.0) + 0.5 + cold)
    assert proj["tb_tuned"]["fanout"] == proj["tb_tuned_contended"]["fanout"] == report.TUNED_FANOUT

    # The scaled run's 8 instances share the bench machine: checked with the contended rate, the cap binding
    # (60 MB/s, crossed twice by a copy through the emulator).
    sc = proj["scaled"]
    assert sc["model"]["per_worker_bytes_s"] == proj["per_worker_contended_bytes_s"]
    assert sc["model"]["workers"] == 8 and sc["model"]["bound_by"] == "account cap"
    assert sc["model_uncontended"]["per_worker_bytes_s"] == proj["per_worker_uncontended_bytes_s"]
    expect = 0.5 + GiB / 30e6 + 0.5 + cold
    cold_row, warm_row = sc["runs"]
    assert cold_row["projected_s"] == pytest.approx(expect)
    assert warm_row["projected_s"] == pytest.approx(expect - cold)
    assert warm_row["measured_vs_projected"] == pytest.approx(37.0 / (expect - cold))

    goals = {g["what"]: g for g in results["goals"]}
    headline = goals["1 TB projected / account cap's time, default fan-out (uncontended per-worker rate)"]
    assert headline["value"] == pytest.approx(tb["vs_cap"]) and headline["met"] is True
    beside = goals["same, default fan-out, contended per-worker rate (8 instances on this machine)"]
    assert beside["value"] == pytest.approx(slow["vs_cap"]) and beside["met"] is None

    assert proj["uncontended"]["per_worker_mb_s"] == pytest.approx([GiB / s / 1e6 for s in (10.0, 8.0, 9.0)])
    assert proj["uncontended"]["function_cores"] == pytest.approx(3.0 / 10.0)


def test_without_an_uncontended_run_the_contended_rate_is_used_and_said() -> None:
    results = summarize(None)
    proj = results["projection"]

    assert proj["per_worker_basis"] == "contended"
    assert proj["per_worker_uncontended_bytes_s"] is None
    assert proj["per_worker_bytes_s"] == proj["per_worker_contended_bytes_s"]
    assert proj["tb_default"]["seconds"] == proj["tb_default_contended"]["seconds"]
    assert "1 TB projected / account cap's time, default fan-out (contended per-worker rate)" in {
        g["what"] for g in results["goals"]
    }


def test_markdown_labels_both_rates() -> None:
    results = summarize(alone([9.0]), SCALED)
    results["machine"] = {"cpu": "x", "cores": 2, "ram_bytes": GiB, "python": "3", "platform": "linux"}
    results["elapsed_s"] = 60.0

    md = report.markdown(results, "")
    section = md.split("## 1 TB projection and the scaled run")[1].split("\n## ")[0]

    assert f"**uncontended: {GiB / 9.0 / 1e6:.1f} MB/s (used for 1 TB)**" in section
    assert f"- contended: {GiB / 50.0 / 1e6:.1f} MB/s:" in section
    assert "| 1 TB, default (VODFLOW_MAX_FANOUT=32), uncontended |" in section
    assert "| 1 TB, default (VODFLOW_MAX_FANOUT=32), contended |" in section
    assert "| warm |" in section
