"""CAM state: roles with a trust policy and attached custom policies (documents kept verbatim).

Source: tencentcloud-sdk-python ``cam/v20190116/models.py`` (RoleInfo, AttachedPolicyOfRole,
GetPolicyResponse) and ``errorcodes.py``. A role created here is also registered with STS, so
AssumeRole and the policy a preflight reads are the same role.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional


class CamError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class CamPolicy:
    policy_id: int
    name: str
    document: str
    added: str


@dataclass
class CamRole:
    name: str
    role_id: str
    arn: str
    trust_document: str
    added: str
    policies: list[CamPolicy] = field(default_factory=list)


NAME_RE = re.compile(r"^[\w+=,.@-]{1,128}$", re.ASCII)


def _check_document(document: str) -> None:
    try:
        doc = json.loads(document)
    except ValueError:
        raise CamError("InvalidParameter.PolicyDocumentError", "PolicyDocument is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("statement"), list):
        raise CamError("InvalidParameter.PolicyDocumentError", "PolicyDocument needs a statement list")


def _trust(services: tuple[str, ...]) -> str:
    return json.dumps(
        {
            "version": "2.0",
            "statement": [
                {"action": "name/sts:AssumeRole", "effect": "allow", "principal": {"service": list(services)}}
            ],
        }
    )


class CamModel:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.roles: dict[str, CamRole] = {}
        self.policies: dict[int, CamPolicy] = {}
        self._next_policy = 100000001
        self._lock = threading.Lock()

    def create_role(
        self,
        name: str,
        policy: Optional[Any] = None,
        trust_services: tuple[str, ...] = ("scf.qcloud.com",),
        policy_name: Optional[str] = None,
        trust_document: Optional[str] = None,
    ) -> CamRole:
        """A role trusted by ``trust_services`` (or the given trust document) with ``policy`` attached, if given."""
        if not NAME_RE.match(name):
            raise CamError("InvalidParameter.RoleNameError", f"RoleName {name!r}: 1-128 of letters, digits, +=,.@-_")
        with self._lock:
            if name in self.roles:
                raise CamError("InvalidParameter.RoleNameInUse", f"role {name} already exists")
        document = trust_document if trust_document is not None else _trust(trust_services)
        _check_document(document)
        arn = self.cloud.sts.add_role(name, policy)
        role_id = self.cloud.sts.roles[name].role_id
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        role = CamRole(name=name, role_id=role_id, arn=arn, trust_document=document, added=now)
        with self._lock:
            self.roles[name] = role
        if policy is not None:
            self.attach_policy(name, policy, policy_name or f"{name}-policy")
        return role

    def create_policy(self, name: str, document: str) -> CamPolicy:
        """A custom policy, not yet attached (CreatePolicy)."""
        if not NAME_RE.match(name):
            raise CamError(
                "InvalidParameter.PolicyNameError", f"PolicyName {name!r}: 1-128 of letters, digits, +=,.@-_"
            )
        _check_document(document)
        with self._lock:
            if any(p.name == name for p in self.policies.values()):
                raise CamError("FailedOperation.PolicyNameInUse", f"policy {name} already exists")
            pol = CamPolicy(self._next_policy, name, document, time.strftime("%Y-%m-%d %H:%M:%S"))
            self._next_policy += 1
            self.policies[pol.policy_id] = pol
            return pol

    def attach(self, role: CamRole, pol: CamPolicy) -> None:
        """Attach a policy to a role (AttachRolePolicy); attaching it twice keeps one attachment."""
        with self._lock:
            if all(p.policy_id != pol.policy_id for p in role.policies):
                role.policies.append(pol)
        self.cloud.sts.set_role_policy(role.name, [json.loads(p.document) for p in role.policies])

    def attach_policy(self, role_name: str, policy: Any, name: str) -> CamPolicy:
        document = policy if isinstance(policy, str) else json.dumps(policy)
        role = self.role(role_name, None)
        pol = self.create_policy(name, document)
        self.attach(role, pol)
        return pol

    def policy_named(self, name: str) -> CamPolicy:
        with self._lock:
            for pol in self.policies.values():
                if pol.name == name:
                    return pol
        raise CamError("ResourceNotFound.PolicyNameNotFound", f"policy {name} does not exist")

    def role(self, name: Optional[str], role_id: Optional[str]) -> CamRole:
        with self._lock:
            for role in self.roles.values():
                if (name and role.name == name) or (role_id and role.role_id == role_id):
                    return role
        raise CamError("InvalidParameter.RoleNotExist", f"role {name or role_id} does not exist")

    def policy(self, policy_id: int) -> CamPolicy:
        with self._lock:
            pol = self.policies.get(policy_id)
        if pol is None:
            raise CamError("ResourceNotFound.PolicyIdNotFound", f"policy {policy_id} does not exist")
        return pol
