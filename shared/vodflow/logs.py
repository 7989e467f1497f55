"""Structured logs: one JSON object per line, never a secret.

The official SDK logs the whole request JSON (SourceContext and SessionContext included) and the
ApplyUpload reply (the temporary certificate included). Here only named, non-secret fields are
logged; anything whose name looks like a credential is dropped before formatting.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Optional

__all__ = [
    "CONTEXT_FIELDS",
    "SENSITIVE_FIELDS",
    "ConsoleFormatter",
    "ContextThreadPool",
    "JsonFormatter",
    "bind",
    "configure",
    "configure_console",
    "context",
    "redact",
    "start_invocation",
]

# Every line of an invocation carries these (the function, SCF's invocation request id, the job id), also
# the lines of modules that know nothing of the invocation (flow, retry, the library): see bind().
CONTEXT_FIELDS = ("function", "request_id", "job_id")
_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "vodflow_log_context", default=MappingProxyType({})
)

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


class ContextThreadPool(ThreadPoolExecutor):
    """A thread pool whose tasks log as the thread that submitted them (function, request id, job id).

    A plain pool's threads start with an empty context, so an invocation's lines written from its copy streams
    or its background writes would name no invocation.
    """

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def start_invocation(function: str, request_id: str) -> None:
    """A new invocation: its lines carry ``function`` and ``request_id`` (and no job until one is bound)."""
    _CONTEXT.set({"function": function, "request_id": request_id})


def bind(**fields: Any) -> None:
    """Add fields (``job_id=...``) to every later line of this invocation (this thread or task)."""
    _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})


def context() -> dict[str, Any]:
    return dict(_CONTEXT.get())


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's extra fields over the invocation's context, secrets dropped."""
    extra = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
    ctx = _CONTEXT.get()
    merged = {k: ctx[k] for k in CONTEXT_FIELDS if k in ctx}
    merged.update(extra)  # a line that names its job (or none: ``job_id=None``) says so over the context
    return redact(merged)


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "function", "request_id", "job_id", ...extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        body.update(_fields(record))
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            body["error"] = {"type": type(exc).__name__, "code": getattr(exc, "code", None), "message": str(exc)}
        return json.dumps(body, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """One readable line per event for a terminal (``make dev``): time, function, job, message, fields.

    ``12:00:01 part-copy  job 3f2a9c1e  batch copied  parts=2 bytes=16.0MiB seconds=0.41``; WARNING and
    ERROR say so; no traceback (the JSON file keeps the error's type, code and message).
    """

    SKIP = frozenset({"function", "request_id", "job_id", "ts"})

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        function = str(fields.get("function") or record.name.rsplit(".", 1)[-1]).removeprefix("vodflow-")
        job = str(fields.get("job_id") or "")[:8]
        parts = [time.strftime("%H:%M:%S", time.localtime(record.created)), f"{function:<10}"]
        parts.append(f"job {job}" if job else " " * 12)
        if record.levelno >= logging.WARNING:
            parts.append(record.levelname)
        parts.append(record.getMessage())
        rest = []
        for key, value in fields.items():
            if key in self.SKIP or value in (None, "", [], {}):
                continue
            shown = f"{value / 1048576:.1f}MiB" if key == "bytes" and isinstance(value, int) else value
            rest.append(f"{key}={shown}")
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            rest.append(f"error={type(exc).__name__}:{getattr(exc, 'code', None) or ''} {exc}".rstrip())
        return "  ".join(parts) + ("  " + " ".join(rest) if rest else "")


_CONSOLE_MARK = "_vodflow_console"


def configure_console(stream: Optional[IO[str]], json_path: Optional[Path] = None, level: int = logging.INFO) -> None:
    """``make dev``: readable lines on ``stream``, the JSON lines appended to ``json_path``; once each.

    Installed on the root logger, so every library's lines go through the same two handlers, and
    :func:`configure` (which each invocation calls) adds no JSON stream handler of its own after it.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if stream is not None:  # None: the JSON file only (make demo tells its own story on the terminal)
        console = logging.StreamHandler(stream)
        console.setFormatter(ConsoleFormatter())
        setattr(console, _CONSOLE_MARK, True)
        root.addHandler(console)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(json_path, encoding="utf-8")
        file_handler.setFormatter(JsonFormatter())
        setattr(file_handler, _CONSOLE_MARK, True)
        root.addHandler(file_handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("vodflow").setLevel(level)


def configure(level: int = logging.INFO, logger: Optional[logging.Logger] = None) -> logging.Logger:
    """Attach one JSON-lines handler to the ``vodflow`` logger (idempotent; none under ``make dev``'s console)."""
    target = logger or logging.getLogger("vodflow")
    if any(getattr(h, _CONSOLE_MARK, False) for h in logging.getLogger().handlers):
        target.setLevel(level)
        return target
    for handler in target.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            break
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        target.addHandler(handler)
    target.setLevel(level)
    return target
