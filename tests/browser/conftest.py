"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium) against the local stack.

Nothing downloads a browser: without ``/usr/bin/chromium`` and ``chromedriver`` the browser tests are skipped
with one line saying how to get them (``.ci/run`` installs them when it runs as root). The page's origin is the
function URL (a loopback URL, reached directly); presigned COS URLs (``http://<bucket>.cos...``) go through the
emulator as an HTTP proxy (``--proxy-server``), loopback stays direct (Chromium's implicit bypass).
Screenshots of each final state go to ``build/test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vodflow_ops.dev import LocalStack

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
HOW = "browser tests skipped: headless Chromium not found; get it with `apt-get install chromium chromium-driver`"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
)


def browser_missing() -> bool:
    return not (CHROMIUM and CHROMEDRIVER)


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as st:
        yield st


@pytest.fixture
def driver(stack: LocalStack) -> Iterator[Any]:
    if browser_missing():
        # CI (.ci/run sets CI and installs Chromium) must run these tests; only a developer's machine may skip.
        assert not os.environ.get("CI"), f"CI must run the browser tests: {HOW}"
        pytest.skip(HOW)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="vodflow-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument(f"--proxy-server={stack.endpoint}")
    opts.add_argument("--window-size=1200,1400")
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_script_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(drv: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(1200, min(max(int(height) + 100, 800), 6000))
    drv.save_screenshot(str(path))
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """On a machine without the browser, one line says how to get the browser tests (the rest ran)."""
    if browser_missing():
        terminalreporter.write_line(HOW)
