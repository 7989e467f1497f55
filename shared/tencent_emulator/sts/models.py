"""STS state and rules: roles, and temporary keys issued through the account's IAM.

Sources: tencentcloud-sdk-python ``sts/v20180813/models.py`` (field docs: defaults and maxima),
``sts/v20180813/errorcodes.py`` (codes), reference/wire-shapes.md §4.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from tencent_emulator.core.iam import KeyRecord, Scope
from tencent_emulator.sts.policy import PolicyError, intersect, parse_policy

FEDERATION_DEFAULT_S = 1800
FEDERATION_MAX_ROOT_S = 7200
FEDERATION_MAX_SUB_S = 129600
ROLE_DEFAULT_S = 7200
ROLE_MAX_S = 43200

_NAME_RE = re.compile(r"^[\w+=,.@-]{2,32}$")
_SESSION_RE = re.compile(r"^[\w+=,.@-]{2,128}$")
_ARN_RE = re.compile(r"^qcs::cam::uin/(?P<uin>\d+):(?P<kind>roleName|role)/(?P<name>[\w+=,.@-]+)$")


class StsError(Exception):
    """An STS API error with its Tencent code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Role:
    """A CAM role that AssumeRole can take on; ``scope`` None means the role may do everything."""

    name: str
    role_id: str
    arn: str
    scope: Optional[Scope]
    max_session_s: int = ROLE_MAX_S


@dataclass(frozen=True)
class IssuedCredentials:
    key: KeyRecord
    expired_time: int

    @property
    def expiration(self) -> str:
        return datetime.fromtimestamp(self.expired_time, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class StsModel:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.roles: dict[str, Role] = {}
        self.issued: list[IssuedCredentials] = []
        self._lock = threading.Lock()

    # -- roles -------------------------------------------------------------------------------
    def add_role(self, name: str, policy: Any = None, max_session_s: int = ROLE_MAX_S) -> str:
        """Register a role; ``policy`` is a CAM policy (dict or JSON text), a Scope, or None (all). Returns its ARN."""
        scope: Optional[Scope]
        if policy is None or isinstance(policy, Scope):
            scope = policy
        else:
            text = policy if isinstance(policy, str) else json.dumps(policy)
            scope = parse_policy(text, url_encoded=False)
        role_id = str(4611686018427387904 + secrets.randbelow(10**12))
        arn = f"qcs::cam::uin/{self.cloud.uin}:roleName/{name}"
        with self._lock:
            self.roles[name] = Role(name=name, role_id=role_id, arn=arn, scope=scope, max_session_s=max_session_s)
        return arn

    def find_role(self, arn: str) -> Role:
        m = _ARN_RE.match(arn or "")
        if not m:
            raise StsError("InvalidParameter.ParamError", f"RoleArn `{arn}` is malformed")
        with self._lock:
            if m.group("uin") == self.cloud.uin:
                for role in self.roles.values():
                    if (m.group("kind") == "roleName" and role.name == m.group("name")) or (
                        m.group("kind") == "role" and role.role_id == m.group("name")
                    ):
                        return role
        raise StsError("ResourceNotFound.RoleNotFound", f"role `{arn}` does not exist")

    # -- issuing -----------------------------------------------------------------------------
    def _policy(self, raw: Optional[str]) -> Optional[Scope]:
        if raw is None:
            return None
        try:
            return parse_policy(raw)
        except PolicyError as exc:
            raise StsError(exc.code, exc.message) from None

    def _issue(self, principal: str, duration: int, scope: Optional[Scope]) -> IssuedCredentials:
        key = self.cloud.iam.issue_temporary(principal, duration, scope)
        issued = IssuedCredentials(key=key, expired_time=int(key.expires_at or 0))
        with self._lock:
            self.issued.append(issued)
        return issued

    def get_federation_token(
        self, caller: KeyRecord, name: str, policy: Optional[str], duration: Optional[int]
    ) -> IssuedCredentials:
        """Only permanent keys may federate; the result is the policy narrowed to the caller's rights."""
        if caller.temporary:
            raise StsError(
                "FailedOperation.TempKeyNotAllowed", "GetFederationToken cannot be called with a temporary key"
            )
        if not _NAME_RE.match(name):
            raise StsError("InvalidParameter.ParamError", f"Name `{name}` must be 2-32 characters of [\\w+=,.@-]")
        limit = FEDERATION_MAX_ROOT_S if caller.principal == "root" else FEDERATION_MAX_SUB_S
        seconds = FEDERATION_DEFAULT_S if duration is None else duration
        if seconds <= 0:
            raise StsError("InvalidParameter.ParamError", "DurationSeconds must be positive")
        if seconds > limit:
            raise StsError("InvalidParameter.OverTimeError", f"DurationSeconds may not exceed {limit}")
        scope = intersect(caller.scope, self._policy(policy))
        return self._issue(f"federated:{name}", seconds, scope)

    def assume_role(
        self, caller: KeyRecord, arn: str, session_name: str, policy: Optional[str], duration: Optional[int]
    ) -> IssuedCredentials:
        if not _SESSION_RE.match(session_name):
            raise StsError("InvalidParameter.ParamError", "RoleSessionName must be 2-128 characters of [\\w+=,.@_-]")
        role = self.find_role(arn)
        seconds = ROLE_DEFAULT_S if duration is None else duration
        if seconds <= 0:
            raise StsError("InvalidParameter.ParamError", "DurationSeconds must be positive")
        if seconds > min(ROLE_MAX_S, role.max_session_s):
            raise StsError("InvalidParameter.OverTimeError", f"DurationSeconds may not exceed {role.max_session_s}")
        scope = intersect(role.scope, self._policy(policy))
        return self._issue(f"role:{role.name}/{session_name}", seconds, scope)
