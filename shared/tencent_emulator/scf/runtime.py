"""Running one attempt of a function: in a thread (default) or in a child ``python`` process.

Threads share the interpreter, so each gets its own environment through the ``ThreadEnviron``
overlay on ``os.environ`` and its own ``cloud.caller`` (thread-local) so faults can target it. A
thread cannot be killed: one that overruns its timeout is *recorded* as timed out and abandoned
(it runs on in the background, its result discarded). Child processes are killed for real
(SIGKILL) on timeout or on request, which is what crash tests need.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

from tencent_emulator.core.faults import FunctionKilled
from tencent_emulator.core.inprocess import PROCESS_VARIABLES, ThreadEnviron

CHILD_SCRIPT = Path(__file__).with_name("child.py")
STATUS_USER_ERROR = 430
STATUS_TIMEOUT = 433
STATUS_PROCESS_EXIT = 439
STATUS_RESOURCE_LIMIT = 432
CHILD_ENV_PASSTHROUGH = tuple(sorted(PROCESS_VARIABLES))  # a child process sees what a thread sees


@dataclass
class Outcome:
    """How an attempt ended. ``error`` is the SCF error JSON (dict) for anything but ``ok``."""

    status: str  # ok | error | crash | timeout | throttled (sync invocation refused over the concurrency limit)
    result: Any = None
    error: Optional[dict[str, Any]] = None
    duration_ms: float = 0.0
    log: str = ""
    pid: Optional[int] = None

    @property
    def error_text(self) -> str:
        return json.dumps(self.error) if self.error else ""


def user_error(request_id: str, stack: str) -> dict[str, Any]:
    return {
        "errorCode": -1,
        "errorMessage": "user code exception caught",
        "requestId": request_id,
        "stackTrace": stack,
        "statusCode": STATUS_USER_ERROR,
    }


def timeout_error(request_id: str, timeout_s: float) -> dict[str, Any]:
    secs = f"{timeout_s:g}"
    return {
        "errorCode": -1,
        "errorMessage": f"Invoking task timed out after {secs} seconds",
        "requestId": request_id,
        "statusCode": STATUS_TIMEOUT,
    }


def crash_error(request_id: str, why: str) -> dict[str, Any]:
    return {
        "errorCode": -1,
        "errorMessage": f"user process exited: {why}",
        "requestId": request_id,
        "statusCode": STATUS_PROCESS_EXIT,
    }


def throttle_error(request_id: str, quota_mb: int) -> dict[str, Any]:
    """A synchronous invocation over the concurrency quota: status 432, ResourceLimitReached (doc 583/51585)."""
    return {
        "errorCode": -1,
        "errorMessage": f"ResourceLimitReached: the account's concurrency quota ({quota_mb} MB) is in use; retry later",
        "requestId": request_id,
        "statusCode": STATUS_RESOURCE_LIMIT,
    }


# -- environments ----------------------------------------------------------------------------
_env_lock = threading.Lock()


def thread_environ() -> tuple[ThreadEnviron, bool]:
    """The ``ThreadEnviron`` on ``os.environ``, installing one if absent (server mode); True if installed here."""
    with _env_lock:
        current = os.environ
        if isinstance(current, ThreadEnviron):
            return current, False
        proxy = ThreadEnviron(current)
        os.environ = proxy  # type: ignore[assignment]  # noqa: B003  (a per-thread proxy, on purpose)
        return proxy, True


def uninstall_thread_environ(proxy: ThreadEnviron) -> None:
    with _env_lock:
        if os.environ is proxy:
            os.environ = proxy.base  # type: ignore[assignment]  # noqa: B003


# -- handler modules (warm containers) -------------------------------------------------------
@dataclass
class LoadedHandler:
    module: ModuleType
    func: Callable[[Any, Any], Any]


@dataclass
class HandlerCache:
    """One imported module per function, kept between invocations like a warm instance."""

    _mods: dict[str, LoadedHandler] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: int = 0

    def get(self, function_name: str, handler_file: Path, handler_func: str) -> LoadedHandler:
        with self._lock:
            loaded = self._mods.get(function_name)
            if loaded is not None:
                return loaded
            self._serial += 1
            safe = "".join(c if c.isalnum() else "_" for c in function_name)
            mod_name = f"_scf_fn_{safe}_{self._serial}"
            spec = importlib.util.spec_from_file_location(mod_name, handler_file)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {handler_file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(mod_name, None)
                raise
            func = getattr(module, handler_func, None)
            if not callable(func):
                raise AttributeError(f"{handler_file} has no function {handler_func!r}")
            loaded = LoadedHandler(module, func)
            self._mods[function_name] = loaded
            return loaded

    def drop(self, function_name: Optional[str] = None) -> None:
        """Forget loaded modules: the next invocation is a cold start."""
        with self._lock:
            names = [function_name] if function_name else list(self._mods)
            for n in names:
                loaded = self._mods.pop(n, None)
                if loaded is not None:
                    sys.modules.pop(loaded.module.__name__, None)


# -- thread mode -----------------------------------------------------------------------------
@dataclass
class _Invocation:
    """What a function's thread carries: the cloud, whose function it runs, and its environment."""

    cloud: Any
    function: str
    request_id: str
    proxy: ThreadEnviron
    env: dict[str, str]

    def enter(self) -> None:
        _current.invocation = self
        self.proxy.set_overlay(dict(self.env))
        self.cloud.caller.function = self.function
        self.cloud.caller.invocation_id = self.request_id

    def leave(self) -> None:
        self.cloud.caller.function = None
        self.cloud.caller.invocation_id = None
        self.proxy.set_overlay(None)
        _current.invocation = None


