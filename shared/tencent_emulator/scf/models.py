"""The SCF model: deployed functions, their triggers, the async queue with its retry policy, the records.

No HTTP here: the API 3.0 front (``front.py``), API Gateway and COS events all call into this.
Sources for each rule are in FIDELITY.md (## SCF): async retries from tencent-scf.md §4.5, limits
from §4.3, environment and context from §3.1 and wire-shapes.md §5.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from tencent_emulator.core.iam import KeyRecord, Scope
from tencent_emulator.scf import runtime
from tencent_emulator.scf.cron import CronExpression
from tencent_emulator.scf.deploy import AppSpec, DeployError, load_app, policy_to_scope
from tencent_emulator.scf.events import cos_record, timer_event

ROLE_KEY_DURATION_S = 7200.0
ROLE_KEY_MARGIN_S = 300.0
SYNC_EVENT_LIMIT = 6 * 1024 * 1024
ASYNC_EVENT_LIMIT = 128 * 1024
MEM_USAGE_BYTES = 16 * 1024 * 1024  # reported MemUsage; the emulator does not measure memory


class DrainTimeout(TimeoutError):
    """``drain`` ran out of time with work still queued or running."""


@dataclass
class Function:
    """A deployed function: its configuration, its execution role and how the emulator runs it."""

    name: str
    key: str
    namespace: str
    region: str
    runtime: str
    handler: str
    code_root: Path
    handler_file: Path
    handler_func: str
    memory_mb: int
    timeout_s: float
    retry_num: int
    environment: dict[str, str]
    role: Optional[str] = None
    role_scope: Optional[Scope] = None
    run_mode: Optional[str] = None  # "thread" | "subprocess"; None: the model's default
    role_key: Optional[KeyRecord] = None
    added: float = field(default_factory=time.time)


@dataclass
class CosTrigger:
    name: str
    function: str
    bucket: str
    region: str
    events: str
    prefix: str
    suffix: str
    enabled: bool

    def matches(self, bucket: str, event_name: str, key: str) -> bool:
        """Bucket, event (``*`` matches any sub-event) and prefix/suffix, on the decoded key."""
        if not self.enabled or bucket != self.bucket:
            return False
        if self.events.endswith(":*"):
            if not event_name.startswith(self.events[:-1]):
                return False
        elif event_name != self.events:
            return False
        return key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass
class TimerTrigger:
    name: str
    function: str
    cron: CronExpression
    enabled: bool
    message: str = ""
    next_due: Optional[float] = None


@dataclass
class InvocationRecord:
    """One attempt of one invocation, for tests and benchmarks."""

    function: str
    request_id: str
    attempt: int
    source: str  # api | async | cos | timer | apigw
    invocation_type: str  # sync | async
    event: Any
    mode: str
    status: str = "running"  # running | ok | error | crash | timeout
    result: Any = None
    error: str = ""
    started: float = 0.0
    ended: Optional[float] = None
    duration_ms: float = 0.0
    pid: Optional[int] = None


@dataclass
class App:
    """What ``deploy_app`` put in the cloud."""

    name: str
    stage: str
    path: Path
    functions: dict[str, Function]  # by serverless.yml key
    cos_triggers: list[CosTrigger]
    timers: list[TimerTrigger]
    api_url: Optional[str]
    api_services: list[Any] = field(default_factory=list)

    def function(self, key: str) -> Function:
        return self.functions[key]


@dataclass
class _Work:
    function: str
    event_json: str
    request_id: str
    attempt: int
    source: str
    env_extra: dict[str, str] = field(default_factory=dict)


class ScfModel:
    """Functions and their invocations. Knobs: ``concurrency``, ``run_mode``, ``duplicate_cos_events``,
    ``cos_key_encoding``."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.functions: dict[str, Function] = {}
        self.cos_triggers: list[CosTrigger] = []
        self.timers: list[TimerTrigger] = []
        self.invocations: list[InvocationRecord] = []
        self.apps: list[App] = []
        self.concurrency = 8
        self.run_mode = "thread"
        self.duplicate_cos_events = False
        self.cos_key_encoding = "quote"
        self.peak_concurrency = 0
        self._queue: deque[_Work] = deque()
        self._running = 0
        self._cond = threading.Condition()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._cache = runtime.HandlerCache()
        self._batch: Optional[dict[str, list[dict[str, Any]]]] = None
        self._bg: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._subscribed = False
        self._installed_environ: Any = None
        self.subscribe_cos()

    # -- deployment --------------------------------------------------------------------------
    def deploy_app(
        self,
        path: Union[str, Path] = "serverless.yml",
        variables: Optional[Mapping[str, str]] = None,
        role_policy: Union[Mapping[str, Any], str, Path, None] = None,
        run_mode: Optional[str] = None,
    ) -> App:
        """Deploy a multi-scf serverless.yml: functions, COS and timer triggers, API Gateway routes."""
        spec = load_app(path, dict(variables or {}), self.cloud.app_id, self.cloud.region)
        if spec.region != self.cloud.region:
            raise DeployError(f"inputs.region: {spec.region} but this emulated cloud is in {self.cloud.region}")
        scope = policy_to_scope(role_policy, self.cloud.app_id)
        return self._install(spec, scope, run_mode)

    def _install(self, spec: AppSpec, scope: Optional[Scope], run_mode: Optional[str]) -> App:
        by_key: dict[str, Function] = {}
        for key, fs in spec.functions.items():
            fn = Function(
                name=fs.name,
                key=key,
                namespace=fs.namespace,
                region=fs.region,
                runtime=fs.runtime,
                handler=fs.handler,
                code_root=fs.code_root,
                handler_file=fs.handler_file,
                handler_func=fs.handler_func,
                memory_mb=fs.memory_mb,
                timeout_s=fs.timeout_s,
                retry_num=fs.retry_num,
                environment=fs.environment,
                role=fs.role,
                role_scope=scope,
                run_mode=run_mode,
            )
            by_key[key] = fn
        cos = [
            CosTrigger(t.name, by_key[t.function_key].name, t.bucket, t.region, t.events, t.prefix, t.suffix, t.enabled)
            for t in spec.cos_triggers
        ]
        now = self.cloud.clock.now()
        timers = [
            TimerTrigger(t.name, by_key[t.function_key].name, t.cron, t.enabled, t.message, t.cron.next_after(now))
            for t in spec.timers
        ]
        with self._cond:
            for fn in by_key.values():
                self._cache.drop(fn.name)  # a redeploy is a cold start
                self.functions[fn.name] = fn
            names = {fn.name for fn in by_key.values()}
            self.cos_triggers = [t for t in self.cos_triggers if t.function not in names] + cos
            self.timers = [t for t in self.timers if t.function not in names] + timers
        services = []
        apigw = getattr(self.cloud, "apigw", None)
        if apigw is not None:
            for aspec in spec.apigw:
                services.append(apigw.deploy_service(aspec, {k: f.name for k, f in by_key.items()}))
        self.subscribe_cos()
        app = App(
            name=spec.name,
            stage=spec.stage,
            path=spec.path,
            functions=by_key,
            cos_triggers=cos,
            timers=timers,
            api_url=services[0].url if services else None,
            api_services=services,
        )
        self.apps.append(app)
        return app

    def subscribe_cos(self) -> None:
        """Listen to COS object events (once COS is installed)."""
        cos = getattr(self.cloud, "cos", None)
        if cos is not None and not self._subscribed and hasattr(cos, "subscribe"):
            cos.subscribe(self._on_cos_event)
            self._subscribed = True

    def get(self, name: str, namespace: str = "default") -> Optional[Function]:
        fn = self.functions.get(name)
        return fn if fn is not None and fn.namespace == namespace else None

    def function(self, name: str) -> Function:
        """A deployed function by its name or its serverless.yml key."""
        fn = self.functions.get(name) or next((f for f in self.functions.values() if f.key == name), None)
        if fn is None:
            raise KeyError(f"no deployed function {name!r}")
        return fn

    def cold_start(self, name: Optional[str] = None) -> None:
        """Forget loaded handler modules so the next run imports afresh."""
        self._cache.drop(self.function(name).name if name else None)

    # -- what a function sees ----------------------------------------------------------------
    def role_key(self, fn: Function) -> KeyRecord:
        """The execution role's temporary key, renewed when it would expire during a run."""
        now = self.cloud.clock.now()
        key = fn.role_key
        if key is None or key.expires_at is None or key.expires_at - now < fn.timeout_s + ROLE_KEY_MARGIN_S:
            key = self.cloud.iam.issue_temporary(f"scf-role:{fn.name}", ROLE_KEY_DURATION_S, fn.role_scope)
            fn.role_key = key
        return key

    def environment(self, fn: Function, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        """User variables, then SCF's built-ins (reference tencent-scf.md §3.1), then the role's keys."""
        key = self.role_key(fn)
        env = dict(fn.environment)
        env.update(
            {
                "SCF_RUNTIME": fn.runtime,
                "SCF_FUNCTIONNAME": fn.name,
                "SCF_FUNCTIONVERSION": "$LATEST",
                "SCF_NAMESPACE": fn.namespace,
                "TENCENTCLOUD_REGION": fn.region,
                "TENCENTCLOUD_APPID": self.cloud.app_id,
                "TENCENTCLOUD_UIN": self.cloud.uin,
                "TENCENTCLOUD_RUNENV": "SCF",
                "TENCENTCLOUD_TZ": "UTC",
                "USER_CODE_ROOT": str(fn.code_root),
                "PYTHONDONTWRITEBYTECODE": "x",
                "_SCF_SERVER_PORT": "28902",
                "TENCENTCLOUD_SECRETID": key.secret_id,
                "TENCENTCLOUD_SECRETKEY": key.secret_key,
                "TENCENTCLOUD_SESSIONTOKEN": key.token or "",
            }
        )
        if self.cloud.base_url:  # server mode: the function reaches the emulator over HTTP
            env["VODFLOW_TENCENT_ENDPOINT"] = self.cloud.base_url
        env.update(extra or {})
        return env

    def context(self, fn: Function, request_id: str) -> dict[str, Any]:
        """The ``context`` dict (wire-shapes.md §5)."""
        return {
            "memory_limit_in_mb": fn.memory_mb,
            "time_limit_in_ms": int(fn.timeout_s * 1000),
            "request_id": request_id,
            "environment": json.dumps({"SCF_NAMESPACE": fn.namespace}),
            "environ": f"SCF_NAMESPACE={fn.namespace};SCF_NAMESPACE={fn.namespace}",
            "function_version": "$LATEST",
            "function_name": fn.name,
            "namespace": fn.namespace,
            "tencentcloud_region": fn.region,
            "tencentcloud_appid": self.cloud.app_id,
            "tencentcloud_uin": self.cloud.uin,
        }

    # -- running one attempt -----------------------------------------------------------------
    def _run_attempt(
        self,
        fn: Function,
        event: Any,
        request_id: str,
        attempt: int,
        source: str,
        invocation_type: str,
        env_extra: Optional[Mapping[str, str]] = None,
    ) -> tuple[InvocationRecord, runtime.Outcome]:
        mode = fn.run_mode or self.run_mode
        rec = InvocationRecord(
            function=fn.name,
            request_id=request_id,
            attempt=attempt,
            source=source,
            invocation_type=invocation_type,
            event=event,
            mode=mode,
            started=time.time(),
        )
        with self._cond:
            self.invocations.append(rec)
        env = self.environment(fn, env_extra)
        ctx = self.context(fn, request_id)
        if mode == "subprocess":

            def on_start(proc: subprocess.Popen[bytes]) -> None:
                rec.pid = proc.pid
                with self._cond:
                    self._procs[request_id] = proc

            try:
                outcome = runtime.run_in_subprocess(
                    fn.code_root,
                    fn.handler_file,
                    fn.handler_func,
                    event,
                    ctx,
                    runtime.child_environment(env, fn.code_root, self.cloud.base_url),
                    fn.timeout_s,
                    on_start,
                )
            finally:
                with self._cond:
                    self._procs.pop(request_id, None)
        elif mode == "thread":
            if self._installed_environ is None:
                proxy, installed = runtime.thread_environ()
                if installed:
                    self._installed_environ = proxy
            outcome = runtime.run_in_thread(
                self.cloud, self._cache, fn.name, fn.handler_file, fn.handler_func, event, ctx, env, fn.timeout_s
            )
        else:
            raise ValueError(f"run_mode must be 'thread' or 'subprocess', not {mode!r}")
        rec.status = outcome.status
        rec.result = outcome.result
        rec.error = outcome.error_text
        rec.duration_ms = outcome.duration_ms
        rec.ended = time.time()
        with self._cond:
            self._cond.notify_all()
        return rec, outcome

    # -- invocations -------------------------------------------------------------------------
    def invoke(
        self, name: str, event: Any, source: str = "api", namespace: str = "default"
    ) -> tuple[InvocationRecord, runtime.Outcome]:
        """A synchronous invocation: never retried (tencent-scf.md §4.5)."""
        fn = self.get(name, namespace)
        if fn is None:
            raise KeyError(name)
        request_id = str(uuid.uuid4())
        with self._cond:
            self._running += 1
            self.peak_concurrency = max(self.peak_concurrency, self._running)
        try:
            return self._run_attempt(fn, event, request_id, 1, source, "sync")
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def invoke_async(
        self,
        name: str,
        event: Any,
        source: str = "async",
        namespace: str = "default",
        env_extra: Optional[Mapping[str, str]] = None,
    ) -> str:
        """Queue an asynchronous invocation; returns its request id at once."""
        fn = self.get(name, namespace)
        if fn is None:
            raise KeyError(name)
        request_id = str(uuid.uuid4())
        self._enqueue(_Work(fn.name, json.dumps(event), request_id, 1, source, dict(env_extra or {})))
        return request_id

    def _enqueue(self, work: _Work) -> None:
        with self._cond:
            self._queue.append(work)
            self._cond.notify_all()

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def running(self) -> list[InvocationRecord]:
        with self._cond:
            return [r for r in self.invocations if r.status == "running"]

    def _pump(self) -> None:
        """Start queued work while worker slots are free. Caller holds ``_cond``."""
        while self._queue and self._running < self.concurrency:
            work = self._queue.popleft()
            self._running += 1
            self.peak_concurrency = max(self.peak_concurrency, self._running)
            threading.Thread(target=self._worker, args=(work,), name=f"scf-worker:{work.function}", daemon=True).start()

    def _worker(self, work: _Work) -> None:
        try:
            fn = self.functions.get(work.function)
            if fn is None:
                return  # deleted while queued: the event is dropped, as with no DLQ
            _, outcome = self._run_attempt(
                fn, json.loads(work.event_json), work.request_id, work.attempt, work.source, "async", work.env_extra
            )
            if outcome.status != "ok" and work.attempt <= fn.retry_num:
                # Same event, same request id: the retry is the same invocation (FIDELITY.md).
                retry = _Work(
                    work.function, work.event_json, work.request_id, work.attempt + 1, work.source, work.env_extra
                )
                self._enqueue(retry)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def drain(self, timeout_s: float = 60.0) -> list[InvocationRecord]:
        """Run queued invocations (and those they queue) until none is left; the records of this drain."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            first = len(self.invocations)
            while True:
                self._pump()
                if not self._queue and self._running == 0:
                    return self.invocations[first:]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DrainTimeout(
                        f"drain timed out after {timeout_s}s: {len(self._queue)} queued, {self._running} running"
                    )
                self._cond.wait(min(left, 0.5))

    # -- background dispatcher (server mode) -------------------------------------------------
    def start_background(self, poll_s: float = 0.2) -> None:
        """Run queued work continuously and fire timers on their schedule, until ``close``."""
        if self._bg is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self.run_due_timers()
                with self._cond:
                    self._pump()
                    self._cond.wait(poll_s)

        self._bg = threading.Thread(target=loop, name="scf-dispatcher", daemon=True)
        self._bg.start()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            procs = list(self._procs.values())
        if self._bg is not None:
            self._bg.join(timeout=5)
            self._bg = None
        for proc in procs:
            proc.kill()
        if self._installed_environ is not None:
            runtime.uninstall_thread_environ(self._installed_environ)
            self._installed_environ = None

    def kill(self, request_id: str) -> bool:
        """SIGKILL the child process running ``request_id`` (subprocess mode); False if none runs."""
        with self._cond:
            proc = self._procs.get(request_id)
        if proc is None:
            return False
        proc.kill()
        return True

    # -- timers ------------------------------------------------------------------------------
    def fire_timer(self, name: str) -> list[str]:
        """Deliver the timer event of the trigger named ``name`` (or every timer of function ``name``)."""
        timers = [t for t in self.timers if name in (t.name, t.function)]
        if not timers:
            fn = self.functions.get(name) or next((f for f in self.functions.values() if f.key == name), None)
            timers = [t for t in self.timers if fn is not None and t.function == fn.name]
        if not timers:
            raise KeyError(f"no timer trigger or function with timers named {name!r}")
        now = self.cloud.clock.now()
        return [
            self.invoke_async(
                t.function,
                timer_event(t.name, now, t.message),
                source="timer",
                namespace=self.functions[t.function].namespace,
                env_extra={"TRIGGER_SRC": "Timer"},
            )
            for t in timers
        ]

    def run_due_timers(self) -> list[str]:
        """Fire enabled timers whose time (on the emulator clock) has come; missed firings coalesce."""
        now = self.cloud.clock.now()
        fired: list[str] = []
        for t in list(self.timers):
            if t.enabled and t.next_due is not None and now >= t.next_due and t.function in self.functions:
                fired.append(
                    self.invoke_async(
                        t.function,
                        timer_event(t.name, t.next_due, t.message),
                        source="timer",
                        namespace=self.functions[t.function].namespace,
                        env_extra={"TRIGGER_SRC": "Timer"},
                    )
                )
                t.next_due = t.cron.next_after(now)
        return fired

    # -- COS triggers ------------------------------------------------------------------------
    def _on_cos_event(self, event: Any) -> None:
        """A COS object event: one record per matching trigger, queued (or batched) asynchronously."""
        for trig in list(self.cos_triggers):
            if not trig.matches(event.bucket, event.event_name, event.key):
                continue
            fn = self.functions.get(trig.function)
            if fn is None:
                continue
            record = cos_record(event, trig.events, self.cloud.app_id, fn.namespace, fn.name, self.cos_key_encoding)
            with self._cond:
                if self._batch is not None:
                    self._batch.setdefault(fn.name, []).append(record)
                    continue
            self._deliver_cos(fn, [record])

    def _deliver_cos(self, fn: Function, records: list[dict[str, Any]]) -> None:
        copies = 2 if self.duplicate_cos_events else 1
        for _ in range(copies):
            self.invoke_async(fn.name, {"Records": records}, source="cos", namespace=fn.namespace)

    @contextmanager
    def batched_cos_events(self) -> Iterator[None]:
        """Inside the block, COS records are held; on exit each function gets one event with all its records."""
        with self._cond:
            self._batch = {}
        try:
            yield
        finally:
            with self._cond:
                batch, self._batch = self._batch or {}, None
            for name, records in batch.items():
                fn = self.functions.get(name)
                if fn is not None and records:
                    self._deliver_cos(fn, records)
