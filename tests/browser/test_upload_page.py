"""The upload page at ``/`` of the function URL, driven in headless Chromium against the local stack (issue 15).

A small video with its cover → FileId and the in-page player loads it; a 300 MiB file with a reload in the
middle → resumes, no part sent twice (the emulator's request log), one Complete, one commit; cancel → no
multipart upload left open; an HLS folder → one job and a playable manifest; a wrong token → the message;
accessibility (labels, focus order, contrast of the main controls, phone width).
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any, Callable

import requests

from tests.browser.conftest import screenshot
from vodflow_ops.demo import hls_package
from vodflow_ops.dev import BUCKET, LocalStack

MiB = 1024 * 1024
HERE = Path(__file__).resolve().parent
UNFINISHED_ID = (
    "const l = JSON.parse(localStorage.getItem('vodflow.unfinished') || '[]'); return l.length && l[0].upload_id"
)
TEXT_OF = "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''"


def wait_for(cond: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")


def open_page(drv: Any, stack: LocalStack, token: str | None = None) -> None:
    drv.get(stack.page_url)
    wait_for(lambda: drv.execute_script("return document.readyState") == "complete", 20, "the page")
    if token is not None:
        drv.find_element("id", "token").send_keys(token)
        drv.find_element("id", "token-save").click()


def text(drv: Any, selector: str) -> str:
    return str(drv.execute_script(TEXT_OF, selector))


def api_get(stack: LocalStack, path: str) -> Any:
    r = requests.get(stack.api_url + path, headers={"Authorization": f"Bearer {stack.token}"}, timeout=30)
    r.raise_for_status()
    return r.json()


def staging_requests(stack: LocalStack, action: str, key_part: str) -> list[Any]:
    return [
        r
        for r in list(stack.cloud.requests)
        if r.action == action and r.host.startswith(BUCKET + ".") and key_part in r.path
    ]


# A real MP4 for the player: Chromium records one from a canvas (H.264 in MP4), so no binary fixture is needed.
RECORD_MP4 = (HERE / "record_mp4.js").read_text()


def test_wrong_token_shows_the_message(driver: Any, stack: LocalStack) -> None:
    open_page(driver, stack, "not-the-token")
    wait_for(lambda: "token was refused" in text(driver, "#token-state"), 20, "the wrong-token message")
    assert "AuthFailure.Token" in text(driver, "#token-state")
    screenshot(driver, "wrong-token")


def test_small_video_with_cover_gets_a_file_id_and_plays(driver: Any, stack: LocalStack, tmp_path: Path) -> None:
    open_page(driver, stack, stack.token)
    mp4, png = driver.execute_async_script(RECORD_MP4)
    video, cover = tmp_path / "clip.mp4", tmp_path / "poster.png"
    video.write_bytes(base64.b64decode(mp4))
    cover.write_bytes(base64.b64decode(png))
    driver.find_element("id", "files").send_keys(str(video))
    driver.find_element("id", "cover").send_keys(str(cover))
    driver.find_element("id", "opt-media_name").send_keys("browser clip")
    driver.find_element("id", "start").click()
    file_id = wait_for(lambda: text(driver, ".uploads .file-id"), 90, "the FileId")
    assert file_id.isdigit()
    jobs = [j for j in api_get(stack, "/jobs?limit=20")["jobs"] if j["file_id"] == file_id]
    assert len(jobs) == 1 and jobs[0]["cover_url"], jobs
    # The in-page player loads the media (metadata read through the emulator: a real MP4 from VOD's storage).
    ready = wait_for(
        lambda: driver.execute_script(
            "const v = document.querySelector('.uploads video'); return v && (v.error ? -1 : v.readyState)"
        ),
        30,
        "the player",
    )
    assert ready >= 1, "the player reported an error"
    wait_for(lambda: file_id in text(driver, "#jobs"), 20, "the recent jobs list")
    screenshot(driver, "video-with-cover")


def test_large_file_resumes_after_a_reload_sending_no_part_twice(
    driver: Any, stack: LocalStack, tmp_path: Path
) -> None:
    size = 300 * MiB
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:  # sparse: fast to make, read as zeros
        fh.truncate(size)
    open_page(driver, stack, stack.token)
    parallel = driver.find_element("id", "parallel")
    parallel.clear()
    parallel.send_keys("2")
    driver.find_element("id", "files").send_keys(str(big))
    driver.find_element("id", "start").click()
    upload_id = wait_for(
        lambda: driver.execute_script(UNFINISHED_ID),
        30,
        "the upload id",
    )
    wait_for(lambda: len([r for r in staging_requests(stack, "UploadPart", upload_id) if r.status == 200]) >= 5, 60)
    driver.refresh()  # in the middle: parts in flight are lost, the ones COS has stay
    wait_for(lambda: driver.execute_script("return !document.getElementById('unfinished-section').hidden"), 20)
    before = len([r for r in staging_requests(stack, "UploadPart", upload_id) if r.status == 200])
    status = api_get(stack, f"/uploads/{upload_id}")
    assert status["state"] == "pending" and 0 < len(status["parts_uploaded"]) < status["parts_total"]
    driver.find_element("id", "resume-file-0").send_keys(str(big))
    file_id = wait_for(lambda: text(driver, ".uploads .file-id"), 180, "the FileId after resuming")
    assert file_id.isdigit()
    parts_total = status["parts_total"]
    sent_ok = [r for r in staging_requests(stack, "UploadPart", upload_id) if r.status == 200]
    # Every part reached COS exactly once: as many successful UploadParts as parts, their bytes the file's size.
    assert len(sent_ok) == parts_total, (len(sent_ok), parts_total, before)
    assert sum(r.bytes_in for r in sent_ok) == size
    completes = [r for r in staging_requests(stack, "CompleteMultipartUpload", upload_id) if r.status == 200]
    assert len(completes) == 1
    job = api_get(stack, f"/uploads/{upload_id}")
    assert job["state"] == "staged"
    view = api_get(stack, f"/jobs/{job['job_id']}")
    assert view["file_id"] == file_id and view["bytes_total"] == size
    commits = [r for r in stack.cloud.requests if r.action == "CommitUpload" and r.status == 200]
    assert len([c for c in commits if c.started >= completes[0].started]) == 1
    screenshot(driver, "large-file-resumed")


def test_cancel_leaves_no_multipart_upload_open(driver: Any, stack: LocalStack, tmp_path: Path) -> None:
    big = tmp_path / "cancel-me.mp4"
    with big.open("wb") as fh:
        fh.truncate(120 * MiB)
    open_page(driver, stack, stack.token)
    parallel = driver.find_element("id", "parallel")
    parallel.clear()
    parallel.send_keys("1")
    driver.find_element("id", "files").send_keys(str(big))
    driver.find_element("id", "start").click()
    upload_id = wait_for(
        lambda: driver.execute_script(UNFINISHED_ID),
        30,
    )
    wait_for(lambda: staging_requests(stack, "UploadPart", upload_id), 30, "a part on its way")
    driver.find_element("css selector", ".uploads .cancel").click()
    wait_for(lambda: "Cancelled" in text(driver, ".uploads .status"), 30, "the cancel message")
    assert [u for u in stack.cloud.cos.list_multipart_uploads(BUCKET) if upload_id in u.key] == []
    assert api_get(stack, f"/uploads/{upload_id}")["state"] == "cancelled"
    screenshot(driver, "cancelled")


def test_hls_folder_becomes_one_job_with_a_playable_manifest(driver: Any, stack: LocalStack, tmp_path: Path) -> None:
    folder = tmp_path / "trailer.hls"
    folder.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for rel, data in hls_package(scratch).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    open_page(driver, stack, stack.token)
    driver.find_element("id", "folder").send_keys(str(folder))
    wait_for(lambda: "trailer.hls" in text(driver, "#picked"), 10, "the folder to be listed")
    driver.find_element("id", "start").click()
    file_id = wait_for(lambda: text(driver, ".uploads .file-id"), 90, "the package's FileId")
    listed = api_get(stack, "/jobs?limit=50")["jobs"]
    jobs = [j for j in listed if j["source"]["key"].endswith("trailer.hls/index.m3u8")]
    assert len(jobs) == 1 and jobs[0]["file_id"] == file_id and jobs[0]["kind"] == "package"
    proxies = {"http": stack.endpoint}
    manifest = requests.get(jobs[0]["media_url"], proxies=proxies, timeout=30)
    assert manifest.status_code == 200 and manifest.text.startswith("#EXTM3U")
    base = jobs[0]["media_url"].rsplit("/", 1)[0]
    for line in [x for x in manifest.text.splitlines() if x and not x.startswith("#")]:
        variant = requests.get(f"{base}/{line}", proxies=proxies, timeout=30)
        assert variant.status_code == 200 and variant.text.startswith("#EXTM3U")
        for seg in [x for x in variant.text.splitlines() if x and not x.startswith("#")]:
            vbase = f"{base}/{line}".rsplit("/", 1)[0]
            assert requests.get(f"{vbase}/{seg}", proxies=proxies, timeout=30).status_code == 200
    screenshot(driver, "hls-folder")


# -- accessibility ------------------------------------------------------------------------------------
A11Y = (HERE / "a11y.js").read_text()  # labels, focusable controls, contrast ratios, overflow


def test_accessibility_labels_focus_order_contrast_and_phone_width(driver: Any, stack: LocalStack) -> None:
    open_page(driver, stack)
    report = driver.execute_script(A11Y)
    assert report["unlabelled"] == [], report["unlabelled"]
    low = [(name, round(ratio, 2)) for name, ratio in report["contrast"] if ratio < 4.5]
    assert low == [], low
    # Focus order: Tab from the top visits the controls in document order, which is the layout's order.
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    visited: list[str] = []
    tops: list[float] = []
    for _ in range(len(report["focusable"])):
        ActionChains(driver).send_keys(Keys.TAB).perform()  # to the page, not into a file input
        active = driver.switch_to.active_element
        visited.append(active.get_attribute("id") or active.tag_name.upper())
        tops.append(float(driver.execute_script("return arguments[0].getBoundingClientRect().top + scrollY", active)))
    assert visited == report["focusable"], (visited, report["focusable"])
    assert all(b >= a - 80 for a, b in zip(tops, tops[1:])), tops  # never jumps back up the page (grid rows aside)
    # The main controls are reachable and usable from the keyboard: the token form submits with Enter.
    token = driver.find_element("id", "token")
    token.send_keys("wrong", Keys.ENTER)
    wait_for(lambda: "refused" in text(driver, "#token-state"), 20)
    # Phone width: nothing wider than the screen.
    driver.set_window_size(390, 844)
    assert driver.execute_script(A11Y)["overflow"] <= 0
    driver.save_screenshot(str(screenshot(driver, "phone-width").with_name("phone-width-viewport.png")))
    driver.set_window_size(1200, 1400)
    screenshot(driver, "accessibility")
