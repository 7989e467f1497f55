"""Warm instances in subprocess mode: one process per function instance serves successive invocations.

A new instance is a cold start (counted); a killed, crashed or timed-out instance is never reused, so the
invocation after it is a cold start; N overlapping invocations use N instances; a configuration change
starts new instances. No wall-clock assertions: identity is the instance's pid.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tencent_emulator.core.cloud import Cloud


@pytest.fixture
def cloud(subprocess_app: Cloud) -> Cloud:
    return subprocess_app


def test_successive_invocations_share_one_warm_instance(cloud: Cloud) -> None:
    first = cloud.scf.invoke("emu-whoami", {})[1].result
    second = cloud.scf.invoke("emu-whoami", {})[1].result

    assert first["pid"] == second["pid"] != os.getpid()
    assert (cloud.scf.workers.cold_starts, cloud.scf.workers.warm_starts) == (1, 1)


def test_each_invocation_sees_its_own_environment_and_prints(cloud: Cloud) -> None:
    a = cloud.scf.invoke("emu-echo", {"n": 1})[1].result
    b = cloud.scf.invoke("emu-echo", {"n": 2})[1].result

    assert (a["event"], b["event"]) == ({"n": 1}, {"n": 2})
    assert a["env"]["ONLY_ECHO"] == b["env"]["ONLY_ECHO"] == "yes"
    assert b["env"]["TENCENTCLOUD_SECRETID"] == cloud.scf.function("emu-echo").role_key.secret_id


def test_a_user_error_keeps_the_instance(cloud: Cloud) -> None:
    assert cloud.scf.invoke("emu-boom", {})[1].status == "error"
    assert cloud.scf.invoke("emu-boom", {})[1].status == "error"

    assert cloud.scf.workers.cold_starts == 1


def test_a_killed_instance_is_a_crash_and_the_next_invocation_a_cold_start(cloud: Cloud) -> None:
    fn = cloud.scf.function("emu-sleepy")
    fn.timeout_s = 30
    fn.retry_num = 0
    assert cloud.scf.invoke("emu-sleepy", {})[1].status == "ok"  # one warm instance
    request_id = cloud.scf.invoke_async("emu-sleepy", {"seconds": 20})
    drainer = threading.Thread(target=lambda: cloud.scf.drain(timeout_s=60))
    drainer.start()
    deadline = time.monotonic() + 20
    while not cloud.scf.kill(request_id):
        assert time.monotonic() < deadline, "the invocation never started"
        time.sleep(0.02)
    drainer.join(timeout=30)
    killed = next(r for r in cloud.scf.invocations if r.request_id == request_id)
    after = cloud.scf.invoke("emu-sleepy", {})[0]

    assert killed.status == "crash" and "signal 9" in killed.error
    assert after.status == "ok" and after.pid != killed.pid
    assert cloud.scf.workers.cold_starts == 2  # the first instance, and the one after the kill


def test_a_timed_out_instance_is_killed_and_not_reused(cloud: Cloud) -> None:
    cloud.scf.function("emu-sleepy").timeout_s = 0.5
    rec, outcome = cloud.scf.invoke("emu-sleepy", {"seconds": 20})
    again = cloud.scf.invoke("emu-sleepy", {})[0]

    assert outcome.status == "timeout"
    assert rec.pid is not None and again.pid != rec.pid
    with pytest.raises(ProcessLookupError):
        os.kill(rec.pid, 0)


def test_overlapping_invocations_use_separate_instances(cloud: Cloud) -> None:
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cloud.scf.invoke("emu-whoami", {"pause": 1.0})[1].result["pid"]))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(set(results)) == 2
    assert cloud.scf.workers.cold_starts == 2


def test_a_configuration_change_starts_a_new_instance(cloud: Cloud) -> None:
    first = cloud.scf.invoke("emu-whoami", {})[0].pid
    cloud.scf.function("emu-whoami").environment["NEW_SETTING"] = "1"
    second = cloud.scf.invoke("emu-whoami", {})[0].pid

    assert first != second


def test_cold_start_and_close_stop_idle_instances(cloud: Cloud) -> None:
    pid = cloud.scf.invoke("emu-whoami", {})[0].pid
    assert pid is not None and cloud.scf.workers.idle_count() == 1
    cloud.scf.cold_start("emu-whoami")

    assert cloud.scf.workers.idle_count() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert cloud.scf.invoke("emu-whoami", {})[0].pid != pid


def test_threads_a_function_starts_in_thread_mode_run_as_that_function() -> None:
    """Requests from a handler's own threads are attributed to its function (faults aimed at it fire)."""
    import sys

    from tencent_emulator.scf import runtime

    cloud = Cloud()
    try:
        module = type(sys)("threads_handler")
        seen: dict[str, object] = {}

        def handler(event: object, context: object) -> str:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=2) as pool:
                seen["inner"] = list(pool.map(lambda _: (cloud.caller.function, os.environ.get("ONLY_HERE")), range(2)))
            return "ok"

        module.handler = handler  # type: ignore[attr-defined]
        cache = runtime.HandlerCache()
        cache._mods["fn-threads"] = runtime.LoadedHandler(module, handler)
        outcome = runtime.run_in_thread(
            cloud,
            cache,
            "fn-threads",
            Path("unused.py"),
            "handler",
            {},
            {"request_id": "r-1"},
            {"ONLY_HERE": "yes"},
            10,
        )
        assert outcome.status == "ok"
        assert seen["inner"] == [("fn-threads", "yes"), ("fn-threads", "yes")]
        assert cloud.caller.function is None
    finally:
        cloud.close()
