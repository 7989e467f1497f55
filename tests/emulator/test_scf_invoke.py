"""SCF's Invoke API through tencentcloud-sdk-python, in-process and over the HTTP server alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416 import models, scf_client

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.server import EmulatorServer

FIXTURE = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
VARS = {"STAGE": "test", "STAGING_BUCKET": "staging-1250000000"}


@dataclass
class Env:
    cloud: Cloud
    client: scf_client.ScfClient


@pytest.fixture(params=["in-process", "server"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    if request.param == "in-process":
        with mock_tencent() as cloud:
            cloud.deploy_app(str(FIXTURE), VARS)
            yield Env(cloud, scf_client.ScfClient(Credential(cloud.secret_id, cloud.secret_key), "ap-guangzhou"))
        return
    cloud = Cloud(mode="server")
    server = EmulatorServer(cloud).start()
    cloud.base_url = server.url
    try:
        cloud.deploy_app(str(FIXTURE), VARS)
        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{server.port}"))
        yield Env(cloud, scf_client.ScfClient(Credential(cloud.secret_id, cloud.secret_key), "ap-guangzhou", profile))
    finally:
        server.stop()
        cloud.close()


def invoke(env: Env, name: str, event: object = None, **fields: str) -> models.InvokeResponse:
    req = models.InvokeRequest()
    req.FunctionName = name
    if event is not None:
        req.ClientContext = event if isinstance(event, str) else json.dumps(event)
    for k, v in fields.items():
        setattr(req, k, v)
    return env.client.Invoke(req)


def error_code(env: Env, name: str, event: object = None, **fields: str) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        invoke(env, name, event, **fields)
    return str(info.value.code)


def test_a_synchronous_invoke_returns_the_handlers_value_as_json(env: Env) -> None:
    out = invoke(env, "emu-echo", {"hello": "world"})

    result = out.Result
    assert (result.InvokeResult, result.ErrMsg) == (0, "")
    body = json.loads(result.RetMsg)
    assert body["event"] == {"hello": "world"}
    assert body["context"]["function_name"] == "emu-echo"
    assert body["context"]["request_id"] == result.FunctionRequestId
    assert body["context"]["time_limit_in_ms"] == 3000
    assert body["context"]["memory_limit_in_mb"] == 128
    assert body["context"]["namespace"] == "default"
    assert body["context"]["tencentcloud_appid"] == env.cloud.app_id
    assert body["env"]["ONLY_ECHO"] == "yes"
    assert result.Duration >= 0 and result.BillDuration >= 1 and result.MemUsage > 0
    assert out.RequestId


def test_a_string_return_value_is_sent_as_is(env: Env) -> None:
    assert invoke(env, "emu-sleepy", {"seconds": 0}).Result.RetMsg == "awake"


def test_invoke_function_is_the_synchronous_variant(env: Env) -> None:
    req = models.InvokeFunctionRequest()
    req.FunctionName = "emu-echo"
    req.Event = json.dumps({"n": 1})
    out = env.client.InvokeFunction(req)
    assert json.loads(out.Result.RetMsg)["event"] == {"n": 1}


def test_a_handler_that_raises_gives_the_documented_error_in_errmsg(env: Env) -> None:
    result = invoke(env, "emu-boom", {}).Result

    assert result.InvokeResult == -1
    assert result.RetMsg == ""
    err = json.loads(result.ErrMsg)
    assert err["errorCode"] == -1
    assert err["errorMessage"] == "user code exception caught"
    assert err["statusCode"] == 430
    assert err["requestId"] == result.FunctionRequestId
    assert "ValueError: err msg" in err["stackTrace"]
    assert "tencent_emulator" not in err["stackTrace"]  # only the user's frames
    assert [r.status for r in env.cloud.scf.invocations] == ["error"]  # synchronous calls are never retried


def test_a_synchronous_run_past_its_timeout_is_reported_as_timed_out(env: Env) -> None:
    env.cloud.scf.function("emu-sleepy").timeout_s = 0.1
    result = invoke(env, "emu-sleepy", {"seconds": 1}).Result
    err = json.loads(result.ErrMsg)
    assert (result.InvokeResult, err["statusCode"]) == (-1, 433)
    assert "timed out" in err["errorMessage"]
    assert env.cloud.scf.invocations[-1].status == "timeout"


def test_an_event_invoke_is_queued_and_runs_on_drain(env: Env) -> None:
    result = invoke(env, "emu-echo", {"async": True}, InvocationType="Event").Result

    assert result.FunctionRequestId
    assert (result.RetMsg, result.ErrMsg) == ("", "")
    assert env.cloud.scf.invocations == []  # nothing ran yet
    (rec,) = env.cloud.scf.drain(timeout_s=10)
    assert (rec.request_id, rec.status, rec.invocation_type) == (result.FunctionRequestId, "ok", "async")
    assert rec.result["event"] == {"async": True}


def test_unknown_function_qualifier_and_namespace_are_named_errors(env: Env) -> None:
    assert error_code(env, "no-such-function", {}) == "ResourceNotFound.FunctionName"
    assert error_code(env, "emu-echo", {}, Qualifier="7") == "ResourceNotFound.Qualifier"
    assert error_code(env, "emu-echo", {}, Namespace="other") == "ResourceNotFound.Namespace"
    assert error_code(env, "emu-echo", {}, InvocationType="Later") == "InvalidParameterValue.InvokeType"
    for qualifier in ("$LATEST", "$DEFAULT"):
        assert invoke(env, "emu-echo", {}, Qualifier=qualifier).Result.InvokeResult == 0


def test_a_client_context_that_is_not_a_json_object_is_refused(env: Env) -> None:
    assert error_code(env, "emu-echo", "{not json") == "InvalidParameterValue.Param"
    assert error_code(env, "emu-echo", "[1, 2]") == "InvalidParameterValue.Param"


def test_payload_limits_are_6mb_sync_and_128kb_async(env: Env) -> None:
    async_too_big = {"pad": "x" * (128 * 1024)}
    assert error_code(env, "emu-echo", async_too_big, InvocationType="Event") == "InvalidParameter.RequestTooLarge"
    assert invoke(env, "emu-echo", {"pad": "x" * (120 * 1024)}, InvocationType="Event").Result.FunctionRequestId

    assert invoke(env, "emu-sleepy", async_too_big).Result.RetMsg == "awake"  # fine synchronously
    sync_too_big = {"pad": "x" * (6 * 1024 * 1024)}
    assert error_code(env, "emu-echo", sync_too_big) == "InvalidParameter.RequestTooLarge"


def test_a_missing_function_name_is_a_missing_parameter(env: Env) -> None:
    with pytest.raises(TencentCloudSDKException) as info:
        env.client.Invoke(models.InvokeRequest())
    assert info.value.code == "MissingParameter"


def test_functions_calling_scf_with_their_role_keys_reach_the_same_cloud(env: Env) -> None:
    out = json.loads(invoke(env, "emu-whoami", {}).Result.RetMsg)
    key = env.cloud.iam.get(out["secret_id"])
    assert key is not None and key.principal == "scf-role:emu-whoami"
    assert out["functions_seen"] == len(env.cloud.scf.functions)
