"""Harness: the deployed app on the emulator: the repo's serverless.yml, a staging bucket, and helpers that
read like the user's story (stage an object, let the triggers run, look in VOD)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import requests
from qcloud_cos import CosConfig, CosS3Client
from tencentcloud.common import credential
from tencentcloud.vod.v20180717 import models as vod_models
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator.core.cloud import Cloud
from vodflow.pipeline.config import MIB, deployment_variables

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "staging-1250000000"
TOKEN = "test-api-token-0123456789"

# Test-sized plan: objects over 4 MiB go through the fan-out, in 1 MiB parts, 3 parts a batch.
SMALL_PLAN = {
    "VODFLOW_STAGING_BUCKET": BUCKET,
    "VODFLOW_API_TOKEN": TOKEN,
    "VODFLOW_INLINE_THRESHOLD": str(4 * MIB),
    "VODFLOW_PART_SIZE": str(1 * MIB),
    "VODFLOW_BATCH_PARTS": "3",
    "VODFLOW_MAX_FANOUT": "4",
    "VODFLOW_RETRY_BASE_DELAY_MS": "5",
}


@dataclass
class Deployed:
    """The cloud with vodflow deployed in it, and the user's view of it."""

    cloud: Cloud
    cos: CosS3Client
    vod: VodClient
    variables: Mapping[str, str]
    state: str = BUCKET  # where job records live (VODFLOW_STATE_BUCKET, or the staging bucket)

    def stage(self, key: str, data: bytes, metadata: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
        """Upload into the staging bucket as a user would (cos-python-sdk-v5, their own keys)."""
        extra: dict[str, Any] = {"Metadata": dict(metadata)} if metadata else {}
        return dict(self.cos.put_object(Bucket=BUCKET, Key=key, Body=data, **extra))

    @property
    def api_url(self) -> str:
        """The api function's URL (its http trigger), as `make deploy` prints it."""
        url = self.cloud.scf.function_url("vodflow-api")
        assert url, "the api function has no function URL"
        return str(url)

    def drain(self, timeout_s: float = 120) -> list[Any]:
        return list(self.cloud.scf.drain(timeout_s))

    def jobs(self) -> list[dict[str, Any]]:
        """Every job record (job.json) in the state prefix."""
        out = []
        marker = ""
        while True:  # every page: a load test has thousands of records
            page = self.cloud.cos.list_objects(self.state, prefix=".vodflow/jobs/", marker=marker)
            for obj in page.contents:
                if obj.key.endswith("/job.json"):
                    out.append(json.loads(self.cloud.cos.read_object(self.state, obj.key)))
            if not page.truncated or not page.next_marker:
                return out
            marker = page.next_marker

    def record(self, job_id: str, rel: str) -> Optional[dict[str, Any]]:
        key = f".vodflow/jobs/{job_id}/{rel}"
        if self.cloud.cos.head_object(self.state, key) is None:
            return None
        return dict(json.loads(self.cloud.cos.read_object(self.state, key)))

    def describe(self, file_id: str) -> Any:
        req = vod_models.DescribeMediaInfosRequest()
        req.FileIds = [file_id]
        [info] = self.vod.DescribeMediaInfos(req).MediaInfoSet
        return info

    def all_media(self) -> list[Any]:
        return list(self.cloud.vod.all_media())

    def fetch(self, url: str) -> bytes:
        resp = requests.get(url, timeout=30)
        assert resp.status_code == 200, (url, resp.status_code)
        return resp.content


def deploy(cloud: Cloud, **overrides: str) -> Deployed:
    """Deploy with these variables. ``VODFLOW_STATE_BUCKET`` is created; ``VODFLOW_STAGING_VERSIONED=true``
    enables versioning on the staging bucket first (with the SDK, as the README tells the user to)."""
    cloud.cos.create_bucket(BUCKET)
    cos = CosS3Client(CosConfig(Region=cloud.region, SecretId=cloud.secret_id, SecretKey=cloud.secret_key))
    state = overrides.get("VODFLOW_STATE_BUCKET") or BUCKET
    cloud.cos.create_bucket(state)
    if overrides.get("VODFLOW_STAGING_VERSIONED") == "true":
        cos.put_bucket_versioning(Bucket=BUCKET, Status="Enabled")
    variables = deployment_variables({**SMALL_PLAN, **overrides})
    cloud.deploy_app(str(ROOT / "serverless.yml"), variables=variables)
    vod = VodClient(credential.Credential(cloud.secret_id, cloud.secret_key), cloud.region)
    return Deployed(cloud, cos, vod, variables, state)


def media_bytes(size: int, seed: int = 1) -> bytes:
    """Deterministic, incompressible-looking bytes (so a wrong range or part order shows)."""
    out = bytearray()
    block = os.urandom(0) or bytes((seed * 7919 + i * 31) % 251 for i in range(4096))
    while len(out) < size:
        out += block
        block = bytes((b + 1) % 251 for b in block[1:] + block[:1])
    return bytes(out[:size])


def only_result(app: Deployed) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one job there is, and its result (failing with the job's error if it has none)."""
    jobs = app.jobs()
    assert len(jobs) == 1, [j["source"]["key"] for j in jobs]
    job = jobs[0]
    result = app.record(job["job_id"], "result.json")
    assert result is not None, app.record(job["job_id"], "failed.json")
    return job, result


def open_uploads(app: Deployed) -> list[Any]:
    """Multipart uploads still open in every VOD storage bucket (each one would be billed)."""
    out: list[Any] = []
    for bucket in app.cloud.cos.list_buckets():
        if bucket.name != BUCKET:
            out += app.cloud.cos.list_multipart_uploads(bucket.name)
    return out


def queued_events(app: Deployed, function: str) -> list[Any]:
    """Events waiting in the emulator's async queue for ``function`` (to deliver them again)."""
    with app.cloud.scf._cond:
        return [json.loads(w.event_json) for w in app.cloud.scf._queue if w.function == function]


def function_runtime(app: Deployed, function: str = "vodflow-sweeper") -> Any:
    """A Runtime with a deployed function's environment (its role keys), to call library steps directly."""
    from vodflow.pipeline.runtime import Runtime

    fn = app.cloud.scf.function(function)
    env = app.cloud.scf.environment(fn)
    return Runtime.from_environment({"request_id": "test-sweep", "function_name": function}, environ=env)
