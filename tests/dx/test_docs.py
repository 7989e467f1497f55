"""Every fenced code block of README.md and docs/*.md runs in a test.

Each block is one of three kinds, and a block that is none of them fails:

- **executed** (```bash, ```python, no marker): run here, in the repo's root, against the local stack
  (:class:`vodflow_ops.dev.LocalStack`, what `make dev` runs) with the variables the docs tell users to
  export (`VODFLOW_API_URL`, `VODFLOW_API_TOKEN`, `VODFLOW_TENCENT_ENDPOINT`, `TENCENT_SECRET_ID`,
  `TENCENT_SECRET_KEY`) and the venv's `bin` on `PATH`: bash blocks with `bash -e -o pipefail`, python
  blocks with the interpreter of the tests;
- **mapped** (a ``<!-- doc-test: KEY -->`` line right above the block): a command too heavy or too
  long-lived for here (`make demo`, `make deploy`, a server that runs until Ctrl-C). :data:`MAPPED` is the
  reviewed table: KEY → the tests that run it and the exact command lines the block may hold, so a command
  added to a mapped block fails here until someone maps it;
- **not a command** (```text, ```json, ```mermaid): diagrams, output, samples; JSON samples must parse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from tests.dx.conftest import ROOT
from vodflow_ops.dev import LocalStack

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXECUTED = {"bash", "python"}
NOT_COMMANDS = {"text", "json", "mermaid"}
FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"^<!-- doc-test: ([a-z0-9-]+) -->$")


@dataclass(frozen=True)
class Mapped:
    """The tests that run a mapped block's commands, and the command lines (comments dropped) it may hold."""

    tests: tuple[str, ...]
    commands: tuple[str, ...]
    why: str


# The reviewed table. A test is "path" or "path::function"; both must exist.
MAPPED: dict[str, Mapped] = {
    "make-demo-and-test": Mapped(
        tests=("tests/dx/test_demo_dev.py::test_make_demo_prints_three_file_ids_and_checks_the_bytes", ".ci/run"),
        commands=("make demo", "make test"),
        why="the demo takes a minute (a 200 MiB fan-out); make test is what CI runs (.ci/run)",
    ),
    "make-dev": Mapped(
        tests=("tests/dx/test_demo_dev.py::test_make_dev_serves_the_api_and_the_cli_reads_it",),
        commands=(
            """make dev ARGS="--procedure 'Your Procedure Name'\"""",
            """make dev ARGS="--procedure 'Your Procedure Name' --bucket media\"""",
        ),
        why="runs until Ctrl-C; the test starts it with these options and uses what it prints",
    ),
    "make-deploy": Mapped(
        tests=("tests/dx/test_rehearsal.py::test_make_deploy_rehearsed_on_a_fresh_emulator",),
        commands=(
            "export TENCENT_SECRET_ID=... TENCENT_SECRET_KEY=...",
            "export VODFLOW_STAGING_BUCKET=media-staging-1250000000 VODFLOW_REGION=ap-guangzhou VODFLOW_API_TOKEN=...",
            "make plan",
            "make deploy",
            "make destroy",
        ),
        why="needs an account: rehearsed with these variables on `python -m tencent_emulator serve`",
    ),
    "make-deploy-components": Mapped(
        tests=("tests/dx/test_deploy.py::test_the_components_deployer_gets_the_app_with_its_function_url_trigger",),
        commands=("VODFLOW_DEPLOYER=components make deploy",),
        why="needs Node.js and the serverless CLI: the test runs make deploy with the CLI replaced by a recorder",
    ),
    "make-package": Mapped(
        tests=("tests/dx/test_package.py::test_the_package_imports_every_handler_in_a_clean_runtime_python",),
        commands=("make package",),
        why="downloads the runtime's wheels",
    ),
    "emulator-serve": Mapped(
        tests=(
            "tests/emulator/test_admin.py::test_serve_prints_keys_and_sets_up_the_account_from_its_flags",
            "tests/emulator/test_admin.py::test_serve_then_the_readme_library_example_works",
        ),
        commands=('python -m tencent_emulator serve --port 9000 --procedure "Your Procedure Name"',),
        why="runs until Ctrl-C (the tests use port 0)",
    ),
    "browser-tests": Mapped(
        tests=("tests/browser",),
        commands=(".venv/bin/python -m pytest tests/browser",),
        why="the browser tests themselves (part of make test)",
    ),
    "apt-chromium": Mapped(
        tests=(".ci/run", "tests/browser/conftest.py"),
        commands=("apt-get install chromium chromium-driver",),
        why="needs root: .ci/run installs them so, and the browser tests use them",
    ),
}

