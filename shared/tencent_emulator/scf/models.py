"""The SCF model: functions (their code, configuration and status), their triggers (cos, timer, http),
the async queue with its retry policy, the records.

No HTTP here: the API 3.0 front (``front.py``), the function URL front (``url_front.py``), COS events
and ``deploy_app`` all call into this, through the same methods (``create_function``,
``create_trigger``...). Sources for each rule are in FIDELITY.md (## SCF, ## Function URL): async
retries from tencent-scf.md §4.5, limits from §4.3, environment and context from §3.1 and
wire-shapes.md §5, the management rules from tencentcloud-sdk-python ``scf/v20180416``.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import string
import subprocess
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from tencent_emulator.core.iam import KeyRecord, Scope
from tencent_emulator.scf import runtime
from tencent_emulator.scf.code import CodeError, CodeSource, DirCode, ZipCode, handler_path, python_for_runtime, unpack
from tencent_emulator.scf.cron import CronError, CronExpression
from tencent_emulator.scf.deploy import (
    COS_DOMAIN,
    COS_EVENTS,
    FUNCTION_NAME,
    AppSpec,
    DeployError,
    load_app,
    policy_to_scope,
)
from tencent_emulator.scf.events import cos_record, timer_event

ROLE_KEY_DURATION_S = 7200.0
ROLE_KEY_MARGIN_S = 300.0
SYNC_EVENT_LIMIT = 6 * 1024 * 1024
ASYNC_EVENT_LIMIT = 128 * 1024
MEM_USAGE_BYTES = 16 * 1024 * 1024  # reported MemUsage; the emulator does not measure memory
ACCOUNT_QUOTA_MB = 128_000  # per region (Guangzhou...), tencent-scf.md §4.4
DEFAULT_SETTLE_S = 0.5  # how long Creating / Updating last before Active (a deployer must wait for it)
DEFAULT_RETRY_NUM = 2
MAX_RETRY_NUM = 2
DEFAULT_MSG_TTL_S = 21600
MIN_MSG_TTL_S = 60
QUALIFIERS = ("$LATEST", "$DEFAULT")
TRIGGER_TYPES = ("cos", "timer", "http")
UNMODELLED_TRIGGER_TYPES = ("cls", "ckafka")  # listed by CreateTriggerRequest.Type, not modelled here
TIMER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
HANDLER_PART = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$|^[A-Za-z]$")
RUNTIMES = ("Python3.6", "Python3.7", "Python3.9", "Python3.10", "Python3.11", "Python3.12")
RESERVED_ENV_PREFIXES = ("SCF_", "QCLOUD_", "TENCENTCLOUD_")
ENV_LIMIT_BYTES = 4096
LOCAL_URL_PREFIX = "/_function-url/"
_URL_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_url_id() -> str:
    """The ``<url-id>`` of a function URL (⚠ length and alphabet guessed: 10 of [a-z0-9])."""
    return "".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(10))


def validate_config(
    *,
    name: str,
    handler: Optional[str] = None,
    runtime: Optional[str] = None,
    memory_mb: Optional[int] = None,
    timeout_s: Optional[float] = None,
    environment: Optional[Mapping[str, str]] = None,
    description: Optional[str] = None,
    type: Optional[str] = None,
) -> None:
    """CreateFunction / UpdateFunctionConfiguration field rules (CreateFunctionRequest docstrings, errorcodes.py)."""
    if not FUNCTION_NAME.match(name or ""):
        raise ScfError(
            "InvalidParameterValue.FunctionName",
            f"`{name}`: 2-60 letters, digits, - and _, starting with a letter, not ending with - or _.",
        )
    if handler is not None:
        module, _, func = handler.rpartition(".")
        if not module or not all(HANDLER_PART.match(p) for p in [*module.split("."), func]):
            raise ScfError("InvalidParameterValue.Handler", f"Handler `{handler}` must be <file>.<function>.")
    if runtime is not None and runtime not in RUNTIMES:
        raise ScfError(
            "InvalidParameterValue.Runtime",
            f"Runtime `{runtime}`: the emulator runs Python 3 functions only ({', '.join(RUNTIMES)}).",
        )
    if memory_mb is not None and not (memory_mb == 64 or (128 <= memory_mb <= 3072 and memory_mb % 128 == 0)):
        raise ScfError("InvalidParameterValue.MemorySize", f"MemorySize {memory_mb}: 64, or 128-3072 in steps of 128.")
    if timeout_s is not None and not 1 <= timeout_s <= 900:
        raise ScfError("LimitExceeded.Timeout", f"Timeout {timeout_s}: 1-900 seconds.")
    if environment is not None:
        for k in environment:
            if not k or k.upper().startswith(RESERVED_ENV_PREFIXES):
                raise ScfError(
                    "InvalidParameterValue.EnvironmentSystemProtect",
                    f"Environment variable `{k}`: names starting with SCF_, QCLOUD_ or TENCENTCLOUD_ are reserved.",
                )
        size = sum(len(k.encode()) + len(str(v).encode()) for k, v in environment.items())
        if size > ENV_LIMIT_BYTES:
            raise ScfError("InvalidParameterValue.EnvironmentExceededLimit", f"Environment is {size} bytes; ≤ 4 KB.")
    if description is not None and len(description) > 1000:
        raise ScfError("InvalidParameterValue.Description", "Description is at most 1000 characters.")
    if type is not None and type != "Event":
        if type == "HTTP":
            raise ScfError("UnsupportedOperation", "Web (HTTP-type) functions are not modelled by the emulator.")
        raise ScfError("InvalidParameterValue.FunctionType", f"Type `{type}` must be Event or HTTP.")


class DrainTimeout(TimeoutError):
    """``drain`` ran out of time with work still queued or running."""


class ScfError(Exception):
    """A rule of the SCF service refused the call: ``code`` is the API 3.0 error code (errorcodes.py)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Function:
    """A function: its configuration, its code, its status, its execution role and how the emulator runs it."""

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
    modified: float = field(default_factory=time.time)
    description: str = ""
    type: str = "Event"
    msg_ttl: int = DEFAULT_MSG_TTL_S
    status: str = "Active"  # Creating | Active | CreateFailed | Updating | UpdateFailed
    status_reasons: list[dict[str, str]] = field(default_factory=list)
    code_source: str = "Directory"  # Directory (deploy_app) | ZipFile | Cos
    code_size: int = 0
    isolated: bool = False  # zip code: ``python -I -S`` with only the code root on sys.path
    python: Optional[str] = None  # the interpreter for ``runtime`` (subprocess mode)
    serial: int = 0
    _pending: Optional[tuple[float, Callable[[], None]]] = field(default=None, repr=False)


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
    qualifier: str = "$DEFAULT"
    desc: str = ""
    added: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    description: str = ""
    type: str = "cos"

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
    qualifier: str = "$DEFAULT"
    desc: str = ""
    added: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    description: str = ""
    type: str = "timer"


