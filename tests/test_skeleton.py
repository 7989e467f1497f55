"""The project installs, its packages and every SCF handler import, and the CLI answers."""

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ["ingest", "part_copy", "finalize", "api", "sweeper"]


def test_packages_import() -> None:
    vodflow = importlib.import_module("vodflow")
    emulator = importlib.import_module("tencent_emulator")
    assert vodflow.__version__
    assert emulator.__version__


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handler_modules_import_and_expose_main_handler(name: str) -> None:
    path = ROOT / "functions" / name / "index.py"
    spec = importlib.util.spec_from_file_location(f"scf_{name}_index", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main_handler)


def test_vodflow_help_works() -> None:
    exe = Path(sys.executable).parent / "vodflow"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "Usage: vodflow" in out.stdout


def test_python_m_vodflow_version() -> None:
    out = subprocess.run([sys.executable, "-m", "vodflow", "--version"], capture_output=True, text=True, check=True)
    assert "vodflow" in out.stdout