_current = threading.local()
_inheritance_lock = threading.Lock()
_inheritance: dict[str, bool] = {}


def _install_thread_inheritance() -> None:
    """Threads a function starts belong to its invocation, as in a real instance (one process per function).

    In thread mode the function's identity (``cloud.caller``, used to attribute requests and aim faults)
    and its environment overlay are thread-local, so a thread the handler starts (a ``ThreadPoolExecutor``
    copying parts side by side) would otherwise run as nobody, with the emulator's environment. Installed
    once: ``Thread.start`` records the starting thread's invocation and ``Thread.run`` enters it."""
    with _inheritance_lock:
        if _inheritance.get("installed"):
            return
        original_start = threading.Thread.start
        original_run = threading.Thread.run

        def start(self: threading.Thread) -> None:
            self._scf_invocation = getattr(_current, "invocation", None)  # type: ignore[attr-defined]
            original_start(self)

        def run(self: threading.Thread) -> None:
            inherited: Optional[_Invocation] = getattr(self, "_scf_invocation", None)
            if inherited is None:
                original_run(self)
                return
            inherited.enter()
            try:
                original_run(self)
            finally:
                inherited.leave()

        threading.Thread.start = start  # type: ignore[method-assign]
        threading.Thread.run = run  # type: ignore[method-assign]
        _inheritance["installed"] = True


def run_in_thread(
    cloud: Any,
    cache: HandlerCache,
    function_name: str,
    handler_file: Path,
    handler_func: str,
    event: Any,
    context: dict[str, Any],
    env: dict[str, str],
    timeout_s: float,
) -> Outcome:
    """Run the handler in a fresh thread; wait at most ``timeout_s`` for it."""
    proxy, _ = thread_environ()
    _install_thread_inheritance()
    request_id = str(context["request_id"])
    box: dict[str, Any] = {}
    done = threading.Event()
    invocation = _Invocation(cloud, function_name, request_id, proxy, env)

    def target() -> None:
        invocation.enter()
        try:
            loaded = cache.get(function_name, handler_file, handler_func)
            result = loaded.func(event, context)
            json.dumps(result)  # SCF serializes the return value; an unserializable one fails the run
            box["outcome"] = Outcome("ok", result=result)
        except FunctionKilled as killed:
            box["outcome"] = Outcome("crash", error=crash_error(request_id, f"killed ({killed.point})"))
        except Exception as exc:
            tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # the user's frames, not ours
            stack = "".join(traceback.format_exception(type(exc), exc, tb))
            box["outcome"] = Outcome("error", error=user_error(request_id, stack))
        except BaseException as exc:  # SystemExit and friends end the process in real SCF
            box["outcome"] = Outcome("crash", error=crash_error(request_id, type(exc).__name__))
        finally:
            invocation.leave()
            done.set()

    started = time.monotonic()
    thread = threading.Thread(target=target, name=f"scf:{function_name}:{request_id[:8]}", daemon=True)
    thread.start()
    finished = done.wait(timeout_s)
    elapsed = (time.monotonic() - started) * 1000
    if not finished:
        return Outcome("timeout", error=timeout_error(request_id, timeout_s), duration_ms=elapsed)
    outcome: Outcome = box["outcome"]
    outcome.duration_ms = elapsed
    return outcome


