"""The fault matrix: every cloud call of the flow by every kind of fault, each run to its end.

A cell deploys the app on a fresh emulated cloud, stages one object big enough for the fan-out,
injects one fault on one call, lets the triggers, SCF's retries and the sweeper do their work,
and then checks the invariants: exactly one media with the staged bytes, or a failed job with a
reason and no open multipart upload; never two media; the staging object unchanged.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tencent_emulator import mock_tencent
from tests.pipeline.harness import BUCKET, Deployed, deploy, function_runtime, media_bytes, open_uploads
from tests.reliability.report import REPORT
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep

INGEST = "vodflow-ingest"
PART_COPY = "vodflow-part-copy"
FINALIZE = "vodflow-finalize"
SIZE = 5 * MIB + 1234  # over the 4 MiB inline threshold of the test plan: 6 parts, 2 batches


@dataclass(frozen=True)
class Call:
    """One cloud call of the flow, as the emulator names it, and the function that makes it."""

    label: str
    service: str
    action: str
    function: str


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault, as ``cloud.faults.inject`` keywords (the code depends on the service)."""

    label: str

    def inject_kwargs(self, call: Call) -> dict[str, Any]:
        if self.label == "5xx":
            return {"code": "InternalError", "status": 500}
        if self.label == "throttled":
            code = {"cos": "SlowDown", "vod": "RequestLimitExceeded", "scf": "RequestLimitExceeded"}[call.service]
            return {"code": code, "status": 503 if call.service == "cos" else 200}
        if self.label == "timeout":
            return {"timeout": True}
        if self.label == "dropped":
            return {"drop": True}
        if self.label == "200+error":
            return {"error_body": True, "code": "InternalError"}
        if self.label in ("kill before", "kill after"):
            return {"kill": self.label.split()[1], "function": call.function}
        raise ValueError(self.label)


CALLS = (
    Call("HEAD", "cos", "HeadObject", INGEST),
    Call("ranged GET", "cos", "GetObject", PART_COPY),
    Call("ApplyUpload", "vod", "ApplyUpload", INGEST),
    Call("Initiate", "cos", "InitiateMultipartUpload", INGEST),
    Call("UploadPart", "cos", "UploadPart", PART_COPY),
    Call("ListParts", "cos", "ListParts", FINALIZE),
    Call("Complete", "cos", "CompleteMultipartUpload", FINALIZE),
    Call("CommitUpload", "vod", "CommitUpload", FINALIZE),
    Call("job write (ingest)", "cos", "PutObject", INGEST),
    Call("job write (part_copy)", "cos", "PutObject", PART_COPY),
    Call("job write (finalize)", "cos", "PutObject", FINALIZE),
    Call("Invoke (fan-out)", "scf", "Invoke", INGEST),
    Call("Invoke (finalize)", "scf", "Invoke", PART_COPY),
)
FAULTS = tuple(
    FaultKind(label) for label in ("5xx", "throttled", "timeout", "dropped", "200+error", "kill before", "kill after")
)


@dataclass
class CellResult:
    call: str
    fault: str
    times: int
    fired: int
    outcome: str  # "committed" or "failed: <code>"
    invocations: int
    sweeps: int


# Where Tencent answers an error inside a 200: every TC3 API (VOD, SCF), and COS's Complete (and copies).
# A COS HEAD, GET, PUT, Initiate or UploadPart never does, so those cells are not part of the matrix.
ERROR_IN_200 = frozenset({"ApplyUpload", "Complete", "CommitUpload", "Invoke (fan-out)", "Invoke (finalize)"})


def applies(call: Call, fault: FaultKind) -> bool:
    return fault.label != "200+error" or call.label in ERROR_IN_200


def all_cells() -> list[tuple[Call, FaultKind]]:
    return [(call, fault) for call in CALLS for fault in FAULTS if applies(call, fault)]


def fast_cells() -> list[tuple[Call, FaultKind]]:
    """Two faults per call, rotating through the kinds, so ``make test`` touches every row and column."""
    cells = all_cells()
    out = []
    for i, call in enumerate(CALLS):
        row = [c for c in cells if c[0] == call]
        out += [row[(2 * i) % len(row)], row[(2 * i + 1) % len(row)]]
    return out


