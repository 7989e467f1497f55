"""Fault injection: errors, latency, dropped connections, a 200 with an error body, killed functions.

A fault matches a service and an action (``*`` for any) and, optionally, the SCF function making
the call. It fires ``times`` times (or forever when ``times`` is None), each time with
``probability`` drawn from a generator seeded by ``seed`` so a failing run can be replayed.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, Optional


class FunctionKilled(BaseException):
    """Raised inside an in-process SCF invocation to end it as a kill would.

    It derives from BaseException so that ``except Exception`` in user code does not swallow it.
    """

    def __init__(self, point: str) -> None:
        super().__init__(point)
        self.point = point


@dataclass
class Fault:
    service: str
    action: str = "*"
    code: Optional[str] = None
    status: Optional[int] = None
    message: Optional[str] = None
    latency: float = 0.0
    drop: bool = False
    timeout: bool = False
    error_body: bool = False
    corrupt: bool = False
    hook: Optional[Callable[[], None]] = None
    kill: Optional[str] = None
    function: Optional[str] = None
    times: Optional[int] = 1
    probability: float = 1.0
    seed: Optional[int] = None
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.kill not in (None, "before", "after"):
            raise ValueError(f"kill must be 'before' or 'after', not {self.kill!r}")
        if self.error_body and self.code is None:
            self.code = "InternalError"
        self._rng = random.Random(self.seed)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, service: str, action: str, function: Optional[str]) -> bool:
        if self.exhausted or self.service not in ("*", service) or self.action not in ("*", action):
            return False
        return self.function is None or self.function == function

    @property
    def point(self) -> str:
        return f"{self.kill}:{self.service}:{self.action}"


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(
        self,
        service: str,
        action: str = "*",
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        message: Optional[str] = None,
        latency: float = 0.0,
        drop: bool = False,
        timeout: bool = False,
        error_body: bool = False,
        corrupt: bool = False,
        hook: Optional[Callable[[], None]] = None,
        kill: Optional[str] = None,
        function: Optional[str] = None,
        times: Optional[int] = 1,
        probability: float = 1.0,
        seed: Optional[int] = None,
    ) -> Fault:
        """Add a fault. ``kill='before'|'after'`` ends the calling SCF function around the call;
        ``corrupt`` flips a byte of the request body in transit (the service stores what it received);
        ``hook`` runs just before the call is handled (to change the world at an exact point, in tests)."""
        fault = Fault(
            service=service,
            action=action,
            code=code,
            status=status,
            message=message,
            latency=latency,
            drop=drop,
            timeout=timeout,
            error_body=error_body,
            corrupt=corrupt,
            hook=hook,
            kill=kill,
            function=function,
            times=times,
            probability=probability,
            seed=seed,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, service: str, action: str, function: Optional[str]) -> list[Fault]:
        """The faults that fire on this call; each firing is counted."""
        out: list[Fault] = []
        with self._lock:
            for f in self._faults:
                if f.matches(service, action, function) and f._rng.random() < f.probability:
                    f.fired += 1
                    out.append(f)
        return out

    def __iter__(self):  # type: ignore[no-untyped-def]
        with self._lock:
            return iter(list(self._faults))
