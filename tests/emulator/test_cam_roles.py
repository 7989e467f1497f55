"""A deployer sets up an execution role through the unmodified CAM client: create, attach, read back."""

from __future__ import annotations

import json

import pytest
from tencentcloud.cam.v20190116 import cam_client, models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from tencent_emulator import mock_tencent

TRUST = {
    "version": "2.0",
    "statement": [{"action": "name/sts:AssumeRole", "effect": "allow", "principal": {"service": ["scf.qcloud.com"]}}],
}
POLICY = {"version": "2.0", "statement": [{"effect": "allow", "action": ["name/cos:GetObject"], "resource": ["*"]}]}


def call(client: cam_client.CamClient, action: str, **params: object) -> object:
    req = getattr(models, f"{action}Request")()
    req.from_json_string(json.dumps(params))
    return getattr(client, action)(req)


def test_create_a_role_attach_a_policy_and_read_both_back() -> None:
    with mock_tencent() as cloud:
        cam = cam_client.CamClient(credential.Credential(cloud.secret_id, cloud.secret_key), "")
        role_id = call(cam, "CreateRole", RoleName="exec-role", PolicyDocument=json.dumps(TRUST)).RoleId  # type: ignore[attr-defined]
        policy_id = call(cam, "CreatePolicy", PolicyName="exec", PolicyDocument=json.dumps(POLICY)).PolicyId  # type: ignore[attr-defined]
        call(cam, "AttachRolePolicy", PolicyId=policy_id, AttachRoleName="exec-role")
        call(cam, "AttachRolePolicy", PolicyName="exec", AttachRoleId=role_id)  # twice: still one attachment
        info = call(cam, "GetRole", RoleName="exec-role").RoleInfo  # type: ignore[attr-defined]
        assert "scf.qcloud.com" in info.PolicyDocument
        listed = call(cam, "ListAttachedRolePolicies", RoleName="exec-role", Page=1, Rp=20)
        assert [p.PolicyId for p in listed.List] == [policy_id]  # type: ignore[attr-defined]
        doc = call(cam, "GetPolicy", PolicyId=policy_id).PolicyDocument  # type: ignore[attr-defined]
        assert json.loads(doc) == POLICY
        # The role's keys may do what the policy allows, and nothing else.
        scope = cloud.sts.roles["exec-role"].scope
        assert scope is not None and scope.allows("cos", "GetObject") and not scope.allows("cos", "PutObject")


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        (
            "CreateRole",
            {"RoleName": "bad name!", "PolicyDocument": json.dumps(TRUST)},
            "InvalidParameter.RoleNameError",
        ),
        ("CreateRole", {"RoleName": "r", "PolicyDocument": "not json"}, "InvalidParameter.PolicyDocumentError"),
        ("CreatePolicy", {"PolicyName": "p", "PolicyDocument": "{}"}, "InvalidParameter.PolicyDocumentError"),
        ("AttachRolePolicy", {"PolicyId": 1, "AttachRoleName": "nobody"}, "InvalidParameter.RoleNotExist"),
    ],
)
def test_bad_requests_are_refused_with_cam_codes_and_change_nothing(action: str, params: dict, code: str) -> None:
    with mock_tencent() as cloud:
        cam = cam_client.CamClient(credential.Credential(cloud.secret_id, cloud.secret_key), "")
        with pytest.raises(TencentCloudSDKException) as err:
            call(cam, action, **params)
        assert err.value.code == code
        assert cloud.cam.roles == {} and cloud.cam.policies == {}


def test_a_taken_role_name_is_refused() -> None:
    with mock_tencent() as cloud:
        cam = cam_client.CamClient(credential.Credential(cloud.secret_id, cloud.secret_key), "")
        call(cam, "CreateRole", RoleName="twice", PolicyDocument=json.dumps(TRUST))
        with pytest.raises(TencentCloudSDKException) as err:
            call(cam, "CreateRole", RoleName="twice", PolicyDocument=json.dumps(TRUST))
        assert err.value.code == "InvalidParameter.RoleNameInUse"
