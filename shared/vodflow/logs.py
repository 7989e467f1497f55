"""Structured logs: one JSON object per line, never a secret.

The official SDK logs the whole request JSON (SourceContext and SessionContext included) and the
ApplyUpload reply (the temporary certificate included). Here only named, non-secret fields are
logged; anything whose name looks like a credential is dropped before formatting.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Optional

__all__ = ["SENSITIVE_FIELDS", "JsonFormatter", "configure", "redact"]

SENSITIVE_FIELDS = frozenset(
    {
        "secret_id",
        "secret_key",
        "secretid",
        "secretkey",
        "token",
        "session_token",
        "signature",
        "authorization",
        "vod_session_key",
        "vodsessionkey",
        "temp_certificate",
        "tempcertificate",
        "source_context",
        "session_context",
        "password",
    }
)

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}


def _sensitive(name: str) -> bool:
    low = name.lower()
    return low in SENSITIVE_FIELDS or any(s in low for s in ("secret", "token", "signature", "authorization"))


def redact(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without any credential-like entry (recursively)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if _sensitive(str(key)):
            continue
        out[key] = redact(value) if isinstance(value, dict) else value
    return out


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        body.update(redact(extra))
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            body["error"] = {"type": type(exc).__name__, "code": getattr(exc, "code", None), "message": str(exc)}
        return json.dumps(body, default=str, ensure_ascii=False)


def configure(level: int = logging.INFO, logger: Optional[logging.Logger] = None) -> logging.Logger:
    """Attach one JSON-lines handler to the ``vodflow`` logger (idempotent)."""
    target = logger or logging.getLogger("vodflow")
    for handler in target.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            break
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        target.addHandler(handler)
    target.setLevel(level)
    return target
