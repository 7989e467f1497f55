"""`make bench-quick`'s code path with tiny sizes: every contender runs against the benchmark server and the
three output files are written and well-formed. No timing is asserted (speed is what the benchmark reports)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import run

CONTENDERS = {"pipeline", "raw", "naive", "library", "official"}


def test_quick_bench_writes_json_markdown_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run.main(["--quick", "--runs", "1", "--out", str(out), "--work", str(tmp_path / "work")]) == 0

    results = json.loads((out / "results.json").read_text())
    assert set(results["modes"]) == {"network", "loopback"}
    assert results["modes"]["network"]["bandwidth_mbps"] > 0
    assert results["modes"]["loopback"]["bandwidth_mbps"] == 0
    for mode in results["modes"].values():
        sizes = {int(s): fig for s, fig in mode["sizes"].items()}
        assert set(sizes) == {256 * 1024, 6 * 1024 * 1024}
        assert sizes[256 * 1024]["plan"]["inline"] is True
        assert sizes[6 * 1024 * 1024]["plan"]["inline"] is False  # the fan-out path is exercised too
        for fig in sizes.values():
            assert set(fig["contenders"]) == CONTENDERS
            for figures in fig["contenders"].values():
                assert figures["throughput_mb_s"]["median"] > 0
                assert figures["throughput_mb_s"]["min"] <= figures["throughput_mb_s"]["max"]
                assert all(r["seconds"] > 0 for r in figures["runs"])
            pipeline = fig["contenders"]["pipeline"]
            # Exactly one commit per ingest, counted from the emulator's request log.
            assert pipeline["requests_by_kind"]["vod:CommitUpload"] == 1
            assert set(fig["ratios"]) >= {"pipeline_vs_raw_throughput", "pipeline_vs_naive_throughput"}
        fanout = sizes[6 * 1024 * 1024]["contenders"]["pipeline"]
        assert fanout["invocations"]["vodflow-part-copy"] == 3  # 6 parts of 1 MiB, 2 a batch
    assert [r["part_size"] for r in results["rss"]] == [2 * 1024 * 1024, 4 * 1024 * 1024]
    assert all(r["peak_rss"] >= r["idle_rss"] > 0 for r in results["rss"])
    assert [p["size"] for p in results["plan"]] == [2**30, 100 * 2**30, 10**12, 48 * 10**12]
    assert all(p["parts"] <= 10_000 and p["largest_payload_bytes"] < 128 * 1024 for p in results["plan"])
    assert results["goals"] and all({"what", "value", "goal", "met"} <= set(g) for g in results["goals"])

    # The 1 TB projection from the uncontended per-worker rate (one part_copy at a time), the contended beside it.
    proj = results["projection"]
    assert proj["per_worker_basis"] == "uncontended"
    assert proj["per_worker_uncontended_bytes_s"] > 0 and proj["per_worker_contended_bytes_s"] > 0
    assert proj["tb_default"]["per_worker_bytes_s"] == proj["per_worker_uncontended_bytes_s"]
    assert proj["tb_default_contended"]["per_worker_bytes_s"] == proj["per_worker_contended_bytes_s"]
    assert proj["uncontended"]["server_vars"]["VODFLOW_MAX_FANOUT"] == "1"
    assert proj["uncontended"]["part_copy_invocations"] == 3  # the same 3 batches, one at a time
    assert len(proj["scaled"]["runs"]) == 2

    md = (out / "results.md").read_text()
    for heading in ("## Throughput, network", "## Throughput, loopback", "## Memory", "## Scale on paper", "## Goals"):
        assert heading in md
    assert "**uncontended: " in md and "- contended: " in md
    assert "| 6 MiB |" in md

    png = (out / "throughput.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000

    # The account's keys stay in the server's 0600 info file, which is gone with the work dir.
    text = (out / "results.json").read_text() + md
    for secret in ("secret_key", "SecretKey", "Authorization", "security-token"):
        assert secret not in text
