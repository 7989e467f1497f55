"""The fault matrix (see matrix.py).

``make test`` runs two cells per call (every kind of fault is covered) once each; ``make test-full``
runs every cell, once and then hard (the fault outlasting every retry, so the sweeper must finish).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.matrix import Call, FaultKind, all_cells, cell_id, fast_cells, hard_times, run_cell

FAST = fast_cells()
REST = [c for c in all_cells() if c not in FAST]
ALL = all_cells()


@pytest.mark.parametrize(("call", "fault"), FAST, ids=[cell_id(c) for c in FAST])
def test_fault_matrix_fast_subset(tmp_path: Path, call: Call, fault: FaultKind) -> None:
    run_cell(tmp_path, call, fault)


@pytest.mark.slow
@pytest.mark.parametrize(("call", "fault"), REST, ids=[cell_id(c) for c in REST])
def test_fault_matrix_every_cell_once(tmp_path: Path, call: Call, fault: FaultKind) -> None:
    run_cell(tmp_path, call, fault)


@pytest.mark.slow
@pytest.mark.parametrize(("call", "fault"), ALL, ids=[cell_id(c) for c in ALL])
def test_fault_matrix_every_cell_hard(tmp_path: Path, call: Call, fault: FaultKind) -> None:
    run_cell(tmp_path, call, fault, times=hard_times(call, fault), label="hard")
