"""Installing vodflow into an application's environment never breaks that application's tests.

A fresh virtual environment with the application's own test runner (pytest) and vodflow without extras:
``pytest --version`` works and a test suite that never asks for ``tencent_cloud`` runs; one that asks is told
which extra to install. With the emulator extra (slow: it installs the runtime dependencies), the fixture
works. pip takes wheels from its cache where it has them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.dx.conftest import ROOT

PIP = ["-m", "pip", "install", "--disable-pip-version-check", "-q"]


def run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vodflow's wheel, built as pip builds it from the source tree."""
    out = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)], ROOT)
    assert built.returncode == 0, built.stderr[-2000:]
    (found,) = out.glob("vodflow-*.whl")
    return found


def fresh_venv(where: Path) -> Path:
    made = run([sys.executable, "-m", "venv", str(where)], where.parent)
    assert made.returncode == 0, made.stderr
    return where / "bin" / "python"


APP_TESTS = {
    "test_app.py": "def test_the_app():\n    assert 1 + 1 == 2\n",
}
FIXTURE_TEST = textwrap.dedent(
    """
    def test_uses_the_cloud(tencent_cloud):
        tencent_cloud.cos.create_bucket("media-1250000000")
        assert "media-1250000000" in tencent_cloud.cos.buckets
    """
)


def test_vodflow_without_extras_leaves_pytest_working(tmp_path: Path, wheel: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    pytest_version = __import__("pytest").__version__
    installed = run([str(python), *PIP, f"pytest=={pytest_version}"], tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    installed = run([str(python), *PIP, "--no-deps", str(wheel)], tmp_path)  # no extras, no emulator deps
    assert installed.returncode == 0, installed.stderr[-2000:]

    version = run([str(python), "-m", "pytest", "--version"], tmp_path)
    assert version.returncode == 0, version.stderr  # the plugin loaded without responses or PyYAML
    app = tmp_path / "app"
    app.mkdir()
    for name, text in APP_TESTS.items():
        (app / name).write_text(text)
    ran = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], app)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout + ran.stderr

    (app / "test_cloud.py").write_text(FIXTURE_TEST)
    asked = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_cloud.py"], app)
    assert asked.returncode == 1, asked.stdout
    assert "pip install 'vodflow[emulator]'" in asked.stdout and "Traceback" not in asked.stdout

    imported = run([str(python), "-c", "from tencent_emulator import mock_tencent"], app)
    assert imported.returncode == 1 and "pip install 'vodflow[emulator]'" in imported.stderr


@pytest.mark.slow
def test_with_the_emulator_extra_the_fixture_works(tmp_path: Path, wheel: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    pytest_version = __import__("pytest").__version__
    reqs = ["-r", str(ROOT / "requirements.txt"), "responses==0.26.3", "PyYAML==6.0.4"]
    installed = run([str(python), *PIP, f"pytest=={pytest_version}", *reqs, f"{wheel}[emulator]"], tmp_path, 900)
    assert installed.returncode == 0, installed.stderr[-2000:]
    app = tmp_path / "app"
    app.mkdir()
    (app / "test_cloud.py").write_text(FIXTURE_TEST)
    ran = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], app)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout + ran.stderr


def test_deploy_app_fills_the_defaults_make_deploy_fills(tmp_path: Path) -> None:
    """The README's ``cloud.deploy_app("serverless.yml", variables={...})`` with only what has no default."""
    from tencent_emulator import mock_tencent
    from vodflow.pipeline.config import deployment_variables

    with mock_tencent(data_dir=tmp_path) as cloud:
        cloud.cos.create_bucket("staging-1250000000")
        given = {"VODFLOW_STAGING_BUCKET": "staging-1250000000", "VODFLOW_API_TOKEN": "t0ken-for-the-test"}
        cloud.deploy_app(str(ROOT / "serverless.yml"), variables=given)
        env = cloud.scf.function("vodflow-ingest").environment
        expected = deployment_variables(given)
        assert env["VODFLOW_MAX_FANOUT"] == expected["VODFLOW_MAX_FANOUT"] == "32"
        assert env["VODFLOW_STAGING_BUCKET"] == "staging-1250000000"
