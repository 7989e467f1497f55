"""Logs you can follow: every function invocation's lines carry the function, its request id and the job id;
part_copy writes one line per batch; a failed job logs at ERROR with its code; the API one access line per
request without its token; the cloud's request id is ``cloud_request_id``; ``make dev``'s console is one
readable line per event."""

from __future__ import annotations

import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tencent_emulator import mock_tencent
from tests.pipeline.harness import TOKEN, deploy, media_bytes
from vodflow.logs import ConsoleFormatter, JsonFormatter, bind, start_invocation

MIB = 1024 * 1024


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[list[dict[str, Any]]]:
    handler = Lines()
    target = logging.getLogger("vodflow")
    saved = target.level
    target.setLevel(logging.INFO)
    target.addHandler(handler)
    try:
        yield handler.lines
    finally:
        target.removeHandler(handler)
        target.setLevel(saved)


@pytest.mark.parametrize(
    ("size", "part_size", "per_batch"),
    [
        (14 * MIB, 1 * MIB, 3),  # 14 parts, 5 batches: fast
        pytest.param(300 * MIB, 8 * MIB, 3, marks=pytest.mark.slow),  # the 300 MiB: 38 parts, 13 batches
    ],
    ids=["14MiB", "300MiB"],
)
def test_a_staged_upload_logs_every_invocation_with_job_and_request_ids(
    tmp_path: Any, lines: list[dict[str, Any]], size: int, part_size: int, per_batch: int
) -> None:
    parts = -(-size // part_size)
    batch_count = -(-parts // per_batch)
    with mock_tencent(data_dir=tmp_path) as cloud:
        app = deploy(cloud, VODFLOW_PART_SIZE=str(part_size), VODFLOW_BATCH_PARTS=str(per_batch))
        app.stage("incoming/big.mp4", media_bytes(size))
        app.drain()
        (job_id,) = {line["job_id"] for line in lines if line["msg"] == "job created"}
        invocations = [i for i in cloud.scf.invocations if i.function != "vodflow-api"]
        resp = requests.get(f"{app.api_url}/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert resp.status_code == 200 and resp.json()["state"] in ("committed", "processing", "processed")

    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_request[str(line.get("request_id"))].append(line)
    for inv in invocations:
        if inv.function not in ("vodflow-ingest", "vodflow-part-copy", "vodflow-finalize"):
            continue
        mine = by_request.get(inv.request_id)
        assert mine, f"{inv.function} {inv.request_id} wrote no line"
        for line in mine:
            assert line["function"] == inv.function, line
            assert line.get("job_id") == job_id, line  # the flow's and the retry's lines too

    batches = [line for line in lines if line["msg"] == "batch copied"]
    assert len(batches) == batch_count, [b.get("batch") for b in batches]
    assert sorted(b["batch"] for b in batches) == list(range(batch_count))
    assert sum(b["parts"] for b in batches) == parts and sum(b["bytes"] for b in batches) == size
    assert all(isinstance(b["seconds"], float) for b in batches)

    # The cloud's request id has its own name; request_id is always the invocation's.
    cloud_ids = [line for line in lines if "cloud_request_id" in line]
    assert cloud_ids and all(line["cloud_request_id"] != line["request_id"] for line in cloud_ids)

    access = [line for line in lines if line["logger"] == "vodflow.api" and line["msg"] == "request"]
    assert access and access[-1]["method"] == "GET" and access[-1]["path"] == f"/jobs/{job_id}"
    assert access[-1]["status"] == 200 and isinstance(access[-1]["ms"], float)
    assert TOKEN not in json.dumps(lines)


def test_a_failed_job_logs_at_error_with_its_code(tmp_path: Any, lines: list[dict[str, Any]]) -> None:
    with mock_tencent(data_dir=tmp_path) as cloud:
        app = deploy(cloud)
        app.stage("incoming/empty.mp4", b"")  # an empty object: the job fails, saying so
        app.drain()
        assert len(app.jobs()) == 1
    (job_id,) = {line["job_id"] for line in lines if line["msg"] == "job created"}
    failed = [line for line in lines if line["msg"] == "failed"]
    assert failed and failed[0]["level"] == "ERROR" and failed[0]["code"], failed
    assert failed[0]["job_id"] == job_id and failed[0]["function"] == "vodflow-ingest"


def test_the_api_access_log_names_no_token_or_query(tmp_path: Any, lines: list[dict[str, Any]]) -> None:
    with mock_tencent(data_dir=tmp_path) as cloud:
        app = deploy(cloud)
        requests.get(f"{app.api_url}/jobs?limit=2&token=s3cr3t-in-query", headers={"Authorization": "Bearer nope"})
    access = [line for line in lines if line["msg"] == "request"]
    assert access[-1]["status"] == 401 and access[-1]["path"] == "/jobs" and access[-1]["code"]
    assert "s3cr3t-in-query" not in json.dumps(lines) and "nope" not in json.dumps(lines)


def test_the_console_is_one_readable_line_per_event() -> None:
    start_invocation("vodflow-part-copy", "req-1")
    bind(job_id="3f2a9c1e" + "0" * 24)
    record = logging.LogRecord("vodflow.pipeline", logging.INFO, __file__, 1, "batch copied", None, None)
    record.__dict__.update({"parts": 2, "bytes": 16 * MIB, "seconds": 0.41, "secret_key": "x"})
    text = ConsoleFormatter().format(record)
    assert "\n" not in text and "part-copy" in text and "job 3f2a9c1e" in text
    assert "batch copied" in text and "bytes=16.0MiB" in text and "secret" not in text
    failed = logging.LogRecord("vodflow.pipeline", logging.ERROR, __file__, 1, "failed", None, None)
    failed.__dict__.update({"code": "FailedOperation.EmptyObject"})
    assert "ERROR" in ConsoleFormatter().format(failed)
    start_invocation("", "")


def test_make_dev_console_has_no_duplicates(tmp_path: Any) -> None:
    from vodflow.logs import configure, configure_console

    root = logging.getLogger()
    saved = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure_console(stream, tmp_path / "logs.jsonl")
        configure()  # what each invocation calls: adds nothing under make dev
        logging.getLogger("vodflow.pipeline").info("job created", extra={"job_id": "a" * 32})
        for handler in root.handlers:
            handler.flush()
        assert stream.getvalue().count("job created") == 1
        (line,) = (tmp_path / "logs.jsonl").read_text().splitlines()
        assert json.loads(line)["job_id"] == "a" * 32
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
