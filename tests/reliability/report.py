"""Counts the reliability and security tests gather, printed at the end of the session (tests/conftest.py).

Each test records what it tried (cells of the fault matrix, bad inputs, objects under load); the
session-finish hook prints the matrix as a table and the totals, so ``make test`` shows them.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Report:
    matrix: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (call, fault) → [run, passed]
    outcomes: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def matrix_run(self, call: str, fault: str) -> None:
        with self._lock:
            self.matrix.setdefault((call, fault), [0, 0])[0] += 1

    def matrix_passed(self, call: str, fault: str, outcome: str) -> None:
        with self._lock:
            self.matrix.setdefault((call, fault), [0, 0])[1] += 1
            self.outcomes[outcome] += 1

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def note(self, line: str) -> None:
        with self._lock:
            self.notes.append(line)

    def matrix_table(self) -> list[str]:
        if not self.matrix:
            return []
        calls = list(dict.fromkeys(c for c, _ in self.matrix))
        faults = list(dict.fromkeys(f for _, f in self.matrix))
        width = max(len(c) for c in calls)
        head = f"{'call':{width}} | " + " | ".join(f"{f:^11}" for f in faults)
        lines = [head, "-" * len(head)]
        for call in calls:
            cells = []
            for fault in faults:
                run, passed = self.matrix.get((call, fault), [0, 0])
                cells.append(f"{f'{passed}/{run}' if run else '-':^11}")
            lines.append(f"{call:{width}} | " + " | ".join(cells))
        run = sum(v[0] for v in self.matrix.values())
        passed = sum(v[1] for v in self.matrix.values())
        lines.append(f"cells passed/run: {passed}/{run}; outcomes: {dict(sorted(self.outcomes.items()))}")
        return lines


REPORT = Report()
