"""The upload page's messages for a lost network and an expired URL, in headless Chromium (issue 15).

Both are made by the emulator, not by the page: COS stops answering UploadPart (the connection is dropped,
as a lost link does) and then answers again; COS refuses a part with its own 403 AccessDenied "Request has
expired". Each time the page says so, carries on by itself (fresh URLs from ``GET /uploads/{id}``) and
reaches the FileId, and every part reaches COS once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import screenshot
from tests.browser.test_upload_page import UNFINISHED_ID, api_get, open_page, staging_requests, text, wait_for
from vodflow_ops.dev import LocalStack

MiB = 1024 * 1024
SIZE = 80 * MiB  # over the 64 MiB of a single PUT: 5 parts of 16 MiB
# Every status line the page shows, in order (a message may be replaced before a poll would see it).
WATCH_STATUS = """
window.seen = [];
new MutationObserver(() => document.querySelectorAll('.uploads .status').forEach((e) => {
  if (e.textContent && window.seen[window.seen.length - 1] !== e.textContent) window.seen.push(e.textContent);
})).observe(document.getElementById('uploads'), {subtree: true, childList: true, characterData: true});
"""


def start_upload(driver: Any, stack: LocalStack, path: Path) -> str:
    with path.open("wb") as fh:  # sparse: fast to make, read as zeros
        fh.truncate(SIZE)
    open_page(driver, stack, stack.token)
    driver.execute_script(WATCH_STATUS)
    parallel = driver.find_element("id", "parallel")
    parallel.clear()
    parallel.send_keys("1")
    driver.find_element("id", "files").send_keys(str(path))
    driver.find_element("id", "start").click()
    return str(wait_for(lambda: driver.execute_script(UNFINISHED_ID), 30, "the upload id"))


def assert_each_part_once(stack: LocalStack, upload_id: str) -> None:
    sent = [r for r in staging_requests(stack, "UploadPart", upload_id) if r.status == 200]
    assert len(sent) == SIZE // (16 * MiB) == 5
    assert sum(r.bytes_in for r in sent) == SIZE
    assert len([r for r in staging_requests(stack, "CompleteMultipartUpload", upload_id) if r.status == 200]) == 1
    assert api_get(stack, f"/uploads/{upload_id}")["state"] == "staged"


def test_lost_network_shows_the_message_and_resumes_when_it_is_back(
    driver: Any, stack: LocalStack, tmp_path: Path
) -> None:
    upload_id = start_upload(driver, stack, tmp_path / "lost-network.mp4")
    wait_for(lambda: [r for r in staging_requests(stack, "UploadPart", upload_id) if r.status == 200], 60, "a part")
    outage = stack.cloud.faults.inject("cos", "UploadPart", drop=True, times=None)  # the link goes down
    try:
        wait_for(lambda: "Connection lost" in text(driver, ".uploads .status"), 60, "the lost-network message")
        wait_for(lambda: outage.fired >= 2, 30, "a retry while the network is down")
        assert "retrying when the network is back" in text(driver, ".uploads .status")
    finally:
        outage.times = outage.fired  # the link is back
    file_id = wait_for(lambda: text(driver, ".uploads .file-id"), 120, "the FileId after the outage")
    assert file_id.isdigit()
    assert any("Connection lost" in s for s in driver.execute_script("return window.seen"))
    assert_each_part_once(stack, upload_id)
    screenshot(driver, "lost-network-resumed")


def test_expired_url_shows_the_message_and_fresh_urls_finish_it(driver: Any, stack: LocalStack, tmp_path: Path) -> None:
    upload_id = start_upload(driver, stack, tmp_path / "expired-url.mp4")
    expired = stack.cloud.faults.inject(
        "cos", "UploadPart", code="AccessDenied", status=403, message="Request has expired", times=2
    )
    file_id = wait_for(lambda: text(driver, ".uploads .file-id"), 120, "the FileId after fresh URLs")
    assert file_id.isdigit() and expired.fired == 2
    seen = driver.execute_script("return window.seen")
    assert any("upload URL expired: asking the API for fresh ones" in s for s in seen), seen
    refused = [r for r in staging_requests(stack, "UploadPart", upload_id) if r.status == 403]
    assert len(refused) == 2
    assert_each_part_once(stack, upload_id)
    screenshot(driver, "expired-url-refreshed")
