"""A job's state is read off the facts it has, never stored."""

from __future__ import annotations

from vodflow.pipeline.jobs import Listing, derive_state, job_id_for


def listing(*keys: str) -> Listing:
    return Listing(frozenset(keys))


def test_states_follow_the_facts() -> None:
    assert derive_state(listing("job.json")) == "planned"
    assert derive_state(listing("job.json", "waiting.json")) == "waiting"
    assert derive_state(listing("job.json", "g1/session.json", "g1/upload.json")) == "copying"
    assert derive_state(listing("job.json", "g1/session.json", "g1/parts/00001.json")) == "copying"
    assert derive_state(listing("job.json", "g1/session.json", "commit.lock")) == "completing"
    assert derive_state(listing("job.json", "commit.lock", "result.json")) == "committed"
    assert derive_state(listing("job.json", "failed.json")) == "failed"


def test_generation_parts_and_dispatches_are_counted_per_generation() -> None:
    lst = listing(
        "g1/session.json",
        "g1/parts/00001.json",
        "g2/session.json",
        "g2/parts/00003.json",
        "g2/dispatch/00000-001.json",
        "g2/dispatch/00000-002.json",
        "g2/dispatch/00001-001.json",
    )
    assert lst.generation == 2
    assert lst.parts_done(2) == {3}
    assert lst.parts_done(1) == {1}
    assert lst.dispatches(2) == {0: 2, 1: 1}


def test_job_id_depends_on_the_version_not_on_quotes() -> None:
    a = job_id_for("b-1250000000", "incoming/x.mp4", '"abc"')
    assert a == job_id_for("b-1250000000", "incoming/x.mp4", "abc")
    assert a != job_id_for("b-1250000000", "incoming/x.mp4", '"abd"')
    assert len(a) == 32
