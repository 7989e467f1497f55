"""Who may import whom (DESIGN.md §5): what ships to SCF never depends on developer tools or the emulator.

Every ``import`` and ``from ... import`` in every module is read from the source (top level, inside
functions, under ``TYPE_CHECKING``: all of them), so a lazy import cannot slip through.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "library": ROOT / "shared" / "vodflow",
    "emulator": ROOT / "shared" / "tencent_emulator",
    "functions": ROOT / "functions",
    "ops": ROOT / "shared" / "vodflow_ops",
}
# (importer, top-level package it must not import, why)
RULES = [
    ("library", "tencent_emulator", "the library ships to SCF; the emulator does not"),
    ("library", "vodflow_ops", "developer tools do not ship to SCF"),
    ("library", "functions", "handlers call the library, never the reverse"),
    ("emulator", "vodflow", "the emulator stands alone: it must not know the code it tests"),
    ("emulator", "vodflow_ops", "the emulator stands alone"),
    ("functions", "tencent_emulator", "handlers import only the library"),
    ("functions", "vodflow_ops", "handlers import only the library"),
]


def imported_packages(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add((node.module.split(".")[0], node.lineno))
    return out


def test_the_rules_see_real_imports(tmp_path: Path) -> None:
    """The scanner finds imports at any depth (a rule that sees nothing could never fail)."""
    sample = tmp_path / "m.py"
    sample.write_text(
        "import os\ndef f():\n    from tencent_emulator.core import cloud\n    import vodflow.flow as x\n"
    )
    assert {name for name, _ in imported_packages(sample)} == {"os", "tencent_emulator", "vodflow"}
    assert any(p.name == "dev.py" for p in (LAYERS["ops"]).glob("*.py"))  # the layer folders are where we think


@pytest.mark.parametrize(("importer", "forbidden", "why"), RULES, ids=[f"{a}-not-{b}" for a, b, _ in RULES])
def test_import_rule(importer: str, forbidden: str, why: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(LAYERS[importer].rglob("*.py"))
        for name, line in imported_packages(path)
        if name == forbidden
    ]
    assert offenders == [], f"{importer} imports {forbidden} ({why}): {offenders}"


def test_functions_import_only_the_library_and_the_standard_library() -> None:
    import sys

    allowed = {"vodflow", *sys.stdlib_module_names}
    for path in LAYERS["functions"].rglob("*.py"):
        others = {name for name, _ in imported_packages(path)} - allowed
        assert not others, f"{path.relative_to(ROOT)} imports {others}"
