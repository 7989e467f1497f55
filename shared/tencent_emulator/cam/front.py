"""CAM API 3.0 front (``cam.tencentcloudapi.com``, version 2019-01-16): CreateRole, GetRole, CreatePolicy, GetPolicy,
AttachRolePolicy, ListAttachedRolePolicies: what a deployer needs to set up and check an execution role."""

from __future__ import annotations

from typing import Any, Optional

from tencent_emulator.cam.models import CamError
from tencent_emulator.core.tc3 import ApiError, CallContext, Tc3Front


def _opt_str(params: dict[str, Any], name: str) -> Optional[str]:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError("InvalidParameter.ParamError", f"`{name}` must be a string.")
    return value


class CamFront(Tc3Front):
    service = "cam"
    version = "2019-01-16"
    # CAM is global: its API pages list Region as "否 … 本接口不需要传递此参数", so a region is neither needed nor
    # checked (see Tc3Front.region_scope).
    region_scope = "global"

    def action_GetRole(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        try:
            role = self.cloud.cam.role(_opt_str(params, "RoleName"), _opt_str(params, "RoleId"))
        except CamError as exc:
            raise ApiError(exc.code, exc.message) from None
        return {
            "RoleInfo": {
                "RoleId": role.role_id,
                "RoleName": role.name,
                "PolicyDocument": role.trust_document,
                "Description": "",
                "AddTime": role.added,
                "UpdateTime": role.added,
                "ConsoleLogin": 0,
                "RoleType": "user",
                "SessionDuration": 0,
                "RoleArn": role.arn,
            }
        }

    def action_ListAttachedRolePolicies(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        page, rp = params.get("Page"), params.get("Rp")
        if not isinstance(page, int) or not isinstance(rp, int) or page < 1 or not 1 <= rp <= 200:
            raise ApiError("InvalidParameter.ParamError", "`Page` (>= 1) and `Rp` (1..200) are required integers.")
        try:
            role = self.cloud.cam.role(_opt_str(params, "RoleName"), _opt_str(params, "RoleId"))
        except CamError as exc:
            raise ApiError(exc.code, exc.message) from None
        chunk = role.policies[(page - 1) * rp : page * rp]
        return {
            "List": [
                {
                    "PolicyId": p.policy_id,
                    "PolicyName": p.name,
                    "AddTime": p.added,
                    "PolicyType": "User",
                    "CreateMode": 1,
                }
                for p in chunk
            ],
            "TotalNum": len(role.policies),
        }

    def action_GetPolicy(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        policy_id = params.get("PolicyId")
        if not isinstance(policy_id, int):
            raise ApiError("InvalidParameter.ParamError", "`PolicyId` is a required integer.")
        try:
            pol = self.cloud.cam.policy(policy_id)
        except CamError as exc:
            raise ApiError(exc.code, exc.message) from None
        return {
            "PolicyName": pol.name,
            "Description": "",
            "Type": 1,
            "AddTime": pol.added,
            "UpdateTime": pol.added,
            "PolicyDocument": pol.document,
            "PresetAlias": "",
            "IsServiceLinkedRolePolicy": 0,
        }

    def action_CreateRole(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        name, document = _opt_str(params, "RoleName"), _opt_str(params, "PolicyDocument")
        if not name or not document:
            raise ApiError("MissingParameter", "`RoleName` and `PolicyDocument` are required.")
        try:
            role = self.cloud.cam.create_role(name, trust_document=document)
        except CamError as exc:
            raise ApiError(exc.code, exc.message) from None
        return {"RoleId": role.role_id}

    def action_CreatePolicy(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        name, document = _opt_str(params, "PolicyName"), _opt_str(params, "PolicyDocument")
        if not name or not document:
            raise ApiError("MissingParameter", "`PolicyName` and `PolicyDocument` are required.")
        try:
            pol = self.cloud.cam.create_policy(name, document)
        except CamError as exc:
            raise ApiError(exc.code, exc.message) from None
        return {"PolicyId": pol.policy_id}

    def action_AttachRolePolicy(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        policy_id, policy_name = params.get("PolicyId"), _opt_str(params, "PolicyName")
        if policy_id is not None and (isinstance(policy_id, bool) or not isinstance(policy_id, int)):
            raise ApiError("InvalidParameter.ParamError", "`PolicyId` must be an integer.")
        try:
            role = self.cloud.cam.role(_opt_str(params, "AttachRoleName"), _opt_str(params, "AttachRoleId"))
            if policy_id is not None:
                pol = self.cloud.cam.policy(policy_id)
            elif policy_name:
                pol = self.cloud.cam.policy_named(policy_name)
            else:
                raise ApiError("MissingParameter", "`PolicyId` or `PolicyName` is required.")
            self.cloud.cam.attach(role, pol)
        except CamError as exc:
            raise ApiError(exc.code, exc.message) from None
        return {}
