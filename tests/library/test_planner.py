"""The planner: parts sized from the object, within every COS and SCF limit, for 0 B to 48.8 TB."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vodflow.errors import VodValidationError
from vodflow.planner import GiB, Limits, MiB, PlanConfig, plan_upload

MAX_SIZE = 48_800_000_000_000  # 48.8 TB, COS's largest object
LIMITS = Limits()


@settings(max_examples=400)
@given(
    size=st.one_of(
        st.integers(0, MAX_SIZE),
        st.integers(0, 200 * MiB),
        st.sampled_from([0, 1, 64 * MiB, 64 * MiB + 1, 10_000 * MiB, 10_000 * MiB + 1, MAX_SIZE]),
    ),
    fanout=st.integers(1, 64),
    threshold=st.sampled_from([0, MiB, 64 * MiB, 5 * GiB]),
)
def test_every_plan_respects_the_limits(size: int, fanout: int, threshold: int) -> None:
    config = PlanConfig(inline_threshold=threshold, max_fanout=fanout)
    plan = plan_upload(size, config)
    if plan.inline:
        assert size <= threshold
        assert size <= LIMITS.max_single_put
        return
    parts = plan.parts
    # Parts cover the object exactly, in order, without gaps.
    assert [p.number for p in parts] == list(range(1, plan.part_count + 1))
    assert parts[0].offset == 0
    assert all(a.offset + a.length == b.offset for a, b in zip(parts, parts[1:]))
    assert parts[-1].offset + parts[-1].length == size
    # COS limits.
    assert plan.part_count <= LIMITS.max_parts
    assert plan.part_size <= LIMITS.max_part_size
    assert plan.part_size >= LIMITS.min_part_size
    assert plan.part_size % MiB == 0
    assert plan.part_size >= -(-size // LIMITS.max_parts)
    assert all(p.length >= LIMITS.min_part_size for p in parts[:-1])
    assert all(0 < p.length <= plan.part_size for p in parts)
    # Batches: contiguous, covering every part once, each finishing well inside the SCF timeout.
    covered = [n for b in plan.batches for n in b.numbers]
    assert covered == list(range(1, plan.part_count + 1))
    assert plan.batch_seconds(config) <= LIMITS.invocation_timeout_s / 2
    assert 1 <= plan.fanout <= fanout
    # The async payload stays small whatever the part count.
    assert plan.payload_bytes({"job": "j" * 64, "bucket": "b" * 64, "key": "k" * 1024}) < LIMITS.async_payload_bytes


def test_small_files_go_inline_and_large_ones_multipart() -> None:
    assert plan_upload(64 * MiB).inline
    assert not plan_upload(64 * MiB + 1).inline
    assert plan_upload(0).inline
    assert plan_upload(0).part_count == 0


def test_part_size_grows_with_the_object_instead_of_staying_at_1_mib() -> None:
    small = plan_upload(200 * MiB)
    huge = plan_upload(40 * 1000 * GiB)
    assert small.part_size == 16 * MiB
    assert huge.part_count <= 10_000
    assert huge.part_size == -(-(40 * 1000 * GiB) // 10_000 // MiB) * MiB


def test_test_sized_parts_are_honoured_with_matching_limits() -> None:
    limits = Limits(min_part_size=64 * 1024)
    plan = plan_upload(300 * 1024, PlanConfig(inline_threshold=0, part_size=100 * 1024, parts_per_batch=2), limits)
    assert [p.length for p in plan.parts] == [100 * 1024, 100 * 1024, 100 * 1024]
    assert [(b.first, b.last) for b in plan.batches] == [(1, 2), (3, 3)]


def test_payload_lists_parts_compactly() -> None:
    plan = plan_upload(MAX_SIZE)
    payload = plan.batches[-1].to_payload()
    assert payload == {"batch": len(plan.batches) - 1, "parts": [plan.part_count, plan.part_count]}
    assert len(json.dumps(payload)) < 100


@pytest.mark.parametrize("size", [-1, 10_000 * 5 * GiB + 1])
def test_impossible_sizes_are_refused(size: int) -> None:
    with pytest.raises(VodValidationError) as caught:
        plan_upload(size)
    assert caught.value.field == "size"


def test_bad_config_is_refused_with_the_field() -> None:
    with pytest.raises(VodValidationError) as caught:
        PlanConfig(max_fanout=0)
    assert caught.value.field == "max_fanout"


@pytest.mark.parametrize(("size", "fanout", "batches"), [(GiB, 8, 8), (4 * GiB, 32, 32), (GiB, 100, 64)])
def test_batches_fill_the_fan_out_so_a_large_object_is_copied_in_parallel(size: int, fanout: int, batches: int) -> None:
    plan = plan_upload(size, PlanConfig(max_fanout=fanout))
    assert len(plan.batches) == batches
    assert plan.fanout == min(batches, fanout)
