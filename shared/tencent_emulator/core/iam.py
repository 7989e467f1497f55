"""Accounts, keys and what each key may do.

One account per emulated cloud. Permanent keys belong to the root account; temporary keys come
from STS, from SCF execution roles, and from VOD's ApplyUpload (``TempCertificate``). A temporary
key carries a token that must travel with it, an expiry judged on the emulator's clock, and an
optional :class:`Scope` that limits it to some actions and resources.
"""

from __future__ import annotations

import fnmatch
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Optional

from tencent_emulator.core.clock import Clock

_ALNUM = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


@dataclass(frozen=True)
class Statement:
    """Allow ``actions`` (``service:Action`` fnmatch patterns) on ``resources`` (fnmatch patterns)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)

    def allows(self, service: str, action: str, resource: str) -> bool:
        name = f"{service}:{action}"
        return any(fnmatch.fnmatchcase(name, a) for a in self.actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in self.resources
        )


@dataclass(frozen=True)
class Scope:
    """What a key may do. ``None`` scope on a key means everything (the root account)."""

    statements: tuple[Statement, ...]

    def allows(self, service: str, action: str, resource: str = "*") -> bool:
        return any(s.allows(service, action, resource) for s in self.statements)


@dataclass
class KeyRecord:
    secret_id: str
    secret_key: str
    principal: str
    token: Optional[str] = None
    expires_at: Optional[float] = None
    scope: Optional[Scope] = None
    revoked: bool = field(default=False)

    @property
    def temporary(self) -> bool:
        return self.token is not None

    def allows(self, service: str, action: str, resource: str = "*") -> bool:
        return self.scope is None or self.scope.allows(service, action, resource)


class AuthError(Exception):
    """Why a key was refused. ``reason`` is one of: not_found, token_missing, token_mismatch, token_expired."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Iam:
    def __init__(self, app_id: str, uin: str, clock: Clock) -> None:
        self.app_id = app_id
        self.uin = uin
        self.clock = clock
        self._keys: dict[str, KeyRecord] = {}
        self._lock = threading.Lock()
        root = self.create_permanent_key("root")
        self.root_secret_id = root.secret_id
        self.root_secret_key = root.secret_key

    def create_permanent_key(self, principal: str) -> KeyRecord:
        rec = KeyRecord(secret_id="AKID" + _random(32), secret_key=_random(32), principal=principal)
        with self._lock:
            self._keys[rec.secret_id] = rec
        return rec

    def issue_temporary(self, principal: str, duration_s: float, scope: Optional[Scope] = None) -> KeyRecord:
        rec = KeyRecord(
            secret_id="AKID" + _random(32),
            secret_key=_random(32),
            principal=principal,
            token=_random(96),
            expires_at=self.clock.now() + duration_s,
            scope=scope,
        )
        with self._lock:
            self._keys[rec.secret_id] = rec
        return rec

    def get(self, secret_id: str) -> Optional[KeyRecord]:
        with self._lock:
            return self._keys.get(secret_id)

    def authenticate(self, secret_id: str, token: Optional[str]) -> KeyRecord:
        """Find the key and check its token; the caller verifies the signature with ``secret_key``."""
        rec = self.get(secret_id)
        if rec is None or rec.revoked:
            raise AuthError("not_found", "The SecretId is not found, please ensure that your SecretId is correct.")
        if rec.temporary:
            if not token:
                raise AuthError("token_missing", "The token is missing for a temporary key.")
            if not secrets.compare_digest(token, rec.token or ""):
                raise AuthError("token_mismatch", "The provided token is invalid.")
            if rec.expires_at is not None and self.clock.now() >= rec.expires_at:
                raise AuthError("token_expired", "The provided token has expired.")
        elif token:
            raise AuthError("token_mismatch", "A token was sent with a permanent key.")
        return rec

    def known_secrets(self) -> list[str]:
        """Every secret value the emulator ever handed out (for leak scans in tests)."""
        with self._lock:
            out: list[str] = []
            for rec in self._keys.values():
                out.append(rec.secret_key)
                if rec.token:
                    out.append(rec.token)
            return out
