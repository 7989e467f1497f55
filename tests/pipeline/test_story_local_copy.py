"""Mid-size objects: ingest copies their parts side by side and commits, in one invocation, with every
guarantee of the fan-out path (it is that path, run in place): killed anywhere, repeated, duplicated,
the media is committed once and no upload stays open."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tencent_emulator import mock_tencent
from tests.pipeline.harness import (
    Deployed,
    deploy,
    function_runtime,
    media_bytes,
    only_result,
    open_uploads,
    queued_events,
)
from vodflow.pipeline.config import MIB
from vodflow.pipeline.sweeper import sweep

SIZE = 17 * MIB + 3  # five parts of 4 MiB: above the 16 MiB where parallel copies start


@pytest.fixture()
def mid(tmp_path: Path) -> Iterator[Deployed]:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        yield deploy(cloud, VODFLOW_INLINE_THRESHOLD=str(64 * MIB), VODFLOW_PART_SIZE=str(4 * MIB))


def functions_run(app: Deployed) -> list[str]:
    return [i.function for i in app.cloud.scf.invocations]


def test_a_mid_size_object_is_copied_in_parallel_parts_and_committed_by_ingest_alone(mid: Deployed) -> None:
    data = media_bytes(SIZE, seed=71)
    mid.stage("incoming/mid.mp4", data)
    mid.drain()
    job, result = only_result(mid)
    assert (job["kind"], job["part_count"]) == ("multipart", 5)
    assert functions_run(mid) == ["vodflow-ingest"]  # no part_copy, no finalize on the way
    assert mid.fetch(result["media_url"]) == data
    assert open_uploads(mid) == []
    # The parts went up side by side: their UploadParts overlapped in time.
    parts = sorted((r.started, r.started + r.duration) for r in mid.cloud.requests if r.action == "UploadPart")
    assert len(parts) == 5
    assert any(later[0] < earlier[1] for earlier, later in zip(parts, parts[1:]))


def test_ingest_killed_mid_copy_on_every_attempt_hands_the_batch_to_part_copy(mid: Deployed) -> None:
    # Every ingest attempt (1 + 2 retries) dies with a part in flight: the claimed batch's lease runs out,
    # the sweeper dispatches it to part_copy, which copies what is missing; finalize commits once.
    mid.cloud.faults.inject("cos", "UploadPart", kill="before", function="vodflow-ingest", times=None)
    data = media_bytes(SIZE, seed=72)
    mid.stage("incoming/killed.mp4", data)
    mid.drain()
    assert [i.status for i in mid.cloud.scf.invocations if i.function == "vodflow-ingest"] == ["crash"] * 3
    mid.cloud.faults.clear()
    [job] = mid.jobs()
    assert job["local"] is True
    assert mid.record(job["job_id"], "g1/upload.json") is not None  # the upload the sweeper will close or finish
    assert mid.record(job["job_id"], "result.json") is None
    rt = function_runtime(mid)
    assert sweep(rt, now=time.time() + 1) == {"copying": 1}  # within the lease: ingest may still be copying
    assert sweep(rt, now=time.time() + rt.config.lease_s + 1) == {"redispatched": 1}
    mid.drain()
    only_result(mid)
    assert "vodflow-part-copy" in functions_run(mid)
    assert [mid.fetch(m.media_url) for m in mid.all_media()] == [data]
    assert open_uploads(mid) == []


def test_ingest_killed_after_its_last_part_is_finished_by_its_retry(mid: Deployed) -> None:
    # Killed right after CompleteMultipartUpload, once: SCF's retry finds the parts listed and the upload
    # completed, checks the CRC64 of the object and commits it; nothing is copied twice into a new upload.
    mid.cloud.faults.inject("cos", "CompleteMultipartUpload", kill="after", function="vodflow-ingest", times=1)
    data = media_bytes(SIZE, seed=73)
    mid.stage("incoming/completed.mp4", data)
    mid.drain()
    only_result(mid)
    assert [mid.fetch(m.media_url) for m in mid.all_media()] == [data]
    assert len([r for r in mid.cloud.requests if r.action == "InitiateMultipartUpload"]) == 1
    assert open_uploads(mid) == []


def test_the_same_event_three_times_at_once_and_again_later_gives_one_media(mid: Deployed) -> None:
    data = media_bytes(SIZE, seed=74)
    mid.stage("incoming/dup.mp4", data)
    [event] = queued_events(mid, "vodflow-ingest")
    for _ in range(2):
        mid.cloud.scf.invoke_async("vodflow-ingest", event, source="cos")
    mid.drain()
    mid.cloud.scf.invoke_async("vodflow-ingest", event, source="cos")
    mid.drain()
    only_result(mid)
    assert [mid.fetch(m.media_url) for m in mid.all_media()] == [data]
    assert open_uploads(mid) == []


def test_copy_streams_1_keeps_one_streaming_put(tmp_path: Path) -> None:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud, VODFLOW_INLINE_THRESHOLD=str(64 * MIB), VODFLOW_COPY_STREAMS="1")
        data = media_bytes(SIZE, seed=75)
        app.stage("incoming/single.mp4", data)
        app.drain()
        job, result = only_result(app)
        assert job["kind"] == "inline"
        assert app.fetch(result["media_url"]) == data
        assert not [r for r in app.cloud.requests if r.action == "InitiateMultipartUpload"]
