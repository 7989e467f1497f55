"""CAM policy documents turned into the emulator's key scopes.

A CAM policy (https://cloud.tencent.com/document/product/598/10603) lists statements with
``effect``, ``action`` (``name/cos:PutObject``) and ``resource`` (six-part
``qcs::cos:<region>:uid/<appid>:<bucket>/<key>``). The emulator's :class:`Scope` speaks
``cos:PutObject`` and ``<bucket>/<key>``; this module translates, and adds what a plain Scope
lacks: explicit deny, and the intersection of two scopes (a session policy never grants more
than the caller or role it narrows).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import unquote

from tencent_emulator.core.iam import Scope, Statement

POLICY_MAX_CHARS = 2048

_COS_RESOURCE = re.compile(r"^qcs::cos:[^:]*:(?:uid|uin)/(?P<appid>\d+):(?P<rest>.+)$")
_COS_PREFIX_FORM = re.compile(r"^prefix//(?P<appid>\d+)/(?P<bucket>[^/]+)/(?P<path>.*)$")


class PolicyError(Exception):
    """A policy the emulator refuses; ``code`` is the STS error code to answer with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PolicyScope(Scope):
    """A Scope with deny statements: denied wins over allowed, as in CAM."""

    denies: tuple[Statement, ...] = ()

    def allows(self, service: str, action: str, resource: str = "*") -> bool:
        if any(s.allows(service, action, resource) for s in self.denies):
            return False
        return super().allows(service, action, resource)


@dataclass(frozen=True)
class IntersectScope(Scope):
    """Allowed only where every part allows: a session policy narrowing a caller or a role."""

    parts: tuple[Scope, ...] = ()

    def allows(self, service: str, action: str, resource: str = "*") -> bool:
        return all(p.allows(service, action, resource) for p in self.parts)


def intersect(*scopes: Optional[Scope]) -> Optional[Scope]:
    """``None`` means unrestricted; the intersection of nothing restricted is unrestricted."""
    parts = tuple(s for s in scopes if s is not None)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return IntersectScope(statements=(), parts=parts)


def _as_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise PolicyError("InvalidParameter.StrategyFormatError", f"policy statement field `{field}` is malformed")


def map_action(action: str) -> str:
    """``name/cos:PutObject`` → ``cos:PutObject``; ``*`` stays ``*``."""
    if action == "*":
        return "*"
    name = action[5:] if action.startswith("name/") else action
    if ":" not in name:
        raise PolicyError("InvalidParameter.StrategyFormatError", f"action `{action}` is not `name/<service>:<Action>`")
    return name


def map_resource(resource: str) -> str:
    """Six-part CAM resource → the emulator's resource string (``<bucket-appid>/<key>`` for COS)."""
    if resource == "*":
        return "*"
    if not resource.startswith("qcs:"):
        raise PolicyError("InvalidParameter.ResouceError", f"resource `{resource}` is not a six-part qcs resource")
    m = _COS_RESOURCE.match(resource)
    if m:
        rest = m.group("rest")
        old = _COS_PREFIX_FORM.match(rest)
        if old:  # qcs::cos:<region>:uid/<appid>:prefix//<appid>/<bucket>/<key>
            return f"{old.group('bucket')}-{old.group('appid')}/{old.group('path')}"
        return rest
    parts = resource.split(":")
    if len(parts) < 6:
        raise PolicyError("InvalidParameter.ResouceError", f"resource `{resource}` is not a six-part qcs resource")
    # Other services (vod, scf, ...) are scoped by action only in the emulator.
    return "*"


def parse_policy(raw: str, *, url_encoded: bool = True) -> PolicyScope:
    """Parse a (URL-encoded) CAM policy into a PolicyScope, or raise PolicyError."""
    text = unquote(raw) if url_encoded else raw
    if len(text) > POLICY_MAX_CHARS:
        raise PolicyError("InvalidParameter.PolicyTooLong", f"policy is longer than {POLICY_MAX_CHARS} characters")
    try:
        doc = json.loads(text)
    except ValueError:
        raise PolicyError("InvalidParameter.StrategyFormatError", "policy is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("statement"), list) or not doc["statement"]:
        raise PolicyError("InvalidParameter.StrategyFormatError", "policy needs a non-empty `statement` list")
    if doc.get("version") != "2.0":
        raise PolicyError("InvalidParameter.StrategyFormatError", 'policy `version` must be "2.0"')
    allows: list[Statement] = []
    denies: list[Statement] = []
    for st in doc["statement"]:
        if not isinstance(st, dict):
            raise PolicyError("InvalidParameter.StrategyFormatError", "policy statement must be an object")
        if "principal" in st:
            raise PolicyError("InvalidParameter.StrategyInvalid", "a session policy may not contain `principal`")
        effect = st.get("effect")
        if effect not in ("allow", "deny"):
            raise PolicyError("InvalidParameter.StrategyFormatError", "statement `effect` must be allow or deny")
        actions = tuple(map_action(a) for a in _as_list(st.get("action"), "action"))
        resources = tuple(map_resource(r) for r in _as_list(st.get("resource", "*"), "resource"))
        (allows if effect == "allow" else denies).append(Statement(actions=actions, resources=resources))
    return PolicyScope(statements=tuple(allows), denies=tuple(denies))