@dataclass
class HttpTrigger:
    """A function URL (``Type: http``): TriggerDesc ``{AuthType, NetConfig, CorsConfig}`` (doc 583/100227)."""

    name: str
    function: str
    url_id: str
    region: str
    auth_type: str
    enable_intranet: bool
    enable_extranet: bool
    cors: Optional[dict[str, Any]]
    enabled: bool
    qualifier: str = "$DEFAULT"
    added: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    description: str = ""
    type: str = "http"


Trigger = Union[CosTrigger, TimerTrigger, HttpTrigger]


@dataclass
class InvocationRecord:
    """One attempt of one invocation, for tests and benchmarks."""

    function: str
    request_id: str
    attempt: int
    source: str  # api | async | cos | timer | http
    invocation_type: str  # sync | async
    event: Any
    mode: str
    status: str = "running"  # running | ok | error | crash | timeout | throttled
    result: Any = None
    error: str = ""
    started: float = 0.0
    ended: Optional[float] = None
    duration_ms: float = 0.0
    pid: Optional[int] = None


@dataclass
class App:
    """What ``deploy_app`` put in the cloud. ``api_url``: the function URL of the first http trigger."""

    name: str
    stage: str
    path: Path
    functions: dict[str, Function]  # by serverless.yml key
    cos_triggers: list[CosTrigger]
    timers: list[TimerTrigger]
    api_url: Optional[str]
    http_triggers: list[HttpTrigger] = field(default_factory=list)
    local_api_url: Optional[str] = None

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


