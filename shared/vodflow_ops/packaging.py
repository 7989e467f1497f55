"""`make package`: the SCF code package, built for the Linux runtime whatever machine builds it.

One zip serves all five functions (the ``multi-scf`` component deploys one code package; each
function's handler is ``<name>.index.main_handler``), with at its root: ``<name>/index.py`` per
function, the ``vodflow`` library (without the developer tools: CLI, demo, deploy) and the
runtime dependencies from requirements.txt, installed by pip for ``manylinux2014_x86_64`` /
CPython 3.9 with ``--only-binary=:all:`` so nothing is compiled for the build machine.

crcmod 1.7 has no wheel at all (sdist only, ``pip download --only-binary=:all: crcmod==1.7``
finds nothing), and its pure-Python fallback computes CRC64 at a few MB/s, which would make
part_copy CPU-bound. The package therefore ships ``crcmod-plus`` (same ``crcmod`` import name
and API, a maintained fork with manylinux wheels carrying the C extension) instead, and
cos-python-sdk-v5 (which names ``crcmod`` as a dependency) is installed ``--no-deps`` with its
other dependencies listed. :func:`verify` imports every handler from the unpacked zip and checks
that CRC64 runs on the C extension.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("ingest", "part_copy", "finalize", "api", "sweeper")
PLATFORM = "manylinux2014_x86_64"
RUNTIME_PYTHON = "3.10"  # serverless.yml: runtime Python3.10 (requests 2.34 needs >= 3.10)
CRCMOD_WHEEL = "crcmod-plus==2.3.6"
COS_SDK_DEPS = ("xmltodict==1.0.4", "six==1.17.0", "pycryptodome==4.4.0")
# Developer tools that need click/tqdm/PyYAML or the emulator: not deployed.
DEV_ONLY = {"cli.py", "__main__.py"}  # the CLI is a user tool, not a function
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip


def runtime_requirements(requirements: Path) -> tuple[list[str], str]:
    """requirements.txt with crcmod swapped for crcmod-plus; cos-python-sdk-v5 returned apart (``--no-deps``)."""
    reqs: list[str] = []
    cos = ""
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[=<>!~ ]", line, maxsplit=1)[0].lower()
        if name == "crcmod":
            reqs.append(CRCMOD_WHEEL)
        elif name == "cos-python-sdk-v5":
            cos = line
        else:
            reqs.append(line)
    if not cos:
        raise SystemExit("requirements.txt does not pin cos-python-sdk-v5")
    return [*reqs, *COS_SDK_DEPS], cos


def _pip(python: str, *args: str) -> None:
    cmd = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    subprocess.run(cmd, check=True)  # noqa: S603  (our own argv, no shell)


def install_dependencies(target: Path, python_version: str, requirements: Path) -> Path:
    """Linux wheels into ``target`` (cached by the requirement set and the Python version)."""
    reqs, cos = runtime_requirements(requirements)
    digest = hashlib.sha256("\n".join([PLATFORM, python_version, *reqs, cos]).encode()).hexdigest()[:12]
    deps = target / f"deps-py{python_version.replace('.', '')}-{digest}"
    if (deps / ".complete").is_file():
        return deps
    if deps.exists():
        shutil.rmtree(deps)
    common = [
        "--target",
        str(deps),
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
    ]
    _pip(sys.executable, *common, *reqs)
    _pip(sys.executable, *common, "--no-deps", cos)
    (deps / ".complete").write_text(digest)
    return deps


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in ("__pycache__", ".complete") or n.endswith((".pyc", ".pyo"))}
    if Path(directory).resolve() == (ROOT / "shared" / "vodflow").resolve():
        skip |= DEV_ONLY & set(names)
    return skip


def assemble(out: Path, deps: Path) -> Path:
    """The package tree: dependencies, the library, and one folder per function at the root."""
    tree = out / "package"
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(deps, tree, ignore=_ignore)
    shutil.copytree(ROOT / "shared" / "vodflow", tree / "vodflow", ignore=_ignore)
    for name in FUNCTIONS:
        (tree / name).mkdir()
        shutil.copy2(ROOT / "functions" / name / "index.py", tree / name / "index.py")
    return tree


def write_zip(tree: Path, zip_path: Path) -> Path:
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            rel = path.relative_to(tree).as_posix()
            info = zipfile.ZipInfo(rel, ZIP_DATE)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(zip_path)
    return zip_path


def sources_digest(deps: Path) -> str:
    """What the package is made of: the dependency set and every shipped source file's bytes."""
    h = hashlib.sha256(deps.name.encode())
    library = ROOT / "shared" / "vodflow"
    files = [p for p in sorted(library.rglob("*.py")) if not _ignore(str(p.parent), [p.name])]
    files += [ROOT / "functions" / name / "index.py" for name in FUNCTIONS]
    files += sorted(p for p in (library / "pipeline" / "static").glob("*") if p.is_file())  # the upload page
    for path in files:
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def build(out: Optional[Path] = None, python_version: str = RUNTIME_PYTHON) -> Path:
    """Build ``<out>/vodflow-scf.zip`` (and the unpacked ``<out>/package`` the deploy uploads).

    Unchanged sources and dependencies give the same zip, byte for byte (fixed timestamps, sorted
    entries); when the zip of the same inputs is already there, it is reused as it is.
    """
    out = (out or ROOT / "build").resolve()
    out.mkdir(parents=True, exist_ok=True)
    deps = install_dependencies(out / "cache", python_version, ROOT / "requirements.txt")
    zip_path, stamp = out / "vodflow-scf.zip", out / "vodflow-scf.inputs"
    digest = sources_digest(deps)
    if zip_path.is_file() and (out / "package").is_dir() and stamp.is_file() and stamp.read_text() == digest:
        return zip_path
    tree = assemble(out, deps)
    write_zip(tree, zip_path)
    stamp.write_text(digest)
    return zip_path


VERIFY = """
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
out = {}
for name in FUNCTIONS:
    spec = importlib.util.spec_from_file_location(name + ".index", f"{sys.argv[1]}/{name}/index.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    out[name] = callable(mod.main_handler)
import crcmod, vodflow.crc64 as c
out["crc64"] = c.crc64(b"123456789")
import crcmod.crcmod as impl
out["crc_extension"] = bool(impl._usingExtension)
out["vodflow_from"] = __import__("vodflow").__file__
print(json.dumps(out))
""".replace("FUNCTIONS", repr(FUNCTIONS))


def verify(zip_path: Path, python: str, workdir: Path) -> dict[str, object]:
    """Unzip into ``workdir`` and import every handler with ``python`` (a clean interpreter, -I)."""
    import json  # noqa: PLC0415

    unpacked = workdir / "user"
    if unpacked.exists():
        shutil.rmtree(unpacked)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(unpacked)
    proc = subprocess.run(  # noqa: S603
        [python, "-I", "-c", VERIFY, str(unpacked)], capture_output=True, text=True, cwd=workdir, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"handlers do not import from {zip_path}:\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vodflow_ops.packaging", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--python-version", default=RUNTIME_PYTHON, help="CPython version of the SCF runtime")
    args = parser.parse_args(argv)
    zip_path = build(args.out, args.python_version)
    size = zip_path.stat().st_size
    print(f"built {zip_path.relative_to(ROOT) if zip_path.is_relative_to(ROOT) else zip_path} ({size / 1e6:.1f} MB)")
    print(f"  handlers: {', '.join(f'{n}.index.main_handler' for n in FUNCTIONS)}")
    print(f"  for {PLATFORM}, CPython {args.python_version}; crcmod from {CRCMOD_WHEEL} (C extension)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
