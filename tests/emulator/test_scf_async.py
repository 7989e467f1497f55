"""Asynchronous invocations: the queue, the retry policy, kills, timeouts, concurrency and isolation."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.scf import DrainTimeout

FIXTURE = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
VARS = {"STAGE": "test", "STAGING_BUCKET": "staging-1250000000"}


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_tencent() as c:
        c.deploy_app(str(FIXTURE), VARS)
        yield c


def test_a_handler_that_fails_twice_then_succeeds_runs_three_times(cloud: Cloud, tmp_path: Path) -> None:
    request_id = cloud.scf.invoke_async("emu-flaky", {"counter": str(tmp_path / "n"), "fail_times": 2})

    runs = cloud.scf.drain(timeout_s=10)

    assert [(r.attempt, r.status) for r in runs] == [(1, "error"), (2, "error"), (3, "ok")]
    assert {r.request_id for r in runs} == {request_id}  # a retry is the same invocation
    assert runs[-1].result == {"calls": 3, "request_id": request_id}
    assert all(r.event == runs[0].event for r in runs)


def test_a_handler_that_always_fails_stops_after_retry_num_plus_one_runs(cloud: Cloud, tmp_path: Path) -> None:
    cloud.scf.invoke_async("emu-flaky", {"counter": str(tmp_path / "n"), "fail_times": 99})  # retryNum 2 (default)
    cloud.scf.invoke_async("emu-boom", {})  # retryNum 1

    runs = cloud.scf.drain(timeout_s=10)

    flaky = [r.status for r in runs if r.function == "emu-flaky"]
    boom = [r.status for r in runs if r.function == "emu-boom"]
    assert flaky == ["error"] * 3
    assert boom == ["error"] * 2
    assert cloud.scf.queued == 0


def test_a_function_killed_mid_run_is_a_crash_and_is_retried(cloud: Cloud) -> None:
    # The kill fires inside the function's call to SCF, as a kill at any line would.
    cloud.faults.inject("scf", "ListFunctions", kill="before", function="emu-whoami", times=1)
    cloud.scf.invoke_async("emu-whoami", {})

    runs = cloud.scf.drain(timeout_s=10)

    assert [(r.attempt, r.status) for r in runs] == [(1, "crash"), (2, "ok")]
    assert "killed (before:scf:ListFunctions)" in runs[0].error
    assert '"statusCode": 439' in runs[0].error


def test_an_async_run_past_its_timeout_is_recorded_and_retried(cloud: Cloud) -> None:
    sleepy = cloud.scf.function("emu-sleepy")
    sleepy.timeout_s, sleepy.retry_num = 0.1, 1
    cloud.scf.invoke_async("emu-sleepy", {"seconds": 0.5})

    runs = cloud.scf.drain(timeout_s=10)

    assert [(r.attempt, r.status) for r in runs] == [(1, "timeout"), (2, "timeout")]
    assert "Invoking task timed out after 0.1 seconds" in runs[0].error


def test_concurrent_functions_each_see_their_own_keys_and_the_keys_work(cloud: Cloud) -> None:
    cloud.scf.invoke_async("emu-echo", {"pause": 0.2})
    cloud.scf.invoke_async("emu-ingest", {"pause": 0.2})
    cloud.scf.invoke_async("emu-whoami", {"pause": 0.2})

    runs = {r.function: r for r in cloud.scf.drain(timeout_s=10)}

    assert cloud.scf.peak_concurrency == 3
    assert all(r.status == "ok" for r in runs.values())
    seen = {
        "emu-echo": runs["emu-echo"].result["env"]["TENCENTCLOUD_SECRETID"],
        "emu-ingest": runs["emu-ingest"].result["env"]["TENCENTCLOUD_SECRETID"],
        "emu-whoami": runs["emu-whoami"].result["secret_id"],
    }
    for name, secret_id in seen.items():
        assert cloud.scf.function(name).role_key.secret_id == secret_id
    assert len(set(seen.values())) == 3
    assert runs["emu-echo"].result["env"]["ONLY_ECHO"] == "yes"
    assert runs["emu-ingest"].result["env"]["ONLY_ECHO"] is None  # per-function variables stay with their function
    assert os.environ.get("TENCENTCLOUD_SECRETID") not in set(seen.values())  # the test thread sees none


def test_workers_are_bounded_by_the_concurrency_limit(cloud: Cloud) -> None:
    cloud.scf.concurrency = 2
    for _ in range(6):
        cloud.scf.invoke_async("emu-echo", {"pause": 0.02})

    runs = cloud.scf.drain(timeout_s=10)

    assert len(runs) == 6
    assert cloud.scf.peak_concurrency == 2


def test_invocations_queued_while_draining_are_run_by_the_same_drain(cloud: Cloud) -> None:
    cloud.scf.invoke_async("emu-fanout", {"count": 3})

    runs = cloud.scf.drain(timeout_s=10)

    fanout = next(r for r in runs if r.function == "emu-fanout")
    children = [r for r in runs if r.function == "emu-echo"]
    assert sorted(r.request_id for r in children) == sorted(fanout.result)
    assert sorted(r.result["event"]["child"] for r in children) == [0, 1, 2]


def test_drain_says_so_when_time_runs_out_with_work_left(cloud: Cloud) -> None:
    cloud.scf.invoke_async("emu-sleepy", {"seconds": 0.5})

    with pytest.raises(DrainTimeout, match="1 running"):
        cloud.scf.drain(timeout_s=0.05)
    cloud.scf.drain(timeout_s=10)  # a later drain waits for the rest
    assert [r.status for r in cloud.scf.invocations] == ["ok"]


def test_the_background_dispatcher_runs_queued_work_without_drain(cloud: Cloud) -> None:
    cloud.scf.start_background(poll_s=0.01)
    try:
        request_id = cloud.scf.invoke_async("emu-echo", {"bg": 1})
        deadline = time.monotonic() + 10
        while not any(r.request_id == request_id and r.status == "ok" for r in cloud.scf.invocations):
            assert time.monotonic() < deadline, "the background dispatcher never ran the invocation"
            time.sleep(0.01)
    finally:
        cloud.scf.close()