def _bool_field(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ScfError("InvalidParameterValue.TriggerDesc", f"`{where}` must be true or false.")
    return value


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScfError("InvalidParameterValue.TriggerDesc", f"`{where}` must be an array of strings.")
    return list(value)


def parse_http_desc(raw: str) -> tuple[str, bool, bool, Optional[dict[str, Any]]]:
    """``{"AuthType", "NetConfig": {"EnableIntranet", "EnableExtranet"}, "CorsConfig"?}`` (doc 583/100227)."""
    try:
        desc = json.loads(raw or "")
    except ValueError:
        raise ScfError("InvalidParameterValue.TriggerDesc", "TriggerDesc of an http trigger must be JSON.") from None
    if not isinstance(desc, dict):
        raise ScfError("InvalidParameterValue.TriggerDesc", "TriggerDesc of an http trigger must be a JSON object.")
    auth = desc.get("AuthType")
    if auth not in ("NONE", "CAM"):
        raise ScfError("InvalidParameterValue.TriggerDesc", "`AuthType` must be NONE or CAM.")
    net = desc.get("NetConfig")
    if not isinstance(net, dict):
        raise ScfError(
            "InvalidParameterValue.TriggerDesc", "`NetConfig` is required: {EnableIntranet, EnableExtranet}."
        )
    intranet = _bool_field(net.get("EnableIntranet", False), "NetConfig.EnableIntranet")
    extranet = _bool_field(net.get("EnableExtranet", False), "NetConfig.EnableExtranet")
    cors_raw = desc.get("CorsConfig")
    cors: Optional[dict[str, Any]] = None
    if cors_raw is not None:
        if not isinstance(cors_raw, dict):
            raise ScfError("InvalidParameterValue.TriggerDesc", "`CorsConfig` must be an object.")
        known = {"Enable", "Origins", "Methods", "Headers", "ExposeHeaders", "Credentials", "MaxAge"}
        unknown = set(cors_raw) - known
        if unknown:
            raise ScfError("InvalidParameterValue.TriggerDesc", f"`CorsConfig` has unknown fields {sorted(unknown)}.")
        cors = {
            "Enable": _bool_field(cors_raw.get("Enable", True), "CorsConfig.Enable"),
            "Origins": _str_list(cors_raw.get("Origins"), "CorsConfig.Origins"),
            "Methods": [m.upper() for m in _str_list(cors_raw.get("Methods"), "CorsConfig.Methods")],
            "Headers": _str_list(cors_raw.get("Headers"), "CorsConfig.Headers"),
            "ExposeHeaders": _str_list(cors_raw.get("ExposeHeaders"), "CorsConfig.ExposeHeaders"),
            "Credentials": _bool_field(cors_raw.get("Credentials", False), "CorsConfig.Credentials"),
        }
        if "MaxAge" in cors_raw:
            age = cors_raw["MaxAge"]
            if not isinstance(age, int) or isinstance(age, bool) or age < 0:
                raise ScfError("InvalidParameterValue.TriggerDesc", "`CorsConfig.MaxAge` must be a whole number.")
            cors["MaxAge"] = age
    return str(auth), intranet, extranet, cors


class ScfModel:
    """Functions, their triggers and their invocations. Knobs: ``concurrency`` (how many async invocations the
    emulator runs at once: its worker threads), ``quota_mb`` (the account's concurrency quota in MB, which a
    synchronous invocation may not exceed), ``run_mode``, ``duplicate_cos_events``, ``cos_key_encoding``,
    ``settle_s`` (how long Creating/Updating last)."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.functions: dict[str, Function] = {}
        self.cos_triggers: list[CosTrigger] = []
        self.timers: list[TimerTrigger] = []
        self.http_triggers: list[HttpTrigger] = []
        self.invocations: list[InvocationRecord] = []
        self.apps: list[App] = []
        self.concurrency = 8
        self.quota_mb = ACCOUNT_QUOTA_MB
        self.run_mode = "thread"
        self.duplicate_cos_events = False
        self.cos_key_encoding = "quote"
        self.settle_s = DEFAULT_SETTLE_S
        self.peak_concurrency = 0
        self._queue: deque[_Work] = deque()
        self._running = 0
        self._running_mb = 0
        self._cond = threading.Condition()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._cache = runtime.HandlerCache()
        self.workers = runtime.WorkerPool()  # warm instances of subprocess mode (cold starts counted there)
        self._batch: Optional[dict[str, list[dict[str, Any]]]] = None
        self._bg: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._subscribed = False
        self._installed_environ: Any = None
        self._code_tmp: Optional[Path] = None
        self._serial = 0
        self.subscribe_cos()

    # -- where unpacked code lives -----------------------------------------------------------
    def _code_dir(self) -> Path:
        if self.cloud.data_dir is not None:
            return Path(self.cloud.data_dir) / "scf-code"
        if self._code_tmp is None:
            self._code_tmp = Path(tempfile.mkdtemp(prefix="scf-code-"))
        return self._code_tmp

    # -- status ------------------------------------------------------------------------------
    def _settle(self, fn: Function) -> None:
        """End a Creating/Updating state whose time has come (applied lazily, on every read)."""
        with self._cond:
            pending = fn._pending
            if pending is not None and time.monotonic() >= pending[0]:
                fn._pending = None
                pending[1]()

    def _schedule(self, fn: Function, status: str, apply: Callable[[], None], settle_s: Optional[float]) -> None:
        delay = self.settle_s if settle_s is None else settle_s
        fn.status = status
        fn.status_reasons = []
        if delay <= 0:
            apply()
        else:
            fn._pending = (time.monotonic() + delay, apply)

    def _require_active(self, fn: Function, code: str = "FailedOperation.FunctionStatusError") -> None:
        if fn.status in ("Active", "UpdateFailed"):
            return
        raise ScfError(code, f"The function `{fn.name}` is {fn.status}; retry when it is Active.")

    # -- lookups -----------------------------------------------------------------------------
    def get(self, name: str, namespace: str = "default", region: Optional[str] = None) -> Optional[Function]:
        """A function by name in a namespace (and region, when given); None if it is not there."""
        fn = self.functions.get(name)
        if fn is None or fn.namespace != namespace or (region is not None and fn.region != region):
            return None
        self._settle(fn)
        return fn

    def lookup(self, name: Any, namespace: Any = None, region: Optional[str] = None) -> Function:
        """As the API sees it: ``ResourceNotFound.Function`` for a name that is not in this namespace/region."""
        if not name:
            raise ScfError("MissingParameter", "The request is missing a required parameter `FunctionName`.")
        ns = str(namespace or "default")
        fn = self.get(str(name), ns, region)
        if fn is None:
            if ns != "default" and not any(f.namespace == ns for f in self.functions.values()):
                raise ScfError("ResourceNotFound.Namespace", f"Namespace `{ns}` does not exist.")
            raise ScfError("ResourceNotFound.Function", f"Function `{name}` does not exist in `{ns}`.")
        return fn

    def function(self, name: str) -> Function:
        """A function by its name or its serverless.yml key."""
        fn = self.functions.get(name) or next((f for f in self.functions.values() if f.key == name), None)
        if fn is None:
            raise KeyError(f"no deployed function {name!r}")
        self._settle(fn)
        return fn

    def triggers_of(self, fn_name: str) -> list[Trigger]:
        out: list[Trigger] = [t for t in self.cos_triggers if t.function == fn_name]
        out += [t for t in self.timers if t.function == fn_name]
        out += [t for t in self.http_triggers if t.function == fn_name]
        return out

    # -- functions ---------------------------------------------------------------------------
    def create_function(
        self,
        name: str,
        *,
        handler: str,
        code: CodeSource,
        runtime: str = "Python3.9",
        memory_mb: int = 128,
        timeout_s: float = 3,
        environment: Optional[Mapping[str, str]] = None,
        role: Optional[str] = None,
        namespace: str = "default",
        description: str = "",
        type: str = "Event",
        region: Optional[str] = None,
        retry_num: int = DEFAULT_RETRY_NUM,
        key: Optional[str] = None,
        run_mode: Optional[str] = None,
        role_scope: Optional[Scope] = None,
        settle_s: Optional[float] = None,
        replace: bool = False,
    ) -> Function:
        """CreateFunction's rules (one path for the API and ``deploy_app``).

        ``code``: :class:`DirCode` (read in place; thread mode by default) or :class:`ZipCode` (unpacked
        under the cloud's data dir; subprocess mode with an isolated interpreter by default). The
        function is ``Creating`` for ``settle_s`` (default ``self.settle_s``) seconds, then ``Active`` or
        ``CreateFailed``. ``replace`` (``deploy_app``): an existing function of that name is replaced.
        """
        validate_config(
            name=name,
            handler=handler,
            runtime=runtime,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            environment=environment or {},
            description=description,
            type=type,
        )
        region = region or self.cloud.region
        with self._cond:
            existing = self.functions.get(name)
            if existing is not None and not replace:
                raise ScfError("ResourceInUse.Function", f"The function `{name}` already exists.")
            self._serial += 1
            serial = self._serial
        root, size, failure = self._materialize(name, serial, code, handler)
        now = time.time()
        fn = Function(
            name=name,
            key=key or name,
            namespace=namespace,
            region=region,
            runtime=runtime,
            handler=handler,
            code_root=root,
            handler_file=handler_path(root, handler)[0],
            handler_func=handler_path(root, handler)[1],
            memory_mb=int(memory_mb),
            timeout_s=float(timeout_s),
            retry_num=retry_num,
            environment=dict(environment or {}),
            role=role,
            role_scope=role_scope,
            run_mode=run_mode or ("subprocess" if isinstance(code, ZipCode) else None),
            added=now,
            modified=now,
            description=description,
            type=type,
            code_source="Directory" if isinstance(code, DirCode) else code.source,
            code_size=size,
            isolated=isinstance(code, ZipCode),
            python=python_for_runtime(runtime) if isinstance(code, ZipCode) else None,
            serial=serial,
        )

        def apply() -> None:
            if failure is None:
                fn.status, fn.status_reasons = "Active", []
            else:
                fn.status, fn.status_reasons = "CreateFailed", [failure]

        with self._cond:
            if existing is not None:
                self._drop_triggers(name)
            self._cache.drop(name)  # a (re)deploy is a cold start
            self.functions[name] = fn
            self._schedule(fn, "Creating", apply, settle_s)
        return fn

    def _materialize(
        self, name: str, serial: int, code: CodeSource, handler: str
    ) -> tuple[Path, int, Optional[dict[str, str]]]:
        """(code root, code size, StatusReason if the function cannot become Active)."""
        if isinstance(code, DirCode):
            root = Path(code.root).resolve()
            handler_file = handler_path(root, handler)[0]
            if not handler_file.is_file():
                raise ScfError(
                    "InvalidParameterValue.Handler", f"`{handler}` needs {handler_file}, which does not exist."
                )
            return root, 0, None
        dest = self._code_dir() / f"{name}-{serial}"
        try:
            unpack(code.data, dest)
        except CodeError as exc:
            if code.source == "ZipFile":  # checked on the call itself (errorcodes.py InvalidParameterValue.ZipFile)
                raise ScfError(exc.code, exc.message) from None
            return dest, len(code.data), {"ErrorCode": exc.code, "ErrorMessage": exc.message}
        handler_file = handler_path(dest, handler)[0]
        if not handler_file.is_file():
            rel = handler_file.relative_to(dest)
            return (
                dest,
                len(code.data),
                {
                    "ErrorCode": "InvalidParameterValue.Handler",
                    "ErrorMessage": f"The handler `{handler}` needs `{rel}` in the package; it is not there.",
                },
            )
        return dest, len(code.data), None

    def update_function_code(
        self, fn: Function, code: CodeSource, handler: Optional[str] = None, settle_s: Optional[float] = None
    ) -> Function:
        """UpdateFunctionCode: ``Updating``, then the new code runs (``Active``), or ``UpdateFailed``
        (the old code stays)."""
        self._require_active(fn, "FailedOperation.UpdateFunctionCode")
        handler = handler or fn.handler
        validate_config(name=fn.name, handler=handler)
        with self._cond:
            self._serial += 1
            serial = self._serial
        root, size, failure = self._materialize(fn.name, serial, code, handler)

        def apply() -> None:
            if failure is not None:
                fn.status, fn.status_reasons = "UpdateFailed", [failure]
                return
            fn.code_root, fn.handler = root, handler
            fn.handler_file, fn.handler_func = handler_path(root, handler)
            fn.code_size, fn.serial, fn.modified = size, serial, time.time()
            fn.code_source = "Directory" if isinstance(code, DirCode) else code.source
            if isinstance(code, ZipCode):
                fn.isolated = True
                fn.python = python_for_runtime(fn.runtime)
                fn.run_mode = fn.run_mode or "subprocess"
            self._cache.drop(fn.name)
            fn.status, fn.status_reasons = "Active", []

        with self._cond:
            self._schedule(fn, "Updating", apply, settle_s)
        return fn

    def update_function_configuration(
        self,
        fn: Function,
        *,
        memory_mb: Optional[int] = None,
        timeout_s: Optional[float] = None,
        environment: Optional[Mapping[str, str]] = None,
        role: Optional[str] = None,
        description: Optional[str] = None,
        settle_s: Optional[float] = None,
    ) -> Function:
        """UpdateFunctionConfiguration: ``Updating`` then ``Active`` with the new settings."""
        self._require_active(fn)
        validate_config(
            name=fn.name,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            environment=environment,
            description=description,
        )

        def apply() -> None:
            if memory_mb is not None:
                fn.memory_mb = int(memory_mb)
            if timeout_s is not None:
                fn.timeout_s = float(timeout_s)
            if environment is not None:
                fn.environment = dict(environment)
            if role is not None and role != fn.role:
                fn.role, fn.role_key = role, None
            if description is not None:
                fn.description = description
            fn.modified = time.time()
            fn.status, fn.status_reasons = "Active", []

        with self._cond:
            self._schedule(fn, "Updating", apply, settle_s)
        return fn

    def delete_function(self, fn: Function) -> None:
        """DeleteFunction: the function and its triggers go; queued async work for it is dropped."""
        if fn.status in ("Creating", "Updating"):
            raise ScfError("FailedOperation.DeleteFunction", f"The function `{fn.name}` is {fn.status}; retry later.")
        with self._cond:
            self._drop_triggers(fn.name)
            self.functions.pop(fn.name, None)
            self._cache.drop(fn.name)

    def _drop_triggers(self, name: str) -> None:
        """Caller holds ``_cond``."""
        self.cos_triggers = [t for t in self.cos_triggers if t.function != name]
        self.timers = [t for t in self.timers if t.function != name]
        self.http_triggers = [t for t in self.http_triggers if t.function != name]

    def update_event_invoke_config(self, fn: Function, retry_num: Optional[int], msg_ttl: Optional[int]) -> None:
        """UpdateFunctionEventInvokeConfig: the async retry count (0-2 ⚠) and the message TTL (60-21600 s ⚠)."""
        self._require_active(fn)
        if retry_num is not None and not 0 <= retry_num <= MAX_RETRY_NUM:
            raise ScfError("LimitExceeded.RetryNum", f"RetryNum {retry_num} must be 0..{MAX_RETRY_NUM}.")
        if msg_ttl is not None and not MIN_MSG_TTL_S <= msg_ttl <= DEFAULT_MSG_TTL_S:
            raise ScfError("LimitExceeded.MsgTTL", f"MsgTTL {msg_ttl} must be {MIN_MSG_TTL_S}..{DEFAULT_MSG_TTL_S}.")
        if retry_num is not None:
            fn.retry_num = retry_num
        if msg_ttl is not None:
            fn.msg_ttl = msg_ttl

    # -- triggers ----------------------------------------------------------------------------
    def create_trigger(
        self,
        fn: Function,
        type: str,
        name: str,
        desc: str,
        *,
        qualifier: str = "$LATEST",
        enabled: bool = True,
        custom_argument: str = "",
        description: str = "",
        replace: bool = False,
        require_bucket: bool = True,
    ) -> Trigger:
        """CreateTrigger's rules for ``cos``, ``timer`` and ``http``; other types are refused.

        ``require_bucket=False`` (``deploy_app`` only: tests deploy before they create buckets) skips the
        check that a cos trigger's bucket exists."""
        self._require_active(fn)
        if type not in TRIGGER_TYPES:
            if type in UNMODELLED_TRIGGER_TYPES:
                raise ScfError(
                    "UnsupportedOperation.Trigger",
                    f"Trigger type `{type}` is valid on SCF but not modelled by the emulator (cos, timer, http).",
                )
            raise ScfError(
                "InvalidParameterValue.Type", f"Trigger type `{type}` is not one of cos, cls, timer, ckafka, http."
            )
        if qualifier not in QUALIFIERS:
            raise ScfError(
                "ResourceNotFound.Qualifier", f"Version or alias `{qualifier}` of `{fn.name}` does not exist."
            )
        existing = next((t for t in self.triggers_of(fn.name) if self._same(t, type, name, desc)), None)
        if existing is not None and not replace:
            raise ScfError("ResourceInUse.Trigger", f"The {type} trigger `{name}` already exists on `{fn.name}`.")
        trig: Trigger
        if type == "cos":
            trig = self._cos_trigger(fn, name, desc, qualifier, enabled, require_bucket)
        elif type == "timer":
            trig = self._timer_trigger(fn, name, desc, qualifier, enabled, custom_argument)
        else:
            other = next((t for t in self.http_triggers if t.function == fn.name and t.qualifier == qualifier), None)
            if other is not None and other.name != name:
                raise ScfError(
                    "ResourceInUse.Trigger", f"`{fn.name}` already has a function URL for `{qualifier}` ({other.name})."
                )
            trig = self._http_trigger(fn, name, desc, qualifier, enabled, existing)
        trig.description = description
        with self._cond:
            self._remove(existing)
            if isinstance(trig, CosTrigger):
                self.cos_triggers.append(trig)
            elif isinstance(trig, TimerTrigger):
                self.timers.append(trig)
            else:
                self.http_triggers.append(trig)
        if isinstance(trig, CosTrigger):
            self.subscribe_cos()
        return trig

    def _remove(self, trig: Optional[Trigger]) -> None:
        if trig is None:
            return
        self.cos_triggers = [t for t in self.cos_triggers if t is not trig]
        self.timers = [t for t in self.timers if t is not trig]
        self.http_triggers = [t for t in self.http_triggers if t is not trig]

    def _cos_trigger(
        self, fn: Function, name: str, desc: str, qualifier: str, enabled: bool, require_bucket: bool
    ) -> CosTrigger:
        m = COS_DOMAIN.match(name)
        if not m:
            raise ScfError(
                "InvalidParameterValue.TriggerName",
                "A cos trigger's TriggerName is the bucket's XML API host "
                f"<bucket>.cos.<region>.myqcloud.com, not `{name}`.",
            )
        bucket, region = m.group("bucket"), m.group("region")
        if region != fn.region:
            raise ScfError(
                "InvalidParameterValue.TriggerName", f"The bucket is in {region}, the function in {fn.region}."
            )
        cos = getattr(self.cloud, "cos", None)
        buckets = getattr(cos, "buckets", None)
        if require_bucket and isinstance(buckets, dict) and bucket not in buckets:
            raise ScfError("ResourceNotFound.Cos", f"The bucket `{bucket}` does not exist.")
        try:
            parsed = json.loads(desc or "")
        except ValueError:
            raise ScfError("InvalidParameterValue.TriggerDesc", "TriggerDesc of a cos trigger must be JSON.") from None
        event = parsed.get("event") if isinstance(parsed, dict) else None
        flt = parsed.get("filter", {}) if isinstance(parsed, dict) else None
        if event not in COS_EVENTS or not isinstance(flt, dict):
            raise ScfError(
                "InvalidParameterValue.TriggerDesc",
                'TriggerDesc must be {"event": "cos:ObjectCreated:*", "filter": {"Prefix": "", "Suffix": ""}}.',
            )
        prefix, suffix = flt.get("Prefix") or "", flt.get("Suffix") or ""
        if not isinstance(prefix, str) or not isinstance(suffix, str):
            raise ScfError("InvalidParameterValue.TriggerDesc", "filter.Prefix and filter.Suffix must be strings.")
        for t in self.cos_triggers:  # quota doc 2022: one function per event + prefix/suffix rule of a bucket
            if (t.bucket, t.events, t.prefix, t.suffix) == (bucket, event, prefix, suffix) and t.function != fn.name:
                raise ScfError(
                    "InvalidParameterValue.CosNotifyRuleConflict",
                    f"The rule {event} {prefix!r}/{suffix!r} of {bucket} is bound to `{t.function}` already.",
                )
        canonical = json.dumps({"event": event, "filter": {"Prefix": prefix, "Suffix": suffix}})
        return CosTrigger(name, fn.name, bucket, region, str(event), prefix, suffix, enabled, qualifier, canonical)

    def _timer_trigger(
        self, fn: Function, name: str, desc: str, qualifier: str, enabled: bool, argument: str
    ) -> TimerTrigger:
        if not TIMER_NAME.match(name):
            raise ScfError("InvalidParameterValue.TriggerName", f"`{name}`: ≤ 100 of letters, digits, - and _.")
        try:
            cron = CronExpression.parse(desc or "")
        except CronError as exc:
            raise ScfError("InvalidParameterValue.TriggerDesc", f"TriggerDesc `{desc}`: {exc}") from None
        now = self.cloud.clock.now()
        return TimerTrigger(name, fn.name, cron, enabled, argument, cron.next_after(now), qualifier, desc)

    def _http_trigger(
        self, fn: Function, name: str, desc: str, qualifier: str, enabled: bool, existing: Optional[Trigger]
    ) -> HttpTrigger:
        if not TIMER_NAME.match(name):
            raise ScfError("InvalidParameterValue.TriggerName", f"`{name}`: ≤ 100 of letters, digits, - and _.")
        auth, intranet, extranet, cors = parse_http_desc(desc)
        # The endpoint never changes once created (doc 583/96099): an update keeps the url id.
        url_id = existing.url_id if isinstance(existing, HttpTrigger) else new_url_id()
        return HttpTrigger(name, fn.name, url_id, fn.region, auth, intranet, extranet, cors, enabled, qualifier)

    def update_trigger(
        self,
        fn: Function,
        type: str,
        name: str,
        *,
        desc: Optional[str] = None,
        qualifier: Optional[str] = None,
        enabled: Optional[bool] = None,
        custom_argument: Optional[str] = None,
        description: Optional[str] = None,
    ) -> Trigger:
        """UpdateTrigger (the SDK: timer, ckafka and http; cos is refused as the SDK says)."""
        if type not in ("timer", "http", "ckafka"):
            raise ScfError(
                "InvalidParameterValue.Type", f"UpdateTrigger supports timer, ckafka and http, not `{type}`."
            )
        trig = self.find_trigger(fn, type, name, qualifier)
        new = self.create_trigger(
            fn,
            type,
            name,
            desc if desc is not None else self.trigger_desc(trig, with_urls=False),
            qualifier=trig.qualifier,
            enabled=trig.enabled if enabled is None else enabled,
            custom_argument=(custom_argument if custom_argument is not None else getattr(trig, "message", "")),
            description=trig.description if description is None else description,
            replace=True,
        )
        new.added = trig.added
        return new

    @staticmethod
    def _same(t: Trigger, type: str, name: str, desc: Optional[str]) -> bool:
        """One trigger is (type, name); COS triggers of one bucket differ by event (DeleteTrigger needs it)."""
        if t.type != type or t.name != name:
            return False
        if isinstance(t, CosTrigger) and desc:
            try:
                event = json.loads(desc).get("event")
            except (ValueError, AttributeError):
                return True
            return event in (None, t.events)
        return True

    def find_trigger(
        self, fn: Function, type: str, name: str, qualifier: Optional[str] = None, desc: Optional[str] = None
    ) -> Trigger:
        for t in self.triggers_of(fn.name):
            if self._same(t, type, name, desc) and (not qualifier or qualifier == t.qualifier or type != "http"):
                return t
        raise ScfError("ResourceNotFound.Trigger", f"The {type} trigger `{name}` of `{fn.name}` does not exist.")

    def delete_trigger(
        self, fn: Function, type: str, name: str, qualifier: Optional[str] = None, desc: Optional[str] = None
    ) -> None:
        trig = self.find_trigger(fn, type, name, qualifier, desc)
        with self._cond:
            self._remove(trig)

    # -- function URLs -----------------------------------------------------------------------
    def url_hosts(self, trig: HttpTrigger) -> dict[str, str]:
        """The public (and private) hosts of a function URL, both documented forms (doc 583/96099, 583/69491)."""
        app, rid, region = self.cloud.app_id, trig.url_id, trig.region
        hosts: dict[str, str] = {}
        if trig.enable_extranet:
            hosts["extranet"] = f"{app}-{rid}.{region}.tencentscf.com"
            hosts["extranet_legacy"] = f"{app}-{rid}-{region}.scf.tencentcs.com"
        if trig.enable_intranet:
            hosts["intranet"] = f"{app}-{rid}.in.{region}.tencentscf.com"
            hosts["intranet_legacy"] = f"{app}-{rid}-{region}-in.scf.tencentcs.com"
        return hosts

    def trigger_desc(self, trig: Trigger, with_urls: bool = True) -> str:
        """The TriggerDesc ListTriggers/GetFunction show; http: NetConfig carries ExtranetUrl/IntranetUrl (⚠)."""
        if isinstance(trig, HttpTrigger):
            net: dict[str, Any] = {"EnableIntranet": trig.enable_intranet, "EnableExtranet": trig.enable_extranet}
            if with_urls:
                hosts = self.url_hosts(trig)
                # Server mode speaks no TLS: its URLs are http://, reached with the emulator as HTTP proxy
                # (as its presigned COS URLs are); in process, the real https:// form.
                scheme = "http" if self.cloud.base_url else "https"
                if "extranet" in hosts:
                    net["ExtranetUrl"] = f"{scheme}://{hosts['extranet']}"
                if "intranet" in hosts:
                    net["IntranetUrl"] = f"{scheme}://{hosts['intranet']}"
            out: dict[str, Any] = {"AuthType": trig.auth_type, "NetConfig": net}
            if trig.cors is not None:
                out["CorsConfig"] = trig.cors
            return json.dumps(out)
        return trig.desc

    def http_trigger_for_url(self, url_id: str) -> Optional[HttpTrigger]:
        with self._cond:
            return next((t for t in self.http_triggers if t.url_id == url_id), None)

    def _http_trigger_of(self, function_name: str) -> Optional[HttpTrigger]:
        fn = self.functions.get(function_name) or next(
            (f for f in self.functions.values() if f.key == function_name), None
        )
        if fn is None:
            return None
        return next((t for t in self.http_triggers if t.function == fn.name), None)

    def function_url(self, function_name: str) -> Optional[str]:
        """The function's public URL (no trailing slash): ``https://<appid>-<id>.<region>.tencentscf.com`` in
        process; ``http://`` and the same host in server mode (reach it with the emulator as HTTP proxy).
        None without an http trigger with extranet access."""
        trig = self._http_trigger_of(function_name)
        if trig is None or not trig.enable_extranet:
            return None
        scheme = "http" if self.cloud.base_url else "https"
        return f"{scheme}://{self.url_hosts(trig)['extranet']}"

    def local_function_url(self, function_name: str) -> Optional[str]:
        """Server mode only (emulator-only alias): ``http://127.0.0.1:PORT/_function-url/<id>``, no proxy needed."""
        trig = self._http_trigger_of(function_name)
        if trig is None or not self.cloud.base_url:
            return None
        return f"{self.cloud.base_url}{LOCAL_URL_PREFIX}{trig.url_id}"

    # -- deployment (the tests' shortcut) ----------------------------------------------------
    def deploy_app(
        self,
        path: Union[str, Path] = "serverless.yml",
        variables: Optional[Mapping[str, str]] = None,
        role_policy: Union[Mapping[str, Any], str, Path, None] = None,
        run_mode: Optional[str] = None,
    ) -> App:
        """Deploy a multi-scf serverless.yml: functions from the working tree, COS, timer and http triggers.

        Functions and triggers are made by ``create_function``/``create_trigger``, the methods the SCF
        API actions use; the code is read in place (``DirCode``) and the functions are Active at once.
        """
        spec = load_app(path, dict(variables or {}), self.cloud.app_id, self.cloud.region)
        if spec.region != self.cloud.region:
            raise DeployError(f"inputs.region: {spec.region} but this emulated cloud is in {self.cloud.region}")
        scope = policy_to_scope(role_policy, self.cloud.app_id)
        try:
            return self._install(spec, scope, run_mode)
        except ScfError as exc:
            raise DeployError(f"{spec.path}: {exc.code}: {exc.message}") from None

    def _install(self, spec: AppSpec, scope: Optional[Scope], run_mode: Optional[str]) -> App:
        by_key: dict[str, Function] = {}
        for key, fs in spec.functions.items():
            by_key[key] = self.create_function(
                fs.name,
                handler=fs.handler,
                code=DirCode(fs.code_root),
                runtime=fs.runtime,
                memory_mb=fs.memory_mb,
                timeout_s=fs.timeout_s,
                environment=fs.environment,
                role=fs.role,
                namespace=fs.namespace,
                region=fs.region,
                retry_num=fs.retry_num,
                key=key,
                run_mode=run_mode,
                role_scope=scope,
                settle_s=0,
                replace=True,
            )
        cos: list[CosTrigger] = []
        for c in spec.cos_triggers:
            desc = json.dumps({"event": c.events, "filter": {"Prefix": c.prefix, "Suffix": c.suffix}})
            host = f"{c.bucket}.cos.{c.region}.myqcloud.com"
            trig = self.create_trigger(
                by_key[c.function_key],
                "cos",
                host,
                desc,
                qualifier=c.qualifier,
                enabled=c.enabled,
                require_bucket=False,
            )
            assert isinstance(trig, CosTrigger)
            cos.append(trig)
        timers: list[TimerTrigger] = []
        for t in spec.timers:
            trig = self.create_trigger(
                by_key[t.function_key], "timer", t.name, t.cron.text, enabled=t.enabled, custom_argument=t.message
            )
            assert isinstance(trig, TimerTrigger)
            timers.append(trig)
        http: list[HttpTrigger] = []
        for h in spec.http_triggers:
            trig = self.create_trigger(
                by_key[h.function_key], "http", h.name, json.dumps(h.desc), qualifier=h.qualifier
            )
            assert isinstance(trig, HttpTrigger)
            http.append(trig)
        first = http[0].function if http else None
        app = App(
            name=spec.name,
            stage=spec.stage,
            path=spec.path,
            functions=by_key,
            cos_triggers=cos,
            timers=timers,
            api_url=self.function_url(first) if first else None,
            http_triggers=http,
            local_api_url=self.local_function_url(first) if first else None,
        )
        self.apps.append(app)
        return app

    def subscribe_cos(self) -> None:
        """Listen to COS object events (once COS is installed)."""
        cos = getattr(self.cloud, "cos", None)
        if cos is not None and not self._subscribed and hasattr(cos, "subscribe"):
            cos.subscribe(self._on_cos_event)
            self._subscribed = True

    def cold_start(self, name: Optional[str] = None) -> None:
        """Forget loaded handler modules and warm instances so the next run imports afresh."""
        self._cache.drop(self.function(name).name if name else None)
        self.workers.drop(self.function(name).code_root if name else None)

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
                outcome = runtime.run_in_warm_instance(
                    self.workers,
                    fn.code_root,
                    fn.handler_file,
                    fn.handler_func,
                    event,
                    ctx,
                    runtime.child_environment(env, fn.code_root, self.cloud.base_url),
                    fn.timeout_s,
                    on_start,
                    python=fn.python,
                    isolated=fn.isolated,
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
        """A synchronous invocation: never retried (tencent-scf.md §4.5). When the memory of everything running
        plus this function's would exceed the account's quota (tencent-scf.md §4.4: concurrency is a pool of MB
        shared by all functions), it is refused at once with status 432 (ResourceLimitReached, doc 583/51585)."""
        fn = self.get(name, namespace)
        if fn is None:
            raise KeyError(name)
        request_id = str(uuid.uuid4())
        with self._cond:
            if self._running_mb + fn.memory_mb > self.quota_mb:
                rec = InvocationRecord(
                    function=fn.name,
                    request_id=request_id,
                    attempt=1,
                    source=source,
                    invocation_type="sync",
                    event=event,
                    mode=fn.run_mode or self.run_mode,
                    status="throttled",
                    started=time.time(),
                    ended=time.time(),
                )
                outcome = runtime.Outcome("throttled", error=runtime.throttle_error(request_id, self.quota_mb))
                rec.error = outcome.error_text
                self.invocations.append(rec)
                return rec, outcome
            self._running_mb += fn.memory_mb
        try:
            return self._run_attempt(fn, event, request_id, 1, source, "sync")
        finally:
            with self._cond:
                self._running_mb -= fn.memory_mb
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
            self._running_mb += self._memory_of(work.function)
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
                self._running_mb -= self._memory_of(work.function)
                self._cond.notify_all()

    def _memory_of(self, name: str) -> int:
        fn = self.functions.get(name)
        return fn.memory_mb if fn is not None else 0

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
        self.workers.drop()
        if self._installed_environ is not None:
            runtime.uninstall_thread_environ(self._installed_environ)
            self._installed_environ = None
        if self._code_tmp is not None:
            shutil.rmtree(self._code_tmp, ignore_errors=True)
            self._code_tmp = None

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
