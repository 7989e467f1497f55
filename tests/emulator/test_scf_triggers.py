"""Timer triggers: the documented event, firing by name, and firing on the cron schedule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.scf.cron import CronError, CronExpression

FIXTURE = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
VARS = {"STAGE": "test", "STAGING_BUCKET": "staging-1250000000"}


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_tencent() as c:
        c.deploy_app(str(FIXTURE), VARS)
        yield c


def test_firing_a_timer_delivers_the_documented_timer_event(cloud: Cloud) -> None:
    (request_id,) = cloud.scf.fire_timer("every-five-minutes")

    (rec,) = cloud.scf.drain(timeout_s=10)
    assert (rec.request_id, rec.source, rec.status, rec.function) == (request_id, "timer", "ok", "emu-test-emu-tick")
    event = rec.result["event"]
    assert set(event) == {"Type", "TriggerName", "Time", "Message"}
    assert (event["Type"], event["TriggerName"], event["Message"]) == ("Timer", "every-five-minutes", "sweep")
    assert event["Time"].endswith("Z") and len(event["Time"]) == len("2019-02-21T11:49:00Z")
    assert rec.result["env"]["TRIGGER_SRC"] == "Timer"


def test_a_timer_can_be_fired_by_its_functions_key(cloud: Cloud) -> None:
    assert len(cloud.scf.fire_timer("tick")) == 1
    with pytest.raises(KeyError):
        cloud.scf.fire_timer("emu-echo")  # a function without timers


def test_timers_fire_on_their_schedule_as_the_clock_moves(cloud: Cloud) -> None:
    assert cloud.scf.run_due_timers() == []  # not yet due
    cloud.clock.advance(5 * 60 + 1)
    assert len(cloud.scf.run_due_timers()) == 1
    assert cloud.scf.run_due_timers() == []  # once per due time
    cloud.clock.advance(3 * 3600)
    assert len(cloud.scf.run_due_timers()) == 1  # missed firings coalesce into one
    runs = cloud.scf.drain(timeout_s=10)
    assert [r.source for r in runs] == ["timer", "timer"]


def test_the_seven_field_cron() -> None:
    every_minute = CronExpression.parse("0 */1 * * * * *")  # the repo's sweeper
    assert every_minute.next_after(1_700_000_000) == 1_700_000_040  # 22:13:20 UTC -> 22:14:00
    at_two = CronExpression.parse("0 0 2 * * MON-FRI *")  # 02:00 Beijing time on weekdays
    nxt = at_two.next_after(1_700_000_000)  # Tue 2023-11-14 22:13:20 UTC = Wed 06:13 Beijing
    assert nxt == 1_700_071_200  # Thu 2023-11-16 02:00 Beijing = Wed 18:00 UTC
    for bad in ("* * * * *", "0 0 0 L * * *", "0 61 * * * * *", "0 0 0 * * 1#2 *"):
        with pytest.raises(CronError):
            CronExpression.parse(bad)
