"""API credentials, read explicitly (SCF's names are not the ones tencentcloud's providers read)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from .errors import VodValidationError

__all__ = ["Credentials", "from_scf_environment"]


@dataclass(frozen=True)
class Credentials:
    """A key pair and an optional STS token. The repr shows only a masked SecretId."""

    secret_id: str
    secret_key: str = field(repr=False)
    token: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("secret_id", "secret_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                # The value of a secret is never echoed, not even a wrong one.
                raise VodValidationError("InvalidCredential", name, "<hidden>", "missing or empty")
            if value != value.strip() or " " in value:
                raise VodValidationError("InvalidCredential", name, "<hidden>", "contains spaces")

    @property
    def masked_id(self) -> str:
        """Enough of the SecretId to tell keys apart in a log, not enough to use it."""
        return self.secret_id[:4] + "****" if len(self.secret_id) > 8 else "****"

    def __repr__(self) -> str:
        return f"Credentials(secret_id={self.masked_id!r}, token={'set' if self.token else 'none'})"

    __str__ = __repr__


def from_scf_environment(environ: Optional[Mapping[str, str]] = None) -> Credentials:
    """The execution role's temporary keys, as SCF passes them to a function.

    Read per invocation and never cached: role keys rotate, and a warm container outlives them.
    """
    env = os.environ if environ is None else environ
    secret_id = env.get("TENCENTCLOUD_SECRETID", "")
    secret_key = env.get("TENCENTCLOUD_SECRETKEY", "")
    token = env.get("TENCENTCLOUD_SESSIONTOKEN") or None
    if not secret_id:
        raise VodValidationError("MissingParameter", "TENCENTCLOUD_SECRETID", "", "not set in the environment")
    if not secret_key:
        raise VodValidationError("MissingParameter", "TENCENTCLOUD_SECRETKEY", "", "not set in the environment")
    return Credentials(secret_id, secret_key, token)