def hard_times(call: Call, fault: FaultKind) -> int:
    """How often a fault fires in the hard run: past every in-call retry (6 attempts) for errors;
    for kills, every attempt SCF makes of that invocation (1 + 2 retries), so the sweeper must act."""
    if not fault.label.startswith("kill"):
        return 10
    if call.label in BEFORE_THE_JOB:
        # Before job.json exists only SCF's own retries carry the event: three deaths in a row lose it
        # (no dead-letter queue is configured and the sweeper only knows jobs). Two are survived.
        return 2
    return 3


BEFORE_THE_JOB = frozenset({"HEAD", "job write (ingest)"})


def cell_id(cell: tuple[Call, FaultKind]) -> str:
    return f"{cell[0].label}-{cell[1].label}".replace(" ", "_").replace("(", "").replace(")", "")


def run_cell(tmp: Path, call: Call, fault: FaultKind, times: int = 1, seed: int = 7, label: str = "") -> CellResult:
    """Run one ingest to its end with the fault injected, check every invariant, record the cell."""
    column = f"{fault.label} ({label})" if label else fault.label
    REPORT.matrix_run(call.label, column)
    with mock_tencent(data_dir=tmp / "cloud") as cloud:
        app = deploy(cloud)
        data = media_bytes(SIZE, seed=seed)
        key = "incoming/matrix.mp4"
        staged = app.stage(key, data)
        kwargs = fault.inject_kwargs(call)
        kwargs.setdefault("function", call.function)
        injected = cloud.faults.inject(call.service, call.action, times=times, **kwargs)
        sweeps = run_to_end(app)
        result = check_invariants(app, key, data, str(staged["ETag"]).strip('"'))
        assert injected.fired >= 1, f"the fault on {call.label} never fired: the cell proves nothing"
        cell = CellResult(call.label, fault.label, times, injected.fired, result, len(cloud.scf.invocations), sweeps)
    REPORT.matrix_passed(call.label, column, result)
    return cell


def run_to_end(app: Deployed, rounds: int = 4) -> int:
    """Drain; while the job is unfinished, let the sweeper act as its timer would past each lease;
    at last, past the deadline, so every job ends. Returns the number of sweeps."""
    app.drain()
    sweeps = 0
    rt = function_runtime(app)
    for i in range(rounds):
        if all(_state(app, j) != "open" for j in app.jobs()) and app.jobs():
            return sweeps
        sweep(rt, now=time.time() + (i + 1) * (rt.config.lease_s + 1))
        sweeps += 1
        app.drain()
    if any(_state(app, j) == "open" for j in app.jobs()):
        deadline = max(j["deadline"] for j in app.jobs())
        sweep(rt, now=deadline + 1)
        sweeps += 1
        app.drain()
    return sweeps


def _state(app: Deployed, job: dict[str, Any]) -> str:
    if app.record(job["job_id"], "result.json") is not None:
        return "committed"
    if app.record(job["job_id"], "failed.json") is not None:
        return "failed"
    return "open"


def check_invariants(app: Deployed, key: str, data: bytes, etag: str) -> str:
    """Nothing lost, nothing twice, nothing left billed, the user's object untouched. Returns the outcome."""
    jobs = app.jobs()
    assert len(jobs) == 1, f"one staged version must give one job, got {len(jobs)}"
    [job] = jobs
    result = app.record(job["job_id"], "result.json")
    failed = app.record(job["job_id"], "failed.json")
    media = app.all_media()
    assert open_uploads(app) == [], "a multipart upload was left open (billed storage)"
    head = app.cloud.cos.head_object(BUCKET, key)
    assert head is not None, "the staging object was removed"
    assert hashlib.sha256(app.cloud.cos.read_object(BUCKET, key)).digest() == hashlib.sha256(data).digest()
    assert str(head.etag).strip('"') == etag, "the staging object was changed"
    if result is not None:
        assert failed is None, "a job both committed and failed"
        assert len(media) == 1, f"committed once, but VOD holds {len(media)} media"
        assert result["file_id"] == media[0].file_id
        assert app.fetch(media[0].media_url) == data, "the committed media is not the staged bytes"
        return "committed"
    assert failed is not None, "the job neither committed nor failed"
    assert media == [], "a failed job left a media in VOD"
    assert failed.get("code") and failed.get("message"), f"a failed job must say why: {failed}"
    return f"failed: {failed['code']}"
