"""COS triggers: uploads through cos-python-sdk-v5 reach the bound function as the documented event."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from qcloud_cos import CosConfig, CosS3Client

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud

FIXTURE = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
BUCKET = "staging-1250000000"
VARS = {"STAGE": "test", "STAGING_BUCKET": BUCKET}


@dataclass
class Env:
    cloud: Cloud
    cos: CosS3Client
    app: Any

    def put(self, key: str, body: bytes = b"video", **kw: Any) -> None:
        self.cos.put_object(Bucket=BUCKET, Key=key, Body=body, **kw)

    def runs(self, function: str = "emu-ingest") -> list[Any]:
        return [r for r in self.cloud.scf.drain(timeout_s=10) if r.function == function]


@pytest.fixture
def env() -> Iterator[Env]:
    with mock_tencent() as cloud:
        cloud.cos.create_bucket(BUCKET)
        app = cloud.deploy_app(str(FIXTURE), VARS)
        config = CosConfig(Region="ap-guangzhou", SecretId=cloud.secret_id, SecretKey=cloud.secret_key)
        yield Env(cloud, CosS3Client(config), app)


def test_an_upload_delivers_the_documented_cos_event(env: Env) -> None:
    key = "incoming/a b+c/视频.mp4"
    env.put(key, b"x" * 1029, ContentType="video/mp4", Metadata={"x-cos-meta-vod-procedure": "hd"})

    (run,) = env.runs()
    assert (run.source, run.invocation_type, run.status) == ("cos", "async", "ok")
    (record,) = run.result["event"]["Records"]
    encoded = quote(key, safe="/-_.~")
    assert record["cos"]["cosSchemaVersion"] == "1.0"
    assert record["cos"]["cosBucket"] == {"region": "gz", "name": "staging", "appid": "1250000000"}
    obj = record["cos"]["cosObject"]
    assert obj["key"] == f"/1250000000/staging/{encoded}"
    assert obj["url"] == f"http://{BUCKET}.cos.ap-guangzhou.myqcloud.com/{encoded}"
    assert (obj["size"], obj["vid"]) == (1029, "")
    assert obj["meta"]["Content-Type"] == "video/mp4"
    assert obj["meta"]["x-cos-meta-vod-procedure"] == "hd"
    assert obj["meta"]["x-cos-request-id"]
    event = record["event"]
    assert (event["eventName"], event["eventVersion"], event["eventSource"]) == (
        "cos:ObjectCreated:*",
        "1.0",
        "qcs::cos",
    )
    assert isinstance(event["eventTime"], int) and isinstance(event["reqid"], int)
    assert event["requestParameters"]["requestHeaders"]["Authorization"].startswith("q-sign-algorithm=sha1&q-ak=")
    assert event["requestParameters"]["requestSourceIP"]
    assert event["eventQueue"] == "qcs:0:scf:gz:appid/1250000000:default.emu-ingest.$LATEST"


def test_prefix_and_suffix_filter_the_keys(env: Env) -> None:
    env.put("other/x.mp4")
    env.put("incoming/x.txt")
    env.put("incoming/deep/y.mp4")

    runs = env.runs()
    assert [r.result["event"]["Records"][0]["cos"]["cosObject"]["key"] for r in runs] == [
        "/1250000000/staging/incoming/deep/y.mp4"
    ]


def test_a_trigger_created_without_enable_stays_closed_until_opened(env: Env) -> None:
    env.put("incoming/a.mp4")
    env.runs()
    env.cos.delete_object(Bucket=BUCKET, Key="incoming/a.mp4")
    assert env.runs("emu-echo") == []  # the ObjectRemove trigger is closed

    closed = next(t for t in env.app.cos_triggers if t.events == "cos:ObjectRemove:*")
    closed.enabled = True
    env.put("incoming/b.mp4")
    env.cos.delete_object(Bucket=BUCKET, Key="incoming/b.mp4")
    (run,) = env.runs("emu-echo")
    assert run.result["event"]["Records"][0]["event"]["eventName"] == "cos:ObjectRemove:*"


def test_a_completed_multipart_upload_triggers_too(env: Env) -> None:
    key = "incoming/big.mp4"
    upload_id = env.cos.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    part = env.cos.upload_part(Bucket=BUCKET, Key=key, Body=b"p" * 10, PartNumber=1, UploadId=upload_id)
    env.cos.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )

    (run,) = env.runs()
    assert run.result["event"]["Records"][0]["cos"]["cosObject"]["size"] == 10


def test_duplicate_delivery_gives_two_invocations_of_the_same_record(env: Env) -> None:
    env.cloud.scf.duplicate_cos_events = True
    env.put("incoming/twice.mp4")

    runs = env.runs()
    assert len(runs) == 2
    assert runs[0].request_id != runs[1].request_id
    keys = {r.result["event"]["Records"][0]["cos"]["cosObject"]["key"] for r in runs}
    assert keys == {"/1250000000/staging/incoming/twice.mp4"}


def test_records_can_be_batched_into_one_event(env: Env) -> None:
    with env.cloud.scf.batched_cos_events():
        env.put("incoming/one.mp4")
        env.put("incoming/two.mp4")
        env.put("elsewhere/three.mp4")  # filtered out, never batched

    (run,) = env.runs()
    keys = [r["cos"]["cosObject"]["key"] for r in run.result["event"]["Records"]]
    assert keys == ["/1250000000/staging/incoming/one.mp4", "/1250000000/staging/incoming/two.mp4"]


def test_keys_can_be_delivered_raw_instead_of_url_encoded(env: Env) -> None:
    env.cloud.scf.cos_key_encoding = "raw"
    env.put("incoming/a b.mp4")

    (run,) = env.runs()
    assert run.result["event"]["Records"][0]["cos"]["cosObject"]["key"] == "/1250000000/staging/incoming/a b.mp4"
