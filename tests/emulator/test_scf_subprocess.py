"""Subprocess mode: a function runs in a child ``python`` that reaches the emulator over HTTP, and can be SIGKILLed."""

from __future__ import annotations

import os
import threading
import time

import pytest

from tencent_emulator.core.cloud import Cloud


@pytest.fixture
def cloud(subprocess_app: Cloud) -> Cloud:
    return subprocess_app


def test_a_child_process_runs_the_handler_with_the_functions_keys(cloud: Cloud) -> None:
    rec, outcome = cloud.scf.invoke("emu-whoami", {})

    assert (rec.mode, outcome.status) == ("subprocess", "ok")
    assert outcome.result["pid"] != os.getpid()
    assert outcome.result["pid"] == rec.pid
    assert outcome.result["secret_id"] == cloud.scf.function("emu-whoami").role_key.secret_id
    assert outcome.result["functions_seen"] == len(cloud.scf.functions)  # it called SCF over HTTP


def test_a_child_that_raises_is_a_user_error(cloud: Cloud) -> None:
    _, outcome = cloud.scf.invoke("emu-boom", {})

    assert outcome.status == "error"
    assert outcome.error is not None and outcome.error["statusCode"] == 430
    assert "ValueError: err msg" in outcome.error["stackTrace"]


def test_a_sigkilled_child_is_a_crash_and_the_retry_policy_applies(cloud: Cloud) -> None:
    cloud.scf.function("emu-sleepy").retry_num = 1
    cloud.scf.function("emu-sleepy").timeout_s = 30
    request_id = cloud.scf.invoke_async("emu-sleepy", {"seconds": 20})
    drained: list[object] = []
    drainer = threading.Thread(target=lambda: drained.extend(cloud.scf.drain(timeout_s=60)))
    drainer.start()
    deadline = time.monotonic() + 20
    killed = 0
    while killed < 2:  # kill the first run and its retry
        assert time.monotonic() < deadline, "the child process never started"
        running = [r for r in cloud.scf.running() if r.pid]
        if running and running[0].attempt == killed + 1:
            assert cloud.scf.kill(request_id)
            killed += 1
        time.sleep(0.02)
    drainer.join(timeout=30)

    runs = [r for r in cloud.scf.invocations if r.request_id == request_id]
    assert [(r.attempt, r.status) for r in runs] == [(1, "crash"), (2, "crash")]
    assert "signal 9" in runs[0].error
    assert not cloud.scf.kill(request_id)  # nothing left running


def test_a_child_past_its_timeout_is_killed(cloud: Cloud) -> None:
    cloud.scf.function("emu-sleepy").timeout_s = 0.5
    rec, outcome = cloud.scf.invoke("emu-sleepy", {"seconds": 20})

    assert outcome.status == "timeout"
    assert rec.pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(rec.pid, 0)  # the child is gone (reaped), not left sleeping
