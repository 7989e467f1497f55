"""STS API 3.0 front (``sts.tencentcloudapi.com``, version 2018-08-13): GetFederationToken, AssumeRole.

Required parameters follow the API pages' tables: GetFederationToken 1312/48195 (Region, Name, Policy: "是"),
AssumeRole 598/33164 (Region, RoleArn, RoleSessionName: "是"). A missing one answers ``MissingParameter``; a value
of the wrong JSON type ``InvalidParameter.ParamError`` (errorcodes.py: 参数错误).
"""

from __future__ import annotations

from typing import Any, Optional

from tencent_emulator.core.tc3 import ApiError, CallContext, Tc3Front
from tencent_emulator.sts.models import IssuedCredentials, StsError


def _str(params: dict[str, Any], name: str, required: bool = False) -> Optional[str]:
    value = params.get(name)
    if value is None:
        if required:
            raise ApiError("MissingParameter", f"The request is missing a required parameter `{name}`.")
        return None
    if not isinstance(value, str):
        raise ApiError("InvalidParameter.ParamError", f"`{name}` must be a string.")
    return value


def _int(params: dict[str, Any], name: str) -> Optional[int]:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError("InvalidParameter.ParamError", f"`{name}` must be an integer.")
    return value


def _tags(params: dict[str, Any]) -> Optional[list[tuple[str, str]]]:
    value = params.get("Tags")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ApiError("InvalidParameter.ParamError", "`Tags` must be an array of {Key, Value}.")
    out: list[tuple[str, str]] = []
    for tag in value:
        key, val = tag.get("Key"), tag.get("Value")
        if not isinstance(key, str) or not isinstance(val, str):
            raise ApiError("InvalidParameter.ParamError", "`Tags.Key` and `Tags.Value` are required strings.")
        out.append((key, val))
    return out


def _check_known(params: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise ApiError("UnknownParameter", f"The parameter `{unknown[0]}` is not recognized.")


def _render(issued: IssuedCredentials) -> dict[str, Any]:
    return {
        "Credentials": {
            "Token": issued.key.token,
            "TmpSecretId": issued.key.secret_id,
            "TmpSecretKey": issued.key.secret_key,
        },
        "ExpiredTime": issued.expired_time,
        "Expiration": issued.expiration,
    }


class StsFront(Tc3Front):
    service = "sts"
    version = "2018-08-13"
    actions_needing_region = frozenset({"GetFederationToken", "AssumeRole"})

    FEDERATION_FIELDS = frozenset({"Name", "Policy", "DurationSeconds"})
    ASSUME_FIELDS = frozenset(
        {
            "RoleArn",
            "RoleSessionName",
            "DurationSeconds",
            "Policy",
            "ExternalId",
            "Tags",
            "SourceIdentity",
            "SerialNumber",
            "TokenCode",
        }
    )

    def action_GetFederationToken(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _check_known(params, self.FEDERATION_FIELDS)
        name = _str(params, "Name", required=True) or ""
        policy = _str(params, "Policy", required=True)
        duration = _int(params, "DurationSeconds")
        try:
            issued = self.cloud.sts.get_federation_token(ctx.key, name, policy, duration)
        except StsError as exc:
            raise ApiError(exc.code, exc.message) from None
        return _render(issued)

    def action_AssumeRole(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _check_known(params, self.ASSUME_FIELDS)
        arn = _str(params, "RoleArn", required=True) or ""
        session = _str(params, "RoleSessionName", required=True) or ""
        policy = _str(params, "Policy")
        duration = _int(params, "DurationSeconds")
        external_id = _str(params, "ExternalId")
        tags = _tags(params)
        for name in ("SourceIdentity", "SerialNumber", "TokenCode"):
            _str(params, name)
        try:
            issued = self.cloud.sts.assume_role(
                ctx.key, arn, session, policy, duration, external_id=external_id, tags=tags
            )
        except StsError as exc:
            raise ApiError(exc.code, exc.message) from None
        return _render(issued)