# -- subprocess mode -------------------------------------------------------------------------
def child_environment(env: dict[str, str], code_root: Path, base_url: Optional[str]) -> dict[str, str]:
    """The child's whole environment: the function's, plus what a Python process needs to start."""
    out = {k: v for k in CHILD_ENV_PASSTHROUGH if (v := os.environ.get(k)) is not None}
    out.update(env)
    out["PYTHONPATH"] = str(code_root)
    out["PYTHONDONTWRITEBYTECODE"] = "x"
    if base_url:
        out["HTTP_PROXY"] = out["http_proxy"] = base_url
        out["VODFLOW_TENCENT_ENDPOINT"] = base_url
    return out


def run_in_subprocess(
    code_root: Path,
    handler_file: Path,
    handler_func: str,
    event: Any,
    context: dict[str, Any],
    env: dict[str, str],
    timeout_s: float,
    on_start: Callable[[subprocess.Popen[bytes]], None],
    python: Optional[str] = None,
    isolated: bool = False,
) -> Outcome:
    """Run the handler in a child ``python``; SIGKILL it on timeout. ``on_start`` lets tests kill it.

    ``isolated`` (code from a zip): ``python -I -S`` sees neither the environment's ``PYTHON*`` variables
    nor any site-packages, only the code root, so the package must be self-contained as on SCF.
    """
    request_id = str(context["request_id"])
    with tempfile.TemporaryDirectory(prefix="scf-child-") as tmp:
        spec_path, out_path, log_path = Path(tmp, "spec.json"), Path(tmp, "out.json"), Path(tmp, "log.txt")
        spec = {
            "handler_file": str(handler_file),
            "handler_func": handler_func,
            "code_root": str(code_root),
            "event": event,
            "context": context,
        }
        spec_path.write_text(json.dumps(spec))
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(  # noqa: S603  (our own interpreter and script)
                [
                    python or sys.executable,
                    *(["-I", "-S"] if isolated else []),
                    str(CHILD_SCRIPT),
                    str(spec_path),
                    str(out_path),
                ],
                env=env,
                cwd=str(code_root),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            on_start(proc)
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                elapsed = (time.monotonic() - started) * 1000
                return Outcome("timeout", error=timeout_error(request_id, timeout_s), duration_ms=elapsed, pid=proc.pid)
        elapsed = (time.monotonic() - started) * 1000
        log_text = log_path.read_text(errors="replace")
        if code != 0 or not out_path.exists():
            why = f"signal {-code}" if code < 0 else f"exit code {code}"
            return Outcome("crash", error=crash_error(request_id, why), duration_ms=elapsed, log=log_text, pid=proc.pid)
        reply = json.loads(out_path.read_text())
        if reply["ok"]:
            return Outcome("ok", result=reply["result"], duration_ms=elapsed, log=log_text, pid=proc.pid)
        return Outcome(
            "error", error=user_error(request_id, reply["stack"]), duration_ms=elapsed, log=log_text, pid=proc.pid
        )


# -- warm instances (subprocess mode) --------------------------------------------------------
VOLATILE_ENV = ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process from ``/proc/<pid>/stat`` (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _InstanceGone(Exception):
    """The instance's process ended (killed, crashed, exited) before it replied."""


class WarmInstance:
    """One function instance: a ``child.py --serve`` process that has imported the handler once."""

    def __init__(self, key: tuple[Any, ...], proc: subprocess.Popen[bytes], tmp: str) -> None:
        self.key = key
        self.proc = proc
        self.tmp = tmp
        self.idle_since = time.monotonic()
        self.served = 0
        self.import_cpu_s = 0.0
        self._buffer = b""

    def _read_line(self, deadline: float) -> Optional[bytes]:
        """One reply line; None at the deadline; ``_InstanceGone`` if the process ended first."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                raise _InstanceGone()
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def call(self, payload: dict[str, Any], deadline: float) -> Optional[dict[str, Any]]:
        """Send one invocation and wait for its reply until ``deadline`` (None: timed out)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(payload).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _InstanceGone() from exc
        line = self._read_line(deadline)
        return None if line is None else dict(json.loads(line))

    def stop(self, pool: Optional[WorkerPool] = None) -> None:
        if pool is not None:
            pool.forget(self)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def exit_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return f"signal {-code}" if code < 0 else f"exit code {code}"


@dataclass
class WorkerPool:
    """Warm function instances, as SCF keeps them: an invocation takes an idle instance of its function
    (same code, same configuration) or starts a new one, which is a cold start (counted in
    ``cold_starts``). An instance serves one invocation at a time, so N concurrent invocations use N
    instances. An instance that crashes, is killed or overruns its timeout is discarded, so the next
    invocation is a cold start. Idle instances are stopped after ``idle_s`` (SCF reclaims idle
    instances after some minutes) and when the model closes; ``enabled=False`` gives the old behaviour,
    a fresh process per invocation."""

    enabled: bool = True
    idle_s: float = 600.0
    max_idle_per_function: int = 64
    cold_starts: int = 0
    warm_starts: int = 0
    import_cpu_s: float = 0.0  # CPU the cold starts spent before their first invocation (imports)
    _idle: dict[tuple[Any, ...], list[WarmInstance]] = field(default_factory=dict)
    _live: dict[int, WarmInstance] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def key_of(
        code_root: Path,
        handler_file: Path,
        handler_func: str,
        env: dict[str, str],
        python: Optional[str],
        isolated: bool,
    ) -> tuple[Any, ...]:
        try:
            mtime = handler_file.stat().st_mtime_ns
        except OSError:
            mtime = 0
        config = tuple(sorted((k, v) for k, v in env.items() if k not in VOLATILE_ENV))
        return (str(code_root), str(handler_file), handler_func, mtime, python, isolated, config)

    def take(self, key: tuple[Any, ...]) -> Optional[WarmInstance]:
        now = time.monotonic()
        stale: list[WarmInstance] = []
        found: Optional[WarmInstance] = None
        with self._lock:
            for k, idle in list(self._idle.items()):
                keep: list[WarmInstance] = []
                for inst in idle:
                    (stale if now - inst.idle_since > self.idle_s else keep).append(inst)
                self._idle[k] = keep
            idle = self._idle.get(key) or []
            while idle and found is None:
                inst = idle.pop()
                if inst.proc.poll() is None:
                    found = inst
                else:
                    stale.append(inst)
            if found is not None:
                self.warm_starts += 1
            else:
                self.cold_starts += 1
        for inst in stale:
            inst.stop(self)
        return found

    def give_back(self, inst: WarmInstance) -> None:
        inst.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault(inst.key, [])
            if len(idle) < self.max_idle_per_function:
                idle.append(inst)
                return
        inst.stop(self)

    def drop(self, code_root: Optional[Path] = None) -> None:
        """Stop idle instances (of one function's code root, or all): their next invocation is a cold start."""
        with self._lock:
            gone = [
                inst
                for key, idle in self._idle.items()
                for inst in idle
                if code_root is None or key[0] == str(code_root)
            ]
            for key in list(self._idle):
                if code_root is None or key[0] == str(code_root):
                    del self._idle[key]
        for inst in gone:
            inst.stop(self)

    def started(self, inst: WarmInstance) -> None:
        with self._lock:
            self._live[inst.proc.pid] = inst

    def forget(self, inst: WarmInstance) -> None:
        with self._lock:
            self._live.pop(inst.proc.pid, None)

    def live_cpu_s(self) -> float:
        """CPU seconds of the instances alive now (ended ones are in the parent's children times)."""
        with self._lock:
            pids = list(self._live)
        return sum(process_cpu_s(pid) for pid in pids)

    def live_pids(self) -> list[int]:
        with self._lock:
            return list(self._live)

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())


def _start_instance(
    key: tuple[Any, ...],
    code_root: Path,
    handler_file: Path,
    handler_func: str,
    env: dict[str, str],
    python: Optional[str],
    isolated: bool,
) -> WarmInstance:
    tmp = tempfile.mkdtemp(prefix="scf-instance-")
    spec_path = Path(tmp, "spec.json")
    spec_path.write_text(
        json.dumps({"handler_file": str(handler_file), "handler_func": handler_func, "code_root": str(code_root)})
    )
    proc = subprocess.Popen(  # noqa: S603  (our own interpreter and script)
        [
            python or sys.executable,
            *(["-I", "-S"] if isolated else []),
            str(CHILD_SCRIPT),
            "--serve",
            str(spec_path),
            str(handler_file),
        ],
        env=env,
        cwd=str(code_root),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    return WarmInstance(key, proc, tmp)


def run_in_warm_instance(
    pool: WorkerPool,
    code_root: Path,
    handler_file: Path,
    handler_func: str,
    event: Any,
    context: dict[str, Any],
    env: dict[str, str],
    timeout_s: float,
    on_start: Callable[[subprocess.Popen[bytes]], None],
    python: Optional[str] = None,
    isolated: bool = False,
) -> Outcome:
    """Run the handler in a warm instance of the function (a new one, a cold start, if none is idle).

    Same outcomes as ``run_in_subprocess``: the handler's exception is a user error, a process that ends
    before replying (SIGKILL through ``on_start``'s process, ``SystemExit``, a segfault) is a crash, and an
    invocation past ``timeout_s`` (import time included on a cold start, as on SCF) has its instance
    killed. A crashed, killed or timed-out instance is never reused.
    """
    if not pool.enabled:
        return run_in_subprocess(
            code_root, handler_file, handler_func, event, context, env, timeout_s, on_start, python, isolated
        )
    request_id = str(context["request_id"])
    key = pool.key_of(code_root, handler_file, handler_func, env, python, isolated)
    started = time.monotonic()
    deadline = started + timeout_s
    inst = pool.take(key)
    cold = inst is None
    if inst is None:
        inst = _start_instance(key, code_root, handler_file, handler_func, env, python, isolated)
        pool.started(inst)
    on_start(inst.proc)
    log_path = Path(inst.tmp, "log.txt")
    pid = inst.proc.pid
    try:
        if cold:
            ready = inst._read_line(deadline)
            if ready is None:
                inst.stop(pool)
                return Outcome("timeout", error=timeout_error(request_id, timeout_s), duration_ms=_ms(started), pid=pid)
            inst.import_cpu_s = process_cpu_s(pid)
            with pool._lock:
                pool.import_cpu_s += inst.import_cpu_s
        reply = inst.call({"event": event, "context": context, "env": env, "log": str(log_path)}, deadline)
    except _InstanceGone:
        why = inst.exit_reason()
        log_text = _read_text(log_path)
        inst.stop(pool)
        return Outcome("crash", error=crash_error(request_id, why), duration_ms=_ms(started), log=log_text, pid=pid)
    if reply is None:
        inst.stop(pool)
        return Outcome("timeout", error=timeout_error(request_id, timeout_s), duration_ms=_ms(started), pid=pid)
    log_text = _read_text(log_path)
    inst.served += 1
    if inst.proc.poll() is None and not reply.get("retire"):
        pool.give_back(inst)
    else:
        inst.stop(pool)
    if reply.get("ok"):
        return Outcome("ok", result=reply.get("result"), duration_ms=_ms(started), log=log_text, pid=pid)
    return Outcome(
        "error", error=user_error(request_id, reply["stack"]), duration_ms=_ms(started), log=log_text, pid=pid
    )


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
