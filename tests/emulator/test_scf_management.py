"""The SCF management API through the unmodified ``ScfClient``, in process and over HTTP: functions from a
zip or a COS object, their status, code and configuration updates, async retry settings, triggers,
regions, and the 432 of a synchronous invocation over the concurrency limit."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zipfile
from typing import Any, Optional

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.scf.v20180416 import models, scf_client

from tests.emulator.conftest import Endpoint

APP = "1250000000"
HANDLER_V1 = """
import os, sys

def main_handler(event, context):
    try:
        import yaml  # in the emulator's site-packages, not in the package: must not import
        isolated = False
    except ImportError:
        isolated = True
    return {"v": 1, "event": event, "python": "%d.%d" % sys.version_info[:2], "isolated": isolated,
            "greeting": os.environ.get("GREETING"), "fn": os.environ.get("SCF_FUNCTIONNAME")}
"""
HANDLER_V2 = "def main_handler(event, context):\n    return {'v': 2}\n"
FAILING = "def main_handler(event, context):\n    raise ValueError('always')\n"
SLEEPY = "import time\n\ndef main_handler(event, context):\n    time.sleep(event.get('s', 0))\n    return 'done'\n"


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def b64zip(files: dict[str, str]) -> str:
    return base64.b64encode(zip_of(files)).decode()


def client(ep: Endpoint, region: Optional[str] = None) -> scf_client.ScfClient:
    return scf_client.ScfClient(ep.credential(), region or ep.cloud.region, ep.tc_profile())


def call(c: scf_client.ScfClient, action: str, **params: Any) -> Any:
    req = getattr(models, f"{action}Request")()
    req.from_json_string(json.dumps(params))
    return getattr(c, action)(req)


def code_of(c: scf_client.ScfClient, action: str, **params: Any) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        call(c, action, **params)
    return str(info.value.code)


def wait_status(c: scf_client.ScfClient, name: str, until: tuple[str, ...] = ("Active",), timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = call(c, "GetFunction", FunctionName=name)
        if got.Status not in ("Creating", "Updating") or time.monotonic() > deadline:
            assert got.Status in until, (got.Status, got.StatusReasons)
            return got
        time.sleep(0.05)


def create(c: scf_client.ScfClient, name: str, files: dict[str, str], **extra: Any) -> Any:
    params = {
        "FunctionName": name,
        "Code": {"ZipFile": b64zip(files)},
        "Handler": "index.main_handler",
        "Runtime": "Python3.10",
        "Timeout": 10,
        **extra,
    }
    return call(c, "CreateFunction", **params)


def invoke(c: scf_client.ScfClient, name: str, event: Any = None, kind: str = "RequestResponse") -> Any:
    return call(c, "Invoke", FunctionName=name, InvocationType=kind, ClientContext=json.dumps(event or {})).Result


def test_a_zip_function_is_creating_then_active_and_runs_its_own_code_isolated(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    create(c, "zipped", {"index.py": HANDLER_V1}, Environment={"Variables": [{"Key": "GREETING", "Value": "hi"}]})

    first = call(c, "GetFunction", FunctionName="zipped")
    assert first.Status == "Creating"  # a deployer must wait before the next call
    assert code_of(c, "UpdateFunctionConfiguration", FunctionName="zipped", Timeout=5) == (
        "FailedOperation.FunctionStatusError"
    )
    assert code_of(c, "UpdateFunctionCode", FunctionName="zipped", ZipFile=b64zip({"index.py": HANDLER_V2})) == (
        "FailedOperation.UpdateFunctionCode"
    )
    got = wait_status(c, "zipped")
    assert (got.Handler, got.Runtime, got.Timeout, got.MemorySize) == ("index.main_handler", "Python3.10", 10, 128)
    assert got.CodeSize > 0 and got.StatusReasons == []

    result = json.loads(invoke(c, "zipped", {"k": "v"}).RetMsg)
    assert result["event"] == {"k": "v"} and result["greeting"] == "hi" and result["fn"] == "zipped"
    assert result["python"] == "3.10"  # the Runtime's interpreter (pyenv), not the emulator's
    assert result["isolated"] is True  # the package is all it sees
    assert cloud_and_endpoint.cloud.scf.function("zipped").run_mode == "subprocess"


def test_a_function_from_a_cos_object(cloud_and_endpoint: Endpoint) -> None:
    cos = cloud_and_endpoint.cos_client()
    cloud_and_endpoint.cloud.cos.create_bucket(f"code-{APP}")
    cos.put_object(Bucket=f"code-{APP}", Key="pkg/fn.zip", Body=zip_of({"src/main.py": HANDLER_V2}))
    c = client(cloud_and_endpoint)

    call(
        c,
        "CreateFunction",
        FunctionName="from-cos",
        Handler="src.main.main_handler",
        Runtime="Python3.10",
        Code={"CosBucketName": "code", "CosObjectName": "/pkg/fn.zip", "CosBucketRegion": "ap-guangzhou"},
    )
    wait_status(c, "from-cos")
    assert json.loads(invoke(c, "from-cos").RetMsg) == {"v": 2}

    missing = {"CosBucketName": "code", "CosObjectName": "/pkg/nope.zip"}
    assert code_of(c, "CreateFunction", FunctionName="nope", Runtime="Python3.10", Code=missing) == (
        "ResourceNotFound.CosObject"
    )


def test_a_package_without_its_handler_file_ends_create_failed(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    create(c, "broken", {"main.py": HANDLER_V2})  # Handler index.main_handler: no index.py

    got = wait_status(c, "broken", until=("CreateFailed",))
    (reason,) = got.StatusReasons
    assert reason.ErrorCode == "InvalidParameterValue.Handler" and "index.py" in reason.ErrorMessage
    assert code_of(c, "Invoke", FunctionName="broken") == "FailedOperation.FunctionStatusError"
    call(c, "DeleteFunction", FunctionName="broken")  # a failed function can be deleted


def test_bad_packages_and_settings_are_refused_on_the_call(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    not_zip = base64.b64encode(b"plain text").decode()
    assert code_of(c, "CreateFunction", FunctionName="f1", Runtime="Python3.10", Code={"ZipFile": not_zip}) == (
        "InvalidParameterValue.ZipFile"
    )
    assert code_of(c, "CreateFunction", FunctionName="f1", Runtime="Python3.10", Code={"ZipFile": "%%%"}) == (
        "InvalidParameterValue.ZipFileBase64BinasciiError"
    )
    files = {"index.py": HANDLER_V2}
    assert code_of(c, "CreateFunction", FunctionName="9bad", Code={"ZipFile": b64zip(files)}) == (
        "InvalidParameterValue.FunctionName"
    )
    for extra, code in [
        ({"MemorySize": 100}, "InvalidParameterValue.MemorySize"),
        ({"Timeout": 901}, "LimitExceeded.Timeout"),
        ({"Runtime": "Nodejs16.13"}, "InvalidParameterValue.Runtime"),
        (
            {"Environment": {"Variables": [{"Key": "SCF_X", "Value": "1"}]}},
            "InvalidParameterValue.EnvironmentSystemProtect",
        ),
        ({"VpcConfig": {"VpcId": "vpc-1", "SubnetId": "subnet-1"}}, "UnsupportedOperation"),
    ]:
        params = {"FunctionName": "f1", "Runtime": "Python3.10", "Code": {"ZipFile": b64zip(files)}, **extra}
        assert code_of(c, "CreateFunction", **params) == code, extra
    assert cloud_and_endpoint.cloud.scf.functions == {}  # refused calls change nothing

    create(c, "dup", files)
    assert code_of(c, "CreateFunction", FunctionName="dup", Runtime="Python3.10", Code={"ZipFile": b64zip(files)}) == (
        "ResourceInUse.Function"
    )


def test_code_and_configuration_updates_take_effect_once_active(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    create(c, "upd", {"index.py": HANDLER_V1})
    wait_status(c, "upd")

    call(
        c,
        "UpdateFunctionConfiguration",
        FunctionName="upd",
        Environment={"Variables": [{"Key": "GREETING", "Value": "hello"}]},
        MemorySize=256,
    )
    assert call(c, "GetFunction", FunctionName="upd").Status == "Updating"
    got = wait_status(c, "upd")
    assert got.MemorySize == 256 and [(v.Key, v.Value) for v in got.Environment.Variables] == [("GREETING", "hello")]
    assert json.loads(invoke(c, "upd").RetMsg)["greeting"] == "hello"

    call(c, "UpdateFunctionCode", FunctionName="upd", ZipFile=b64zip({"index.py": HANDLER_V2}))
    wait_status(c, "upd")
    assert json.loads(invoke(c, "upd").RetMsg) == {"v": 2}

    call(c, "UpdateFunctionCode", FunctionName="upd", Code={"ZipFile": b64zip({"other.py": HANDLER_V1})})
    got = wait_status(c, "upd", until=("UpdateFailed",))
    assert got.StatusReasons[0].ErrorCode == "InvalidParameterValue.Handler"
    assert json.loads(invoke(c, "upd").RetMsg) == {"v": 2}  # the last good code keeps running


def test_list_and_delete(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    cloud_and_endpoint.cloud.scf.settle_s = 0
    for name in ("a-fn", "b-fn"):
        create(c, name, {"index.py": HANDLER_V2})
    call(c, "CreateTrigger", FunctionName="a-fn", Type="timer", TriggerName="tick", TriggerDesc="0 */5 * * * * *")

    listed = call(c, "ListFunctions", Orderby="FunctionName")
    assert [f.FunctionName for f in listed.Functions] == ["a-fn", "b-fn"] and listed.TotalCount == 2
    assert {f.Status for f in listed.Functions} == {"Active"}

    call(c, "DeleteFunction", FunctionName="a-fn")
    assert code_of(c, "GetFunction", FunctionName="a-fn") == "ResourceNotFound.FunctionName"
    assert code_of(c, "DeleteFunction", FunctionName="a-fn") == "ResourceNotFound.Function"
    assert cloud_and_endpoint.cloud.scf.timers == []  # its triggers went with it
    assert call(c, "ListFunctions").TotalCount == 1


def test_the_event_invoke_config_drives_async_retries(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    scf = cloud_and_endpoint.cloud.scf
    scf.settle_s = 0
    create(c, "fails", {"index.py": FAILING})
    got = call(c, "GetFunctionEventInvokeConfig", FunctionName="fails").AsyncTriggerConfig
    assert (got.RetryConfig[0].RetryNum, got.MsgTTL) == (2, 21600)  # SCF's defaults

    call(
        c,
        "UpdateFunctionEventInvokeConfig",
        FunctionName="fails",
        AsyncTriggerConfig={"RetryConfig": [{"RetryNum": 0}], "MsgTTL": 3600},
    )
    got = call(c, "GetFunctionEventInvokeConfig", FunctionName="fails").AsyncTriggerConfig
    assert (got.RetryConfig[0].RetryNum, got.MsgTTL) == (0, 3600)
    invoke(c, "fails", {}, kind="Event")
    assert [r.attempt for r in scf.drain(60)] == [1]  # no retry

    call(
        c,
        "UpdateFunctionEventInvokeConfig",
        FunctionName="fails",
        AsyncTriggerConfig={"RetryConfig": [{"RetryNum": 1}]},
    )
    invoke(c, "fails", {}, kind="Event")
    assert [r.attempt for r in scf.drain(60)] == [1, 2]
    too_many = {"RetryConfig": [{"RetryNum": 3}]}
    assert code_of(c, "UpdateFunctionEventInvokeConfig", FunctionName="fails", AsyncTriggerConfig=too_many) == (
        "LimitExceeded.RetryNum"
    )


def test_cos_and_timer_triggers_made_through_the_api_fire(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    scf = cloud_and_endpoint.cloud.scf
    scf.settle_s = 0
    cloud_and_endpoint.cloud.cos.create_bucket(f"staging-{APP}")
    create(c, "on-upload", {"index.py": HANDLER_V1})
    host = f"staging-{APP}.cos.ap-guangzhou.myqcloud.com"
    desc = json.dumps({"event": "cos:ObjectCreated:*", "filter": {"Prefix": "incoming/", "Suffix": ""}})
    info = call(
        c,
        "CreateTrigger",
        FunctionName="on-upload",
        Type="cos",
        TriggerName=host,
        TriggerDesc=desc,
        Qualifier="$DEFAULT",
        Enable="OPEN",
    ).TriggerInfo
    assert (info.Type, info.TriggerName, info.Enable, json.loads(info.TriggerDesc)) == (
        "cos",
        host,
        1,
        json.loads(desc),
    )

    cloud_and_endpoint.cos_client().put_object(Bucket=f"staging-{APP}", Key="incoming/a.mp4", Body=b"x")
    cloud_and_endpoint.cos_client().put_object(Bucket=f"staging-{APP}", Key="elsewhere/b.mp4", Body=b"x")
    (run,) = scf.drain(60)
    record = run.result["event"]["Records"][0]
    assert record["cos"]["cosObject"]["key"] == f"/{APP}/staging/incoming/a.mp4"

    call(
        c,
        "CreateTrigger",
        FunctionName="on-upload",
        Type="timer",
        TriggerName="sweep",
        TriggerDesc="0 */5 * * * * *",
        CustomArgument="go",
    )
    scf.fire_timer("sweep")
    (tick,) = scf.drain(60)
    assert tick.result["event"]["Type"] == "Timer" and tick.result["event"]["Message"] == "go"

    triggers = call(c, "ListTriggers", FunctionName="on-upload")
    assert triggers.TotalCount == 2 and {t.Type for t in triggers.Triggers} == {"cos", "timer"}
    call(c, "DeleteTrigger", FunctionName="on-upload", Type="cos", TriggerName=host, TriggerDesc=desc)
    cloud_and_endpoint.cos_client().put_object(Bucket=f"staging-{APP}", Key="incoming/c.mp4", Body=b"x")
    assert scf.drain(60) == []
    assert code_of(c, "DeleteTrigger", FunctionName="on-upload", Type="cos", TriggerName=host, TriggerDesc=desc) == (
        "ResourceNotFound.Trigger"
    )


def test_unknown_and_unmodelled_trigger_types_are_refused(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    cloud_and_endpoint.cloud.scf.settle_s = 0
    create(c, "plain", {"index.py": HANDLER_V2})
    apigw = json.dumps(
        {"api": {"authRequired": "FALSE"}, "service": {"serviceName": "s"}, "release": {"environmentName": "release"}}
    )
    assert code_of(c, "CreateTrigger", FunctionName="plain", Type="apigw", TriggerName="s", TriggerDesc=apigw) == (
        "InvalidParameterValue.Type"
    )
    assert code_of(c, "CreateTrigger", FunctionName="plain", Type="cls", TriggerName="t", TriggerDesc="{}") == (
        "UnsupportedOperation.Trigger"
    )
    assert code_of(
        c, "CreateTrigger", FunctionName="plain", Type="timer", TriggerName="t", TriggerDesc="every minute"
    ) == ("InvalidParameterValue.TriggerDesc")
    assert call(c, "ListTriggers", FunctionName="plain").TotalCount == 0


def test_a_function_lives_in_the_region_it_was_created_in(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    cloud_and_endpoint.cloud.scf.settle_s = 0
    create(c, "gz-only", {"index.py": HANDLER_V2})
    other = client(cloud_and_endpoint, "ap-shanghai")

    assert code_of(other, "GetFunction", FunctionName="gz-only") == "ResourceNotFound.FunctionName"
    assert code_of(other, "Invoke", FunctionName="gz-only") == "ResourceNotFound.FunctionName"
    assert (
        code_of(other, "UpdateFunctionConfiguration", FunctionName="gz-only", Timeout=5) == "ResourceNotFound.Function"
    )
    assert call(other, "ListFunctions").TotalCount == 0
    assert cloud_and_endpoint.cloud.scf.function("gz-only").region == "ap-guangzhou"


def test_a_sync_invoke_over_the_concurrency_quota_gets_432(cloud_and_endpoint: Endpoint) -> None:
    c = client(cloud_and_endpoint)
    scf = cloud_and_endpoint.cloud.scf
    scf.settle_s = 0
    create(c, "slow", {"index.py": SLEEPY})
    scf.quota_mb = 128  # room for one 128 MB instance
    first: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: first.setdefault("r", invoke(c, "slow", {"s": 2})))
    worker.start()
    deadline = time.monotonic() + 10
    while not scf.running() and time.monotonic() < deadline:
        time.sleep(0.02)

    refused = invoke(c, "slow", {"s": 0})
    worker.join()
    error = json.loads(refused.ErrMsg)
    assert (refused.InvokeResult, error["statusCode"]) == (-1, 432)
    assert "ResourceLimitReached" in error["errorMessage"] and refused.RetMsg == ""
    assert first["r"].RetMsg == "done"

    invoke(c, "slow", {"s": 0}, kind="Event")  # async invocations still queue
    assert [r.status for r in scf.drain(60)] == ["ok"]
