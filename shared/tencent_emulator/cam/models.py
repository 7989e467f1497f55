"""CAM state: roles with a trust policy and attached custom policies (documents kept verbatim).

Source: tencentcloud-sdk-python ``cam/v20190116/models.py`` (RoleInfo, AttachedPolicyOfRole,
GetPolicyResponse) and ``errorcodes.py``. A role created here is also registered with STS, so
AssumeRole and the policy a preflight reads are the same role.
"""

from __future__ import annotations

import json
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
    ) -> CamRole:
        """A role trusted by ``trust_services`` with ``policy`` (dict or JSON text) attached, if given."""
        arn = self.cloud.sts.add_role(name, policy)
        role_id = self.cloud.sts.roles[name].role_id
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        role = CamRole(name=name, role_id=role_id, arn=arn, trust_document=_trust(trust_services), added=now)
        with self._lock:
            self.roles[name] = role
        if policy is not None:
            self.attach_policy(name, policy, policy_name or f"{name}-policy")
        return role

    def attach_policy(self, role_name: str, policy: Any, name: str) -> CamPolicy:
        document = policy if isinstance(policy, str) else json.dumps(policy)
        with self._lock:
            role = self.roles.get(role_name)
            if role is None:
                raise CamError("InvalidParameter.RoleNotExist", f"role {role_name} does not exist")
            pol = CamPolicy(self._next_policy, name, document, time.strftime("%Y-%m-%d %H:%M:%S"))
            self._next_policy += 1
            self.policies[pol.policy_id] = pol
            role.policies.append(pol)
            return pol

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
