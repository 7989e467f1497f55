"""STS parameter rules as tencentcloud-sdk-python's ``sts/v20180813/models.py`` and the API pages document them,
through the unmodified StsClient, in-process and over the HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tencentcloud.sts.v20180813 import models as sts_models

from tests.emulator.conftest import MODES, open_endpoint
from tests.emulator.test_sts_tokens import ALLOW_ALL, Env, assume, error_code, federation


@pytest.fixture(params=MODES)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    for endpoint in open_endpoint(request.param, tmp_path_factory.mktemp("sts")):
        yield Env(endpoint.cloud, endpoint.server)


def raw_federation(env: Env, fields: dict[str, Any]) -> Any:
    req = sts_models.GetFederationTokenRequest()
    req.from_json_string(json.dumps(fields))
    return env.sts().GetFederationToken(req)


# -- GetFederationToken ---------------------------------------------------------------------------


def test_federation_policy_is_required(env: Env) -> None:
    # API page 1312/48195: "Policy | 是 | String"; the SDK model lists no default.
    assert error_code(lambda: raw_federation(env, {"Name": "uploader"})) == "MissingParameter"
    assert env.cloud.sts.issued == []


@pytest.mark.parametrize(
    "name",
    ["a", "n" * 33, "has space", "名字名字", "semi;colon", ""],
    ids=["too-short", "too-long", "space", "not-ascii", "semicolon", "empty"],
)
def test_federation_name_rules(env: Env, name: str) -> None:
    assert error_code(lambda: federation(env, Name=name)) == "InvalidParameter.ParamError"


@pytest.mark.parametrize("name", ["uploader", "cos-sts-python", "ab", "n" * 32, "a.b@c=d,e+f_g"])
def test_federation_names_that_are_accepted(env: Env, name: str) -> None:
    # "cos-sts-python" is what the official qcloud-cos-sts-sdk sends (python/sts/sts.py).
    assert federation(env, Name=name).Credentials.Token


def test_federation_duration_bounds(env: Env) -> None:
    assert error_code(lambda: federation(env, DurationSeconds=0)) == "InvalidParameter.ParamError"
    assert error_code(lambda: federation(env, DurationSeconds=-5)) == "InvalidParameter.ParamError"
    assert error_code(lambda: federation(env, DurationSeconds=7201)) == "InvalidParameter.OverTimeError"
    # A sub-account may ask for up to 129600 s (the model's DurationSeconds doc).
    sub = env.cloud.iam.create_permanent_key("sub:alice")
    cred = env.cred(sub.secret_id, sub.secret_key)
    assert federation(env, cred, DurationSeconds=129600).ExpiredTime > 0
    assert error_code(lambda: federation(env, cred, DurationSeconds=129601)) == "InvalidParameter.OverTimeError"


def test_federation_wrong_types_and_unknown_fields(env: Env) -> None:
    assert error_code(lambda: raw_federation(env, {"Name": "u1", "Policy": ALLOW_ALL, "DurationSeconds": "60"})) == (
        "InvalidParameter.ParamError"
    )
    # The SDK drops unknown fields itself, so an unknown one only arrives through a hand-made body; not tested here.


# -- AssumeRole -----------------------------------------------------------------------------------


def test_assume_role_accepts_every_documented_arn_form(env: Env) -> None:
    arn = env.cloud.sts.add_role("worker")
    role = env.cloud.sts.roles["worker"]
    uin = env.cloud.uin
    for form in (
        arn,
        f"qcs::cam::uin/{uin}:role/{role.role_id}",
        f"qcs::cam::uin/{uin}:role/tencentcloudServiceRole/{role.role_id}",
        f"qcs::cam::uin/{uin}:role/tencentcloudServiceRoleName/worker",
    ):
        assert assume(env, RoleArn=form).Credentials.Token, form


@pytest.mark.parametrize(
    "arn",
    ["worker", "qcs::cam::uin/abc:roleName/worker", "qcs::cam::uin/1:user/worker", "qcs::cam::uin/1:roleName/"],
)
def test_assume_role_malformed_arns(env: Env, arn: str) -> None:
    assert error_code(lambda: assume(env, RoleArn=arn)) == "InvalidParameter.ParamError"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"RoleSessionName": "x"}, "InvalidParameter.ParamError"),
        ({"RoleSessionName": "s" * 129}, "InvalidParameter.ParamError"),
        ({"RoleSessionName": "has space"}, "InvalidParameter.ParamError"),
        ({"DurationSeconds": 0}, "InvalidParameter.ParamError"),
        ({"DurationSeconds": 43201}, "InvalidParameter.OverTimeError"),
        ({"ExternalId": "e"}, "InvalidParameter.ParamError"),
        ({"ExternalId": "bad id"}, "InvalidParameter.ParamError"),
        ({"Tags": [{"Key": "k", "Value": "v"}, {"Key": "k", "Value": "w"}]}, "InvalidParameter.ParamError"),
        ({"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "InvalidParameter.ParamError"),
        ({"Tags": [{"Key": "k" * 129, "Value": "v"}]}, "InvalidParameter.ParamError"),
        ({"Tags": [{"Key": "k", "Value": "v" * 257}]}, "InvalidParameter.ParamError"),
        ({"Policy": "%7Bnot%20json"}, "InvalidParameter.StrategyFormatError"),
    ],
    ids=[
        "session-short",
        "session-long",
        "session-space",
        "duration-zero",
        "duration-over",
        "external-short",
        "external-space",
        "tags-repeat",
        "tags-51",
        "tag-key-long",
        "tag-value-long",
        "policy-not-json",
    ],
)
def test_assume_role_refusals_name_the_field(env: Env, fields: dict[str, Any], code: str) -> None:
    arn = env.cloud.sts.add_role("worker")
    assert error_code(lambda: assume(env, RoleArn=arn, **fields)) == code
    assert env.cloud.sts.issued == []


def test_assume_role_accepts_the_documented_extremes(env: Env) -> None:
    arn = env.cloud.sts.add_role("worker")
    ok = assume(
        env,
        RoleArn=arn,
        RoleSessionName="s" * 128,
        ExternalId="qcs::ext/id:a=b,c.d@e-f",
        Tags=[{"Key": f"k{i}", "Value": "v" * 256} for i in range(50)],
        DurationSeconds=43200,
    )
    assert ok.Credentials.Token


def test_assume_role_needs_role_arn_and_session_name(env: Env) -> None:
    arn = env.cloud.sts.add_role("worker")
    req = sts_models.AssumeRoleRequest()
    req.RoleArn = arn
    assert error_code(lambda: env.sts().AssumeRole(req)) == "MissingParameter"
    req = sts_models.AssumeRoleRequest()
    req.RoleSessionName = "job-1"
    assert error_code(lambda: env.sts().AssumeRole(req)) == "MissingParameter"