# `make X` in a mapped block is the command its test runs when the Makefile's recipe says so.
RECIPES = {
    "demo": "$(BIN)/python -m vodflow_ops.demo $(ARGS)",
    "dev": "$(BIN)/python -m vodflow_ops.dev $(ARGS)",
    "test": '$(BIN)/python -m pytest -m "not slow"',
}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    code: str
    marker: Optional[str]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for path in DOCS:
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            start, lang = i, m.group(1)
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                i += 1
            assert i < len(lines), f"{path.relative_to(ROOT)}:{start + 1}: the block never closes"
            above = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            marker = MARKER.match(above.strip())
            code = "\n".join(lines[start + 1 : i]) + "\n"
            found.append(Block(path, start + 1, lang, code, marker.group(1) if marker else None))
            i += 1
    return found


BLOCKS = blocks()
RUN = [b for b in BLOCKS if b.lang in EXECUTED and b.marker is None]


def command_lines(code: str) -> list[str]:
    """The commands of a block: comment lines and trailing `  # comments` dropped, whitespace collapsed."""
    out = []
    for raw in code.splitlines():
        line = re.sub(r"\s+#\s.*$", "", raw).strip()
        if line and not line.startswith("#"):
            out.append(" ".join(line.split()))
    return out


def test_every_block_is_executed_mapped_or_not_a_command() -> None:
    assert len(BLOCKS) > 10 and RUN
    wrong = []
    for b in BLOCKS:
        if b.marker is not None:
            if b.marker not in MAPPED:
                wrong.append(f"{b.where}: marker {b.marker!r} is not in MAPPED")
        elif b.lang not in EXECUTED | NOT_COMMANDS:
            wrong.append(
                f"{b.where}: ```{b.lang}: say what it is (bash/python run here; text/json/mermaid are not run)"
            )
    assert not wrong, "\n".join(wrong)


def test_mapped_blocks_hold_only_the_reviewed_commands_of_existing_tests() -> None:
    used = {b.marker for b in BLOCKS if b.marker}
    assert used == set(MAPPED), f"unused entries: {set(MAPPED) - used}"
    for b in (b for b in BLOCKS if b.marker):
        entry = MAPPED[b.marker or ""]
        unmapped = [c for c in command_lines(b.code) if c not in entry.commands]
        assert not unmapped, f"{b.where}: not run by {entry.tests}: {unmapped}"
    for key, entry in MAPPED.items():
        assert entry.why and entry.commands, key
        for test in entry.tests:
            path, _, name = test.partition("::")
            assert (ROOT / path).exists(), f"{key}: {path} does not exist"
            if name:
                assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), f"{key}: no {test}"


def test_make_targets_of_mapped_blocks_run_what_their_tests_run() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target, recipe in RECIPES.items():
        m = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert m and recipe in m.group(1), f"make {target} no longer runs {recipe}"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "json"], ids=lambda b: b.where)
def test_json_samples_parse(block: Block) -> None:
    for doc in re.split(r"\n(?=\{)", block.code.strip()):  # a sample may hold several lines of JSON documents
        json.loads(doc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(data_dir=tmp_path_factory.mktemp("docs-stack")) as running:
        running.cloud.vod.add_procedure("Your Procedure Name")  # as make dev ARGS="--procedure ..." does
        yield running


@pytest.fixture(scope="module")
def user_env(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A terminal where the user pasted what `make dev` printed, with the venv's bin on PATH."""
    drop = ("TENCENT", "VODFLOW_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "http_proxy", "https_proxy", "HTTP_PROXY")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        VODFLOW_API_URL=stack.api_url,
        VODFLOW_API_TOKEN=stack.token,
        VODFLOW_TENCENT_ENDPOINT=stack.endpoint,
        TENCENT_SECRET_ID=stack.cloud.secret_id,
        TENCENT_SECRET_KEY=stack.cloud.secret_key,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        HOME=str(tmp_path_factory.mktemp("home")),  # no ~/.vodflow of the developer's
    )
    return env


@pytest.mark.parametrize("block", RUN, ids=lambda b: b.where)
def test_the_block_runs(block: Block, user_env: dict[str, str]) -> None:
    if block.lang == "bash":
        cmd = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    else:
        cmd = [sys.executable, "-c", block.code]
    ran = subprocess.run(cmd, cwd=ROOT, env=user_env, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, f"{block.where} exited {ran.returncode}\n{ran.stdout[-2000:]}\n{ran.stderr[-3000:]}"
