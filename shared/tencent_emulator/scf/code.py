"""A function's code: a directory (``deploy_app``, the working tree) or a zip package (the SCF API).

Limits: tencentcloud-sdk-python ``scf/v20180416/models.py`` (``Code.ZipFile``: "zip包大小上限为 50MB";
``UpdateFunctionCodeRequest.ZipFile``: "最大支持20M"), tencent-scf.md §4.4 (500 MB unpacked per
version). The interpreter for a ``Runtime`` is looked up on PATH, then under ``pyenv root``.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Optional, Union

log = logging.getLogger("tencent_emulator.scf")

CREATE_ZIP_LIMIT = 50 * 1024 * 1024
UPDATE_ZIP_LIMIT = 20 * 1024 * 1024
UNPACKED_LIMIT = 500 * 1024 * 1024


@dataclass(frozen=True)
class DirCode:
    """Code read in place from a directory (``deploy_app``: the working tree, so tests run current code)."""

    root: Path


@dataclass(frozen=True)
class ZipCode:
    """A zip package (``ZipFile`` base64, or a COS object); ``source`` is ``ZipFile`` or ``Cos``."""

    data: bytes
    source: str = "ZipFile"


CodeSource = Union[DirCode, ZipCode]


class CodeError(Exception):
    """The package cannot become a function: ``code`` and ``message`` go to ``StatusReasons``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def handler_path(root: Path, handler: str) -> tuple[Path, str]:
    """``a.b.main_handler`` -> (``<root>/a/b.py``, ``main_handler``)."""
    module, _, func = handler.rpartition(".")
    return root.joinpath(*module.split(".")).with_suffix(".py"), func


def unpack(data: bytes, dest: Path) -> None:
    """Unpack a zip into ``dest``; refuses members outside it and packages over the unpacked limit."""
    try:
        zf = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile:
        raise CodeError(
            "InvalidParameterValue.ZipFile", "The package is not a standard zip file; compress it again and retry."
        ) from None
    with zf:
        total = 0
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise CodeError(
                    "InvalidParameterValue.ZipFile", f"zip member {info.filename!r} is outside the code root"
                )
            total += info.file_size
        if total > UNPACKED_LIMIT:
            raise CodeError(
                "InvalidParameterValue.ZipFile", f"the code is {total} bytes unpacked; the limit is {UNPACKED_LIMIT}"
            )
        dest.mkdir(parents=True, exist_ok=True)
        try:
            zf.extractall(dest)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise CodeError("InvalidParameterValue.ZipFile", f"the zip cannot be unpacked: {exc}") from None


def _version_of(python: str) -> Optional[str]:
    try:
        out = subprocess.run(  # noqa: S603  (a local interpreter asked for its version)
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@cache
def python_for_runtime(runtime: str) -> str:
    """The interpreter for ``Python3.10`` & co: ``python3.10`` on PATH, else ``$(pyenv root)/versions/3.10.*``,
    else this interpreter (with a warning: the code then runs on another Python than the cloud's)."""
    want = runtime[len("Python") :] if runtime.startswith("Python") else ""
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if want and want != current:
        found = shutil.which(f"python{want}")
        if found and _version_of(found) == want:
            return found
        roots = [os.environ.get("PYENV_ROOT") or ""]
        pyenv = shutil.which("pyenv")
        if pyenv:
            try:
                roots.append(
                    subprocess.run(  # noqa: S603  (pyenv from PATH, asked for its root)
                        [pyenv, "root"], capture_output=True, text=True, timeout=20, check=False
                    ).stdout.strip()
                )
            except (OSError, subprocess.SubprocessError):
                pass
        roots.append(str(Path.home() / ".pyenv"))
        for root in filter(None, roots):
            for candidate in sorted(
                glob.glob(os.path.join(root, "versions", f"{want}.*", "bin", "python3")), reverse=True
            ):
                if _version_of(candidate) == want:
                    return candidate
        log.warning("no Python %s interpreter found for Runtime %s; running on Python %s", want, runtime, current)
    return sys.executable
