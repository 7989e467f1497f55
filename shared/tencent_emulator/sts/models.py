"""STS state and rules: roles, and temporary keys issued through the account's IAM.

Sources: tencentcloud-sdk-python ``sts/v20180813/models.py`` (field docs: defaults, maxima, RoleArn forms,
RoleSessionName and ExternalId rules, Tag limits), ``sts/v20180813/errorcodes.py`` (codes), the API pages
1312/48195 (GetFederationToken) and 598/33164 (AssumeRole), reference/wire-shapes.md §4. See FIDELITY.md, STS.
"""

from __future__ import annotations

import dataclasses
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

# GetFederationToken Name: the docs say only "由字母组成" (letters); the official qcloud-cos-sts-sdk sends
# "cos-sts-python", so "-" is accepted. Length and the other characters are an assumption (AWS's rule). ⚠
_NAME_RE = re.compile(r"^[\w+=,.@-]{2,32}$", re.ASCII)
# AssumeRoleRequest.RoleSessionName: "长度在2到128之间 … 正则为: [\w+=,.@_-]*".
_SESSION_RE = re.compile(r"^[\w+=,.@_-]{2,128}$", re.ASCII)
# AssumeRoleRequest.ExternalId: "长度在2到128之间 … 正则为: [\w+=,.@:\/-]*".
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,128}$", re.ASCII)
# AssumeRoleRequest.RoleArn: qcs::cam::uin/12345678:role/4611686018427397919, …:roleName/testRoleName, and for
# service roles …:role/tencentcloudServiceRole/4611686018427397920, …:role/tencentcloudServiceRoleName/<name>.
_ARN_RE = re.compile(
    r"^qcs::cam::uin/(?P<uin>\d+):(?:"
    r"role/tencentcloudServiceRole/(?P<service_id>\d+)"
    r"|role/tencentcloudServiceRoleName/(?P<service_name>[\w+=,.@-]+)"
    r"|role/(?P<role_id>\d+)"
    r"|roleName/(?P<role_name>[\w+=,.@-]+))$",
    re.ASCII,
)
TAGS_MAX = 50  # AssumeRoleRequest.Tags: "最多可以传递 50 个会话标签, 不支持包含相同标签键"
TAG_KEY_MAX = 128  # Tag.Key: "最长128个字符"
TAG_VALUE_MAX = 256  # Tag.Value: "最长256个字符"


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

    def set_role_policy(self, name: str, documents: list[Any]) -> None:
        """The role's rights become the union of the attached policies' statements (CAM AttachRolePolicy)."""
        statements = [st for doc in documents for st in (doc.get("statement") or [])]
        scope = parse_policy(json.dumps({"version": "2.0", "statement": statements}), url_encoded=False)
        with self._lock:
            role = self.roles[name]
            self.roles[name] = dataclasses.replace(role, scope=scope)

    def find_role(self, arn: str) -> Role:
        m = _ARN_RE.match(arn or "")
        if not m:
            raise StsError(
                "InvalidParameter.ParamError",
                f"RoleArn `{arn}` is malformed: expected qcs::cam::uin/<uin>:roleName/<name> or :role/<id>",
            )
        role_id = m.group("role_id") or m.group("service_id")
        role_name = m.group("role_name") or m.group("service_name")
        with self._lock:
            if m.group("uin") == self.cloud.uin:
                for role in self.roles.values():
                    if (role_name is not None and role.name == role_name) or (
                        role_id is not None and role.role_id == role_id
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
        """Only permanent keys may federate; the result is the policy narrowed to the caller's rights.

        ``policy`` is required by the API (the front answers MissingParameter); ``None`` here (model calls from
        tests) means the caller's own rights.
        """
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
        self,
        caller: KeyRecord,
        arn: str,
        session_name: str,
        policy: Optional[str],
        duration: Optional[int],
        external_id: Optional[str] = None,
        tags: Optional[list[tuple[str, str]]] = None,
    ) -> IssuedCredentials:
        if not _SESSION_RE.match(session_name):
            raise StsError("InvalidParameter.ParamError", "RoleSessionName must be 2-128 characters of [\\w+=,.@_-]")
        if external_id is not None and not _EXTERNAL_ID_RE.match(external_id):
            raise StsError("InvalidParameter.ParamError", "ExternalId must be 2-128 characters of [\\w+=,.@:/-]")
        if tags is not None:
            check_tags(tags)
        role = self.find_role(arn)
        seconds = ROLE_DEFAULT_S if duration is None else duration
        if seconds <= 0:
            raise StsError("InvalidParameter.ParamError", "DurationSeconds must be positive")
        if seconds > min(ROLE_MAX_S, role.max_session_s):
            raise StsError("InvalidParameter.OverTimeError", f"DurationSeconds may not exceed {role.max_session_s}")
        scope = intersect(role.scope, self._policy(policy))
        return self._issue(f"role:{role.name}/{session_name}", seconds, scope)


def check_tags(tags: list[tuple[str, str]]) -> None:
    """AssumeRole session tags: at most 50, no repeated key, key <= 128 and value <= 256 characters."""
    if len(tags) > TAGS_MAX:
        raise StsError("InvalidParameter.ParamError", f"Tags may hold at most {TAGS_MAX} tags")
    keys = [k for k, _ in tags]
    if len(set(keys)) != len(keys):
        raise StsError("InvalidParameter.ParamError", "Tags may not repeat a tag key")
    for key, value in tags:
        if not key or len(key) > TAG_KEY_MAX:
            raise StsError("InvalidParameter.ParamError", f"Tags.Key must be 1-{TAG_KEY_MAX} characters")
        if len(value) > TAG_VALUE_MAX:
            raise StsError("InvalidParameter.ParamError", f"Tags.Value may not exceed {TAG_VALUE_MAX} characters")
