"""The upload plan: a pure function of size, COS limits and config.

COS allows at most 10,000 parts of at most 5 GiB (every part but the last at least 1 MB), about
50 write QPS on one key and about 15 Gbit/s per account and region. So parts stay large (the
fewer requests the better), the part size follows the object size instead of the official SDK's
fixed 1 MiB, and batches of parts are sized so that one SCF invocation (900 s) finishes well
inside its timeout at a conservative throughput, and small enough that the batches fill the
fan-out width (each batch is one invocation, one connection at a time). Batches are listed compactly (first and last
part number) so an async payload stays far below its 128 KB limit whatever the part count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import VodValidationError

__all__ = ["Batch", "Limits", "MiB", "Part", "Plan", "PlanConfig", "plan_upload"]

KiB = 1024
MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Service limits; the defaults are COS's and SCF's."""

    max_parts: int = 10_000
    min_part_size: int = MiB
    max_part_size: int = 5 * GiB
    max_single_put: int = 5 * GiB
    invocation_timeout_s: float = 900.0
    async_payload_bytes: int = 128 * KiB

    @property
    def max_object_size(self) -> int:
        return self.max_parts * self.max_part_size


@dataclass(frozen=True)
class PlanConfig:
    """Choices within the limits.

    ``part_size``/``parts_per_batch`` override the computed values (tests use small parts, with a
    smaller ``Limits.min_part_size`` if they go below 1 MiB); the part size is still raised to what
    the limits require.
    """

    inline_threshold: int = 64 * MiB
    preferred_part_size: int = 16 * MiB
    part_size: Optional[int] = None
    parts_per_batch: Optional[int] = None
    # A conservative throughput for one invocation copying COS to COS, and the share of the
    # timeout a batch may use: a batch planned at 20 MiB/s for 45% of 900 s still finishes at half that speed.
    throughput_bytes_per_s: float = 20 * MiB
    timeout_budget: float = 0.45
    max_fanout: int = 16
    parallelism: int = 1

    def __post_init__(self) -> None:
        for name in ("preferred_part_size", "throughput_bytes_per_s", "max_fanout", "parallelism"):
            if getattr(self, name) <= 0:
                raise VodValidationError("InvalidParameterValue", name, getattr(self, name), "must be positive")
        if self.inline_threshold < 0:
            raise VodValidationError("InvalidParameterValue", "inline_threshold", self.inline_threshold, "negative")
        if self.part_size is not None and self.part_size <= 0:
            raise VodValidationError("InvalidParameterValue", "part_size", self.part_size, "must be positive")
        if self.parts_per_batch is not None and self.parts_per_batch <= 0:
            raise VodValidationError(
                "InvalidParameterValue", "parts_per_batch", self.parts_per_batch, "must be positive"
            )
        if not 0 < self.timeout_budget <= 1:
            raise VodValidationError("InvalidParameterValue", "timeout_budget", self.timeout_budget, "not in (0, 1]")


@dataclass(frozen=True)
class Part:
    number: int
    offset: int
    length: int


@dataclass(frozen=True)
class Batch:
    """Parts ``first..last`` (inclusive) handled by one invocation."""

    index: int
    first: int
    last: int

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)

    def to_payload(self) -> dict[str, Any]:
        return {"batch": self.index, "parts": [self.first, self.last]}


@dataclass(frozen=True)
class Plan:
    size: int
    inline: bool
    part_size: int
    part_count: int
    parts_per_batch: int
    batches: tuple[Batch, ...]
    fanout: int
    limits: Limits = field(default_factory=Limits, repr=False)

    @property
    def parts(self) -> list[Part]:
        """Every part in order (computed; the plan itself stays small)."""
        return [self.part(n) for n in range(1, self.part_count + 1)]

    def part(self, number: int) -> Part:
        if not 1 <= number <= self.part_count:
            raise IndexError(f"part {number} not in 1..{self.part_count}")
        offset = (number - 1) * self.part_size
        return Part(number, offset, min(self.part_size, self.size - offset))

    def batch_parts(self, batch: Batch) -> list[Part]:
        return [self.part(n) for n in batch.numbers]

    def batch_seconds(self, config: PlanConfig) -> float:
        """Planned time of the largest batch at the configured throughput."""
        return self.parts_per_batch * self.part_size / config.throughput_bytes_per_s

    def payload_bytes(self, extra: Optional[dict[str, Any]] = None) -> int:
        """Size of the largest async payload for one batch (with whatever else the caller adds)."""
        if not self.batches:
            return 0
        body = dict(extra or {})
        body.update(self.batches[-1].to_payload())
        return len(json.dumps(body, separators=(",", ":")).encode())


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def plan_upload(size: int, config: Optional[PlanConfig] = None, limits: Optional[Limits] = None) -> Plan:
    """Choose inline vs multipart, the part size and the batches for an object of ``size`` bytes."""
    config = config or PlanConfig()
    limits = limits or Limits()
    if size < 0:
        raise VodValidationError("InvalidParameterValue.MediaSize", "size", size, "must be >= 0")
    if size > limits.max_object_size:
        raise VodValidationError(
            "InvalidParameterValue.MediaSize",
            "size",
            size,
            f"exceeds {limits.max_parts} parts of {limits.max_part_size} bytes",
        )
    if size <= config.inline_threshold and size <= limits.max_single_put:
        return Plan(size, True, size, 1 if size else 0, 1, (), 0, limits)

    # Smallest legal part: enough so that max_parts parts cover the object, in whole MiB.
    required = -(-size // limits.max_parts)
    if required > limits.min_part_size:
        required = _round_up(required, MiB)
    wanted = config.part_size if config.part_size is not None else config.preferred_part_size
    part_size = min(max(wanted, required, limits.min_part_size), limits.max_part_size)
    part_count = -(-size // part_size)

    budget_bytes = config.throughput_bytes_per_s * limits.invocation_timeout_s * config.timeout_budget
    per_batch = max(1, int(budget_bytes // part_size))
    if config.parts_per_batch is not None:
        per_batch = min(per_batch, config.parts_per_batch)
    else:
        # Enough batches to fill the fan-out: a 1 GiB object in one batch would be one connection.
        per_batch = min(per_batch, max(1, -(-part_count // config.max_fanout)))
    per_batch = min(per_batch, part_count)
    batches = tuple(
        Batch(i, first, min(first + per_batch - 1, part_count))
        for i, first in enumerate(range(1, part_count + 1, per_batch))
    )
    fanout = min(len(batches), config.max_fanout)
    return Plan(size, False, part_size, part_count, per_batch, batches, fanout, limits)
