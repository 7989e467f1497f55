"""Deploying a serverless.yml into the emulated cloud: functions, environment, roles, triggers, function URLs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.scf.v20180416 import models, scf_client

from tencent_emulator import mock_tencent
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.scf import DeployError

FIXTURE = Path(__file__).parent / "fixtures" / "scf_app" / "serverless.yml"
REPO_YML = Path(__file__).resolve().parents[2] / "serverless.yml"
VARS = {"STAGE": "test", "STAGING_BUCKET": "staging-1250000000"}
REPO_VARS = {
    "VODFLOW_STAGE": "dev",
    "VODFLOW_REGION": "ap-guangzhou",
    "VODFLOW_ROLE": "SCF_VodflowRole",
    "VODFLOW_STAGING_BUCKET": "staging-1250000000",
    "VODFLOW_STAGING_PREFIX": "incoming/",
    "VODFLOW_API_TOKEN": "t0ken",
    "VODFLOW_VOD_SUB_APP_ID": "",
}


@pytest.fixture
def cloud() -> Cloud:
    with mock_tencent() as c:
        yield c


def write_yml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "src" / "f").mkdir(parents=True)
    (tmp_path / "src" / "f" / "index.py").write_text("def main_handler(event, context):\n    return 1\n")
    path = tmp_path / "serverless.yml"
    path.write_text(text)
    return path


MINIMAL = """
app: a
stage: s
component: multi-scf
name: n
inputs:
  src:
    src: ./src
  region: ap-guangzhou
  functions:
    f:
      handler: f.index.main_handler
{extra}
"""


def test_the_fixture_app_registers_its_functions_with_their_settings(cloud: Cloud) -> None:
    app = cloud.deploy_app(str(FIXTURE), VARS)

    assert set(cloud.scf.functions) == {
        "emu-echo",
        "emu-flaky",
        "emu-boom",
        "emu-sleepy",
        "emu-whoami",
        "emu-fanout",
        "emu-ingest",
        "emu-test-emu-tick",  # no name: ${name}-${stage}-${app}-${key}
        "emu-web",
    }
    echo = app.function("echo")
    assert echo.handler_file == FIXTURE.parent / "src" / "echo" / "index.py"
    assert echo.handler_func == "main_handler"
    assert echo.environment == {"SHARED": "shared-test", "STAGING_BUCKET": "staging-1250000000", "ONLY_ECHO": "yes"}
    assert (echo.timeout_s, echo.memory_mb, echo.retry_num) == (3, 128, 2)  # inputs default, SCF's default retries
    whoami = app.function("whoami")
    assert (whoami.timeout_s, whoami.memory_mb) == (10, 256)
    assert app.function("boom").retry_num == 1


def test_triggers_follow_the_yml_and_a_trigger_without_enable_is_closed(cloud: Cloud) -> None:
    app = cloud.deploy_app(str(FIXTURE), VARS)

    staging, closed = app.cos_triggers
    assert (staging.function, staging.bucket, staging.prefix, staging.suffix, staging.enabled) == (
        "emu-ingest",
        "staging-1250000000",
        "incoming/",
        ".mp4",
        True,
    )
    assert (closed.bucket, closed.events, closed.enabled) == ("staging-1250000000", "cos:ObjectRemove:*", False)
    (timer,) = app.timers
    assert (timer.name, timer.function, timer.enabled, timer.message) == (
        "every-five-minutes",
        "emu-test-emu-tick",
        True,
        "sweep",
    )
    assert timer.next_due is not None
    (url,) = app.http_triggers
    assert (url.name, url.function, url.qualifier, url.auth_type) == ("web-url", "emu-web", "$DEFAULT", "NONE")
    assert (url.enable_extranet, url.enable_intranet) == (True, False)
    assert url.cors == {
        "Enable": True,
        "Origins": ["https://app.example.com"],  # the toolkit splits comma-separated strings
        "Methods": ["GET", "POST", "PUT"],
        "Headers": ["content-type", "x-api-token"],
        "ExposeHeaders": ["x-route"],
        "Credentials": False,
        "MaxAge": 600,
    }
    assert app.api_url == cloud.scf.function_url("emu-web") == cloud.scf.function_url("web")
    assert re.fullmatch(r"https://1250000000-[a-z0-9]+\.ap-guangzhou\.tencentscf\.com", app.api_url)
    assert app.local_api_url is None  # in-process: no loopback alias
    assert cloud.scf.function_url("emu-echo") is None


def test_an_http_trigger_is_created_the_way_the_toolkit_does(cloud: Cloud, tmp_path: Path) -> None:
    extra = """  triggers:
    - type: http
      function: f
      parameters:
        netConfig: {enableExtranet: true}"""
    app = cloud.deploy_app(str(write_yml(tmp_path, MINIMAL.format(extra=extra))))
    (url,) = app.http_triggers
    # http.ts: name 'url-trigger', qualifier $DEFAULT, AuthType NONE, EnableIntranet ?? false, no CorsConfig.
    assert (url.name, url.qualifier, url.auth_type, url.enable_intranet, url.cors) == (
        "url-trigger",
        "$DEFAULT",
        "NONE",
        False,
        None,
    )


def test_an_apigw_trigger_is_refused_with_the_replacement_named(cloud: Cloud, tmp_path: Path) -> None:
    extra = """  triggers:
    - type: apigw
      parameters:
        serviceName: s
        apis: [{path: /, method: GET, function: f}]"""
    path = write_yml(tmp_path, MINIMAL.format(extra=extra))
    with pytest.raises(DeployError) as info:
        cloud.deploy_app(str(path))
    message = str(info.value)
    assert "inputs.triggers[0].type" in message
    assert "retired on 2025-06-30" in message and "type: http" in message
    assert cloud.scf.functions == {}


def test_an_unset_variable_is_an_error_naming_it(cloud: Cloud) -> None:
    with pytest.raises(DeployError, match=r"\$\{env:STAGING_BUCKET\} is not set"):
        cloud.deploy_app(str(FIXTURE), {"STAGE": "test"})
    assert cloud.scf.functions == {}


def test_the_repos_own_serverless_yml_deploys(cloud: Cloud) -> None:
    every_variable = {name: "1" for name in re.findall(r"\$\{env:([A-Z0-9_]+)\}", REPO_YML.read_text())}
    app = cloud.deploy_app(str(REPO_YML), {**every_variable, **REPO_VARS})

    assert set(cloud.scf.functions) == {
        "vodflow-ingest",
        "vodflow-part-copy",
        "vodflow-finalize",
        "vodflow-api",
        "vodflow-sweeper",
    }
    ingest = app.function("ingest")
    assert ingest.handler_file == REPO_YML.parent / "functions" / "ingest" / "index.py"
    assert (ingest.timeout_s, ingest.memory_mb, ingest.retry_num, ingest.role) == (900, 256, 2, "SCF_VodflowRole")
    assert ingest.environment["VODFLOW_STAGING_PREFIX"] == "incoming/"
    assert app.function("api").retry_num == 0
    (trigger,) = app.cos_triggers
    assert (trigger.bucket, trigger.prefix, trigger.events, trigger.enabled) == (
        "staging-1250000000",
        "incoming/",
        "cos:ObjectCreated:*",
        True,
    )
    assert [t.function for t in app.timers] == ["vodflow-sweeper"]
    assert [t.function for t in app.http_triggers] == ["vodflow-api"]
    assert app.api_url == cloud.scf.function_url("vodflow-api")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("      memorySize: 100", r"memorySize: 100 must be 64 or 128\.\.3072"),
        ("      timeout: 901", r"timeout: 901 must be 1\.\.900"),
        ("      name: 9bad", r"name: '9bad' must be 2-60 characters"),
        ("      handler: f.missing.main_handler", r"does not exist"),
    ],
)
def test_invalid_function_settings_are_refused_with_the_field_named(
    cloud: Cloud, tmp_path: Path, extra: str, message: str
) -> None:
    path = write_yml(tmp_path, MINIMAL.format(extra=extra))
    with pytest.raises(DeployError, match=message):
        cloud.deploy_app(str(path))


def test_a_cos_trigger_on_a_bucket_in_another_region_is_refused(cloud: Cloud, tmp_path: Path) -> None:
    extra = """  triggers:
    - type: cos
      function: f
      parameters:
        bucket: b-1250000000.cos.ap-shanghai.myqcloud.com
        filter: {prefix: '', suffix: ''}
        events: 'cos:ObjectCreated:*'
        enable: true"""
    path = write_yml(tmp_path, MINIMAL.format(extra=extra))
    with pytest.raises(DeployError, match="the bucket is in ap-shanghai, the function in ap-guangzhou"):
        cloud.deploy_app(str(path))


def test_functions_get_role_keys_and_the_builtin_variables(cloud: Cloud) -> None:
    app = cloud.deploy_app(str(FIXTURE), VARS)
    echo = app.function("echo")

    env = cloud.scf.environment(echo)
    key = cloud.iam.get(env["TENCENTCLOUD_SECRETID"])
    assert key is not None and key.temporary and key.principal == "scf-role:emu-echo"
    assert env["TENCENTCLOUD_SECRETKEY"] == key.secret_key
    assert env["TENCENTCLOUD_SESSIONTOKEN"] == key.token
    assert env["SCF_FUNCTIONNAME"] == "emu-echo"
    assert env["SCF_NAMESPACE"] == "default"
    assert env["TENCENTCLOUD_REGION"] == "ap-guangzhou"
    assert env["TENCENTCLOUD_APPID"] == cloud.app_id
    assert env["TENCENTCLOUD_UIN"] == cloud.uin
    assert env["TENCENTCLOUD_RUNENV"] == "SCF"


def test_role_keys_are_renewed_before_they_expire(cloud: Cloud) -> None:
    app = cloud.deploy_app(str(FIXTURE), VARS)
    echo = app.function("echo")
    first = cloud.scf.environment(echo)["TENCENTCLOUD_SECRETID"]
    assert cloud.scf.environment(echo)["TENCENTCLOUD_SECRETID"] == first  # still fresh: reused

    cloud.clock.advance(7200 - 100)  # less than timeout + margin left
    renewed = cloud.scf.environment(echo)["TENCENTCLOUD_SECRETID"]
    assert renewed != first
    assert cloud.iam.get(renewed).expires_at > cloud.clock.now() + 3600


def test_a_role_policy_limits_what_the_functions_keys_may_do(cloud: Cloud) -> None:
    policy = {"version": "2.0", "statement": [{"effect": "allow", "action": ["cos:*"], "resource": ["*"]}]}
    cloud.deploy_app(str(FIXTURE), VARS, role_policy=policy)

    _, outcome = cloud.scf.invoke("emu-whoami", {})  # it calls scf:ListFunctions with its role keys
    assert outcome.status == "error"
    assert "AuthFailure.UnauthorizedOperation" in outcome.error["stackTrace"]

    # The same function with the default (unrestricted) role can list functions.
    cloud.deploy_app(str(FIXTURE), VARS)
    _, outcome = cloud.scf.invoke("emu-whoami", {})
    assert outcome.status == "ok"
    assert outcome.result["functions_seen"] == len(cloud.scf.functions)


def test_a_deny_statement_is_refused_rather_than_ignored(cloud: Cloud) -> None:
    policy = json.dumps({"statement": [{"effect": "deny", "action": ["cos:*"], "resource": ["*"]}]})
    with pytest.raises(DeployError, match="only effect 'allow'"):
        cloud.deploy_app(str(FIXTURE), VARS, role_policy=policy)


def test_the_deployed_functions_are_listed_by_the_scf_api(cloud: Cloud) -> None:
    cloud.deploy_app(str(FIXTURE), VARS)
    client = scf_client.ScfClient(Credential(cloud.secret_id, cloud.secret_key), "ap-guangzhou")

    listed = client.ListFunctions(models.ListFunctionsRequest())
    assert listed.TotalCount == len(cloud.scf.functions)
    req = models.GetFunctionRequest()
    req.FunctionName = "emu-ingest"
    got = client.GetFunction(req)
    assert (got.Handler, got.Timeout, got.MemorySize, got.Runtime) == ("echo.index.main_handler", 3, 128, "Python3.9")
    assert {(t.Type, t.TriggerName, t.Enable) for t in got.Triggers} == {
        ("cos", "staging-1250000000.cos.ap-guangzhou.myqcloud.com", 1)
    }
    req.FunctionName = "nope"
    with pytest.raises(TencentCloudSDKException) as info:
        client.GetFunction(req)
    assert info.value.code == "ResourceNotFound.FunctionName"
