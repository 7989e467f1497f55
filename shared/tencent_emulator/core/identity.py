"""Who sent a request, read before the front authenticates it (for faults and the request log).

In-process, the SCF runtime marks its thread with the function's name. Over HTTP (server mode)
the thread is the server's, so the caller is found from the key that signed the request: an
execution role's key names its function (principal ``scf-role:<name>``).
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import parse_qsl

from tencent_emulator.core.http import Request
from tencent_emulator.core.tc3 import AUTH_RE

ROLE_PREFIX = "scf-role:"


def signing_secret_id(req: Request) -> Optional[str]:
    """The SecretId of a TC3 or COS signature (header or presigned query), if any."""
    auth = req.headers.get("Authorization", "")
    m = AUTH_RE.match(auth)
    if m:
        return m.group("sid")
    if "q-ak=" in auth:
        return dict(parse_qsl(auth, keep_blank_values=True)).get("q-ak")
    for k, v in req.query:
        if k.lower() == "q-ak":
            return v
    return None


def carries_token(req: Request) -> bool:
    """Whether the request carries an STS token (``X-TC-Token`` / ``x-cos-security-token``)."""
    if req.headers.get("X-TC-Token") or req.headers.get("x-cos-security-token"):
        return True
    return any(k.lower() == "x-cos-security-token" and v for k, v in req.query)


def function_of(principal: Optional[str]) -> Optional[str]:
    if principal and principal.startswith(ROLE_PREFIX):
        return principal[len(ROLE_PREFIX) :]
    return None
