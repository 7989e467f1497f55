"""STS through the official tencentcloud SDK, in-process and over the HTTP server: keys issued, and refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import quote

import pytest
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sts.v20180813 import models as sts_models
from tencentcloud.sts.v20180813.sts_client import StsClient
from tencentcloud.vod.v20180717 import models as vod_models
from tencentcloud.vod.v20180717.vod_client import VodClient

from tencent_emulator import Cloud
from tencent_emulator.core.server import EmulatorServer
from tests.emulator.conftest import MODES, open_endpoint

REGION = "ap-guangzhou"


@dataclass
class Env:
    cloud: Cloud
    server: Optional[EmulatorServer]

    def profile(self) -> Optional[ClientProfile]:
        if self.server is None:
            return None
        return ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{self.server.port}"))

    def cred(self, sid: Optional[str] = None, key: Optional[str] = None, token: Optional[str] = None) -> Any:
        return credential.Credential(sid or self.cloud.secret_id, key or self.cloud.secret_key, token)

    def sts(self, cred: Any = None) -> StsClient:
        return StsClient(cred or self.cred(), REGION, self.profile())

    def vod(self, cred: Any = None) -> VodClient:
        return VodClient(cred or self.cred(), REGION, self.profile())

    def cos(self, sid: str, key: str, token: Optional[str]) -> CosS3Client:
        conf: dict[str, Any] = {"Region": REGION, "SecretId": sid, "SecretKey": key, "Token": token}
        if self.server is not None:
            conf.update(IP="127.0.0.1", Port=self.server.port, Scheme="http")
        return CosS3Client(CosConfig(**conf))


@pytest.fixture(params=MODES)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    for endpoint in open_endpoint(request.param, tmp_path_factory.mktemp("sts")):
        yield Env(endpoint.cloud, endpoint.server)


def policy(*statements: dict[str, Any]) -> str:
    return quote(json.dumps({"version": "2.0", "statement": list(statements)}))


# GetFederationToken requires a Policy (API page 1312/48195: "Policy | 是"); this one narrows nothing.
ALLOW_ALL = policy({"effect": "allow", "action": "*", "resource": "*"})


def federation(env: Env, cred: Any = None, **fields: Any) -> sts_models.GetFederationTokenResponse:
    req = sts_models.GetFederationTokenRequest()
    req.from_json_string(json.dumps({"Name": "uploader", "Policy": ALLOW_ALL, **fields}))
    return env.sts(cred).GetFederationToken(req)


def assume(env: Env, cred: Any = None, **fields: Any) -> sts_models.AssumeRoleResponse:
    req = sts_models.AssumeRoleRequest()
    req.from_json_string(json.dumps({"RoleSessionName": "job-1", **fields}))
    return env.sts(cred).AssumeRole(req)


def error_code(call: Any) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    assert info.value.get_request_id(), "an API error carries a RequestId (the SDKs do not retry it)"
    return str(info.value.get_code())


def apply_upload(env: Env, cred: Any) -> vod_models.ApplyUploadResponse:
    req = vod_models.ApplyUploadRequest()
    req.MediaType = "mp4"
    return env.vod(cred).ApplyUpload(req)


def test_federation_token_defaults_to_half_an_hour_and_works_for_what_its_policy_allows(env: Env) -> None:
    rsp = federation(env, Policy=policy({"effect": "allow", "action": ["name/vod:*"], "resource": "*"}))
    now = env.cloud.clock.now()
    assert abs(rsp.ExpiredTime - (now + 1800)) <= 2
    assert rsp.Expiration.endswith("Z") and rsp.Expiration.startswith("20")
    creds = rsp.Credentials
    temp = env.cred(creds.TmpSecretId, creds.TmpSecretKey, creds.Token)

    assert apply_upload(env, temp).VodSessionKey  # vod:* is allowed
    # ...but nothing else: the policy is all the key can do.
    assert error_code(lambda: federation(env, temp)) == "AuthFailure.UnauthorizedOperation"


def test_federation_keys_are_limited_to_the_cos_paths_of_their_policy(env: Env) -> None:
    bucket = f"media-{env.cloud.app_id}"
    env.cloud.cos.create_bucket(bucket)
    resource = f"qcs::cos:{REGION}:uid/{env.cloud.app_id}:{bucket}/incoming/*"
    rsp = federation(
        env,
        Policy=policy(
            {"effect": "allow", "action": ["name/cos:PutObject", "name/cos:HeadObject"], "resource": resource}
        ),
    )
    c = rsp.Credentials
    cos = env.cos(c.TmpSecretId, c.TmpSecretKey, c.Token)

    cos.put_object(Bucket=bucket, Key="incoming/a.mp4", Body=b"abc")
    assert env.cloud.cos.read_object(bucket, "incoming/a.mp4") == b"abc"
    with pytest.raises(CosServiceError) as denied:
        cos.put_object(Bucket=bucket, Key="elsewhere/a.mp4", Body=b"abc")
    assert denied.value.get_error_code() == "AccessDenied"


def test_a_deny_statement_wins_over_an_allow(env: Env) -> None:
    rsp = federation(
        env,
        Policy=policy(
            {"effect": "allow", "action": ["name/vod:*"], "resource": "*"},
            {"effect": "deny", "action": ["name/vod:ApplyUpload"], "resource": "*"},
        ),
    )
    c = rsp.Credentials
    temp = env.cred(c.TmpSecretId, c.TmpSecretKey, c.Token)
    assert error_code(lambda: apply_upload(env, temp)) == "AuthFailure.UnauthorizedOperation"


def test_federation_needs_permanent_keys(env: Env) -> None:
    rsp = federation(env)  # an allow-all policy: the caller's own (root) rights
    c = rsp.Credentials
    temp = env.cred(c.TmpSecretId, c.TmpSecretKey, c.Token)
    assert error_code(lambda: federation(env, temp)) == "FailedOperation.TempKeyNotAllowed"


def test_federation_duration_is_capped_at_two_hours_for_the_root_account(env: Env) -> None:
    assert federation(env, DurationSeconds=7200).ExpiredTime > 0
    assert error_code(lambda: federation(env, DurationSeconds=7201)) == "InvalidParameter.OverTimeError"


@pytest.mark.parametrize(
    ("raw_policy", "code"),
    [
        (quote("{not json"), "InvalidParameter.StrategyFormatError"),
        (quote(json.dumps({"version": "2.0", "statement": []})), "InvalidParameter.StrategyFormatError"),
        (
            policy({"effect": "allow", "action": "name/cos:*", "resource": "*", "principal": {"qcs": ["*"]}}),
            "InvalidParameter.StrategyInvalid",
        ),
        (
            policy({"effect": "allow", "action": "name/cos:*", "resource": "cos-bucket/*"}),
            "InvalidParameter.ResouceError",
        ),
        (
            policy(*[{"effect": "allow", "action": "name/cos:GetObject", "resource": "*"}] * 60),
            "InvalidParameter.PolicyTooLong",
        ),
    ],
    ids=["not-json", "no-statement", "principal", "not-six-part", "too-long"],
)
def test_bad_policies_are_refused_with_their_codes(env: Env, raw_policy: str, code: str) -> None:
    assert error_code(lambda: federation(env, Policy=raw_policy)) == code


def test_federation_name_is_required_and_checked(env: Env) -> None:
    req = sts_models.GetFederationTokenRequest()
    req.Policy = ALLOW_ALL
    assert error_code(lambda: env.sts().GetFederationToken(req)) == "MissingParameter"
    assert error_code(lambda: federation(env, Name="no spaces allowed")) == "InvalidParameter.ParamError"


def test_assume_role_issues_keys_with_the_roles_rights_narrowed_by_the_session_policy(env: Env) -> None:
    arn = env.cloud.sts.add_role(
        "uploader", {"version": "2.0", "statement": [{"effect": "allow", "action": "name/vod:*", "resource": "*"}]}
    )
    rsp = assume(env, RoleArn=arn)
    assert abs(rsp.ExpiredTime - (env.cloud.clock.now() + 7200)) <= 2
    c = rsp.Credentials
    assert apply_upload(env, env.cred(c.TmpSecretId, c.TmpSecretKey, c.Token)).StorageBucket

    narrowed = assume(
        env,
        RoleArn=arn,
        Policy=policy({"effect": "allow", "action": ["name/vod:SearchMedia", "name/cos:*"], "resource": "*"}),
    ).Credentials
    temp = env.cred(narrowed.TmpSecretId, narrowed.TmpSecretKey, narrowed.Token)
    # The session policy leaves ApplyUpload out, so the role's vod:* no longer grants it.
    assert error_code(lambda: apply_upload(env, temp)) == "AuthFailure.UnauthorizedOperation"


def test_assume_role_refusals(env: Env) -> None:
    arn = env.cloud.sts.add_role("worker")
    missing = f"qcs::cam::uin/{env.cloud.uin}:roleName/nobody"
    assert error_code(lambda: assume(env, RoleArn=missing)) == "ResourceNotFound.RoleNotFound"
    assert error_code(lambda: assume(env, RoleArn="worker")) == "InvalidParameter.ParamError"
    assert error_code(lambda: assume(env, RoleArn=arn, DurationSeconds=43201)) == "InvalidParameter.OverTimeError"
    assert error_code(lambda: assume(env, RoleArn=arn, RoleSessionName="x")) == "InvalidParameter.ParamError"
    assert assume(env, RoleArn=arn, DurationSeconds=43200).Credentials.Token


def test_issued_keys_expire_on_the_emulator_clock(env: Env) -> None:
    c = federation(env, DurationSeconds=900).Credentials
    temp = env.cred(c.TmpSecretId, c.TmpSecretKey, c.Token)
    assert apply_upload(env, temp).VodSessionKey
    env.cloud.clock.advance(901)
    assert error_code(lambda: apply_upload(env, temp)) == "AuthFailure.TokenFailure"


def test_wrong_signature_and_wrong_token_are_refused(env: Env) -> None:
    bad_key = env.cred(env.cloud.secret_id, "not-the-secret-key")
    assert error_code(lambda: federation(env, bad_key)) == "AuthFailure.SignatureFailure"
    c = federation(env).Credentials
    bad_token = env.cred(c.TmpSecretId, c.TmpSecretKey, "forged-token")
    assert error_code(lambda: apply_upload(env, bad_token)) == "AuthFailure.TokenFailure"
    unknown = env.cred("AKIDunknownunknownunknownunknown00", "whatever")
    assert error_code(lambda: federation(env, unknown)) == "AuthFailure.SecretIdNotFound"
