"""Session-wide checks: no secret in any log line, API reply or job record; the reliability counts printed.

Every emulated cloud the suite creates is watched. While it lives, the log records of the whole
process and every API reply are kept as text; when it closes, that text and the cloud's job records
(everything under ``.vodflow/`` but the session files, which are the one place VOD's certificate is
meant to be) are searched for each secret the cloud issued (``iam.known_secrets()``), for the
signatures of the presigned URLs the API handed out, and for the API token. Scanning per cloud keeps
it cheap: a test's text against that test's few dozen secrets. The session fails if anything leaked.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.reliability.report import REPORT

PRESIGNED_RE = re.compile(r"\?(q-sign-algorithm=[^\"\s]*)")
SECRET_PARAMS = ("q-signature", "x-cos-security-token")
MIN_SECRET = 12


@dataclass
class LeakScan:
    """Text seen since the last scan, and what the scans found."""

    pending: list[str] = field(default_factory=list)
    signatures: set[str] = field(default_factory=set)
    extra_secrets: set[str] = field(default_factory=set)
    texts: int = 0
    chars: int = 0
    secrets: int = 0
    clouds: int = 0
    leaks: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, text: str) -> None:
        with self.lock:
            self.pending.append(text)

    def scan(self, secrets: set[str], records: list[str]) -> None:
        with self.lock:
            texts, self.pending = self.pending + records, []
            secrets = {s for s in secrets | self.signatures | self.extra_secrets if len(s) >= MIN_SECRET}
            self.signatures.clear()
        blob = "\n".join(texts)
        self.texts += len(texts)
        self.chars += len(blob)
        self.secrets += len(secrets)
        self.clouds += 1
        for secret in secrets:
            at = blob.find(secret)
            if at >= 0:
                line = blob[max(0, blob.rfind("\n", 0, at)) : blob.find("\n", at)]
                self.leaks.append(line.replace(secret, f"<SECRET {secret[:4]}…>")[:300])


SCAN = LeakScan()


class _Capture(logging.Handler):
    """Keeps every record as the JSON line vodflow would emit (the formatter is where redaction happens)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        from vodflow.logs import JsonFormatter

        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            SCAN.add(self.format(record))
        except Exception:
            SCAN.add(str(record.msg))


def _job_records(cloud: Any) -> list[str]:
    """Every job record in every bucket, but the session files (VOD's certificate lives there by design)."""
    out: list[str] = []
    try:
        buckets = list(cloud.cos.list_buckets())
    except Exception:
        return out
    for bucket in buckets:
        for obj in cloud.cos.list_objects(bucket.name, prefix=".vodflow/").contents:
            if obj.key.endswith("/session.json"):
                continue
            out.append(cloud.cos.read_object(bucket.name, obj.key).decode("utf-8", "replace"))
    return out


@pytest.fixture(autouse=True, scope="session")
def _watch_for_leaks() -> Iterator[None]:
    from tencent_emulator.core.cloud import Cloud
    from tests.pipeline.harness import TOKEN
    from vodflow.pipeline import api

    SCAN.extra_secrets.add(TOKEN)
    handler = _Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    vodflow_logger = logging.getLogger("vodflow")
    saved_level = vodflow_logger.level
    if vodflow_logger.getEffectiveLevel() > logging.INFO:
        vodflow_logger.setLevel(logging.INFO)

    original_handle = api.Api.handle
    original_close = Cloud.close

    def handle(self: Any, event: Any, request_id: str = "") -> dict[str, Any]:
        reply = original_handle(self, event, request_id)
        body = str(reply.get("body", ""))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        # A presigned URL is the one secret a reply is meant to carry (to the uploader who asked): its
        # signature and token must appear nowhere else, so they join the secrets and its query is not scanned.
        handed_out = set()
        for query in PRESIGNED_RE.findall(body):
            for name, value in parse_qsl(query.replace("\\u0026", "&")):
                if name in SECRET_PARAMS:
                    handed_out.add(value)
        SCAN.add(PRESIGNED_RE.sub("?<presigned>", body) if parsed is not None else body)
        with SCAN.lock:
            SCAN.signatures |= handed_out
        return reply

    def close(self: Any) -> None:
        try:
            SCAN.scan(set(self.iam.known_secrets()), _job_records(self))
        finally:
            original_close(self)

    api.Api.handle = handle  # type: ignore[method-assign]
    Cloud.close = close  # type: ignore[method-assign]
    try:
        yield
    finally:
        api.Api.handle = original_handle  # type: ignore[method-assign]
        Cloud.close = original_close  # type: ignore[method-assign]
        root.removeHandler(handler)
        vodflow_logger.setLevel(saved_level)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SCAN.leaks and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    tr = terminalreporter
    table = REPORT.matrix_table()
    if table:
        tr.write_sep("=", "fault matrix (cells passed/run)")
        for line in table:
            tr.write_line(line)
    if REPORT.counts or REPORT.notes:
        tr.write_sep("=", "reliability counts")
        for name, n in sorted(REPORT.counts.items()):
            tr.write_line(f"{name}: {n}")
        for note in REPORT.notes:
            tr.write_line(note)
    if SCAN.clouds:
        tr.write_sep("=", "secret leak scan")
        tr.write_line(
            f"clouds scanned: {SCAN.clouds}; texts: {SCAN.texts} ({SCAN.chars} chars of logs, API replies and job "
            f"records); secrets checked: {SCAN.secrets}; leaks: {len(SCAN.leaks)}"
        )
        for leak in SCAN.leaks[:20]:
            tr.write_line(f"LEAK: {leak}", red=True)
    cache = getattr(config, "cache", None)
    out = cache.mkdir("vodflow-reliability") if cache is not None else None
    if out is not None:
        (out / "report.txt").write_text("\n".join([*table, *[f"{k}: {v}" for k, v in REPORT.counts.items()]]) + "\n")
