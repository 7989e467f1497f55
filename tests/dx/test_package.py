"""`make package`: the handlers import in a clean interpreter of the runtime Python; CRC64 uses the C extension."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

from vodflow_ops import packaging


def runtime_python() -> Optional[str]:
    """A working interpreter of the runtime's version: on PATH, or installed by pyenv (shims may be inactive)."""
    candidates = [shutil.which(f"python{packaging.RUNTIME_PYTHON}")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
        candidates += [str(p) for p in sorted(Path(root, "versions").glob(f"{packaging.RUNTIME_PYTHON}.*/bin/python3"))]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


@pytest.mark.slow
def test_the_package_imports_every_handler_in_a_clean_runtime_python(tmp_path: Path) -> None:
    python = runtime_python()
    assert python, f"Python {packaging.RUNTIME_PYTHON} (the SCF runtime) is needed to check the package"
    zip_path = packaging.build(tmp_path / "build")
    result = packaging.verify(zip_path, python, tmp_path)
    assert all(result[name] is True for name in packaging.FUNCTIONS)
    assert result["crc64"] == 0x995DC9BBDF1939FA  # CRC-64/XZ check value of b"123456789"
    assert result["crc_extension"] is True
    assert str(result["vodflow_from"]).startswith(str(tmp_path))


def test_the_runtime_requirements_swap_crcmod_for_its_wheel_and_keep_every_other_pin() -> None:
    reqs, cos = packaging.runtime_requirements(packaging.ROOT / "requirements.txt")
    assert packaging.CRCMOD_WHEEL in reqs and not any(r.startswith("crcmod==") for r in reqs)
    assert cos.startswith("cos-python-sdk-v5==")
    pinned = [line.split("#")[0].strip() for line in (packaging.ROOT / "requirements.txt").read_text().splitlines()]
    for line in pinned:
        if line and not line.startswith(("crcmod", "cos-python-sdk-v5")):
            assert line in reqs
