"""Issue 13, class 3: a newer version staged under the same key is never touched by the staging policy.

COS has no conditional DELETE Object or PUT Object tagging (both take only ``versionId``: API reference
436/7743, 436/35709), so ``tag`` and ``delete`` act on the job's pinned COS version only, and refuse to
run without a versioned staging bucket. The emulator models COS versioning (FIDELITY.md, COS), so the pinned
path runs end to end here: a newer version staged at the worst point of the window survives with its own job.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tencent_emulator import mock_tencent
from tencent_emulator.cos.errors import CosError
from tests.pipeline.harness import BUCKET, Deployed, deploy, function_runtime, media_bytes
from vodflow.errors import VodValidationError
from vodflow.pipeline.config import Config
from vodflow.pipeline.lifecycle import load_job
from vodflow.pipeline.staging import apply_staging_policy
from vodflow_ops.preflight import check_staging_versioning

STATE = "state-1250000000"
VERSIONED = {"VODFLOW_STAGING_VERSIONED": "true", "VODFLOW_STATE_BUCKET": STATE}


@pytest.fixture(params=["delete", "tag"])
def versioned_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Deployed, str]]:
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        cloud.cos.create_bucket(STATE)
        yield deploy(cloud, VODFLOW_STAGING_POLICY=request.param, **VERSIONED), request.param


def state_jobs(app: Deployed) -> dict[str, dict[str, Any]]:
    """key → job.json, from the separate job-state bucket."""
    page = app.cloud.cos.list_objects(STATE, prefix=".vodflow/jobs/")
    out = {}
    for obj in page.contents:
        if obj.key.endswith("/job.json"):
            job = json.loads(app.cloud.cos.read_object(STATE, obj.key))
            out.setdefault(job["source"]["key"], []).append(job)
    return out


def state_record(app: Deployed, job_id: str, rel: str) -> Any:
    key = f".vodflow/jobs/{job_id}/{rel}"
    return json.loads(app.cloud.cos.read_object(STATE, key)) if app.cloud.cos.head_object(STATE, key) else None


def test_a_newer_version_staged_exactly_at_the_policy_action_survives_and_gets_its_own_job(
    versioned_app: tuple[Deployed, str],
) -> None:
    app, policy = versioned_app
    v1, v2 = media_bytes(1500, seed=1), media_bytes(1700, seed=2)
    app.stage("incoming/v.mp4", v1)
    app.drain()
    [[first]] = state_jobs(app).values()
    result = state_record(app, first["job_id"], "result.json")
    assert result is not None
    # Run the policy again as finalize does, with a hook that stages the newer version exactly when the
    # policy's action (DELETE Object / PUT Object tagging) reaches COS: the worst point of the window.
    rt = function_runtime(app, "vodflow-finalize")
    job = load_job(rt, first["job_id"])
    assert job is not None
    job.listing = dataclasses.replace(job.listing, keys=job.listing.keys - {"staging.json"})
    action = {"delete": "DeleteObject", "tag": "PutObjectTagging"}[policy]
    staged: list[dict[str, Any]] = []
    app.cloud.faults.inject("cos", action, hook=lambda: staged.append(app.stage("incoming/v.mp4", v2)), times=1)
    apply_staging_policy(job, result)
    app.cloud.faults.clear()
    [newer_staged] = staged  # the action went out, and the newer version landed just before it
    v1_id, v2_id = first["source"]["version_id"], newer_staged["x-cos-version-id"]
    assert v1_id and v2_id and v1_id != v2_id
    # The action touched v1 only: the newer version is the object, whole and untagged.
    assert app.cloud.cos.read_object(BUCKET, "incoming/v.mp4") == v2
    assert app.cloud.cos.get_tags(BUCKET, "incoming/v.mp4", v2_id) == {}
    if policy == "delete":
        assert app.cloud.cos.head_object(BUCKET, "incoming/v.mp4").version_id == v2_id
        with pytest.raises(CosError):
            app.cloud.cos.head_object(BUCKET, "incoming/v.mp4", v1_id)
    else:
        assert app.cloud.cos.get_tags(BUCKET, "incoming/v.mp4", v1_id)["vodflow-job-id"] == first["job_id"]
    staging = state_record(app, first["job_id"], "staging.json")
    assert staging["applied"] is True and staging["version_id"] == v1_id
    # The newer version has its own job, whose policy acts on its own version in turn.
    app.drain()
    jobs = state_jobs(app)["incoming/v.mp4"]
    assert len(jobs) == 2
    newer = next(j for j in jobs if j["job_id"] != first["job_id"])
    assert newer["source"]["version_id"] == v2_id
    newer_result = state_record(app, newer["job_id"], "result.json")
    assert newer_result is not None and app.fetch(newer_result["media_url"]) == v2
    assert state_record(app, newer["job_id"], "staging.json")["version_id"] == v2_id


def test_a_newer_version_staged_before_the_commit_is_untouched_in_the_deployed_app(
    versioned_app: tuple[Deployed, str],
) -> None:
    app, policy = versioned_app
    v1, v2 = media_bytes(5 * 1024 * 1024 + 1, seed=3), media_bytes(1200, seed=4)
    app.cloud.faults.inject("vod", "CommitUpload", hook=lambda: app.stage("incoming/w.mp4", v2))
    app.stage("incoming/w.mp4", v1)
    app.drain()
    jobs = state_jobs(app)["incoming/w.mp4"]
    results = [state_record(app, j["job_id"], "result.json") for j in jobs]
    assert len(jobs) == 2 and all(results)
    assert sorted(len(app.fetch(r["media_url"])) for r in results) == [len(v2), len(v1)]
    # Each job acted on its own version only: delete removed both versions one by one (no delete marker
    # left), tag marked each version with its own job.
    listed = app.cos.list_objects_versions(Bucket=BUCKET, Prefix="incoming/w.mp4")
    if policy == "delete":
        assert not listed.get("Version") and not listed.get("DeleteMarker")
    else:
        assert app.cloud.cos.read_object(BUCKET, "incoming/w.mp4") == v2
        for job in jobs:
            tags = app.cloud.cos.get_tags(BUCKET, "incoming/w.mp4", job["source"]["version_id"])
            assert tags["vodflow-job-id"] == job["job_id"]


def test_the_pinned_action_names_the_version_and_nothing_else(versioned_app: tuple[Deployed, str]) -> None:
    """With a version pinned, the request carries ``versionId``: a version the key no longer has is done
    (204 or 404), never an unpinned DELETE or tagging of whatever the key holds now."""
    app, _ = versioned_app
    app.stage("incoming/p.mp4", media_bytes(1000, seed=5))
    app.drain()
    [[first]] = state_jobs(app).values()
    newer = media_bytes(1100, seed=6)
    app.cloud.cos.put_object(BUCKET, "incoming/p.mp4", newer)  # what the key holds now (no event: no job)
    before = app.cos.list_objects_versions(Bucket=BUCKET)
    rt = function_runtime(app, "vodflow-finalize")
    job = load_job(rt, first["job_id"])
    assert job is not None
    job.spec = dataclasses.replace(job.spec, source=dataclasses.replace(job.spec.source, version_id="MTg0NDUx"))
    job.listing = dataclasses.replace(job.listing, keys=job.listing.keys - {"staging.json"})
    apply_staging_policy(job, {"file_id": "1"})  # a version the key does not have: 204 / 404, done
    assert app.cos.list_objects_versions(Bucket=BUCKET) == before
    assert app.cloud.cos.read_object(BUCKET, "incoming/p.mp4") == newer
    assert app.cloud.cos.get_tags(BUCKET, "incoming/p.mp4") == {}


@pytest.mark.parametrize("policy", ["tag", "delete"])
def test_tag_and_delete_refuse_to_run_without_a_versioned_staging_bucket(tmp_path: Path, policy: str) -> None:
    base = {"VODFLOW_STAGING_BUCKET": BUCKET, "VODFLOW_STAGING_POLICY": policy}
    with pytest.raises(VodValidationError) as info:
        Config.from_environment(base)
    assert info.value.field == "VODFLOW_STAGING_POLICY" and "VODFLOW_STAGING_VERSIONED" in info.value.message
    with pytest.raises(VodValidationError) as same_bucket:
        Config.from_environment({**base, "VODFLOW_STAGING_VERSIONED": "true"})
    assert same_bucket.value.field == "VODFLOW_STATE_BUCKET"
    assert Config.from_environment({**base, **VERSIONED}).staging_versioned
    with mock_tencent(data_dir=tmp_path / "cloud") as cloud:
        app = deploy(cloud, VODFLOW_STAGING_POLICY=policy)
        data = media_bytes(1000)
        app.stage("incoming/r.mp4", data)
        app.drain()
        assert app.jobs() == []  # the functions refuse to start: nothing is touched
        assert app.cloud.cos.read_object(BUCKET, "incoming/r.mp4") == data
        # The deploy preflight says so too, with the fix (GET Bucket versioning: no Status).
        check = check_staging_versioning(SimpleNamespace(cos=lambda region=None: app.cos), BUCKET, policy)
        assert not check.ok and "VODFLOW_STAGING_POLICY=keep" in check.message
