"""STS API 3.0 front (``sts.tencentcloudapi.com``, version 2018-08-13): GetFederationToken, AssumeRole."""

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
        try:
            issued = self.cloud.sts.get_federation_token(
                ctx.key, name, _str(params, "Policy"), _int(params, "DurationSeconds")
            )
        except StsError as exc:
            raise ApiError(exc.code, exc.message) from None
        return _render(issued)

    def action_AssumeRole(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _check_known(params, self.ASSUME_FIELDS)
        arn = _str(params, "RoleArn", required=True) or ""
        session = _str(params, "RoleSessionName", required=True) or ""
        try:
            issued = self.cloud.sts.assume_role(
                ctx.key, arn, session, _str(params, "Policy"), _int(params, "DurationSeconds")
            )
        except StsError as exc:
            raise ApiError(exc.code, exc.message) from None
        return _render(issued)
