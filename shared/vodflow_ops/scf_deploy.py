"""The deployer on the official SCF API: serverless.yml is the declaration, the cloud the state.

:func:`desired_state` reads serverless.yml (the multi-scf format, parsed by the same reader the
emulator's ``deploy_app`` uses, so both understand one file the same way) into the functions and
triggers it declares, with the code package's digest. :func:`current_state` asks SCF what exists
(GetFunction, GetFunctionEventInvokeConfig, ListTriggers). :func:`make_plan` compares the two and
says, per resource, create, update (and what changed) or unchanged; :class:`Applier` carries out a
plan with CreateFunction / UpdateFunctionCode / UpdateFunctionConfiguration /
UpdateFunctionEventInvokeConfig / CreateTrigger / UpdateTrigger, waiting for ``Active`` between calls
on one function (SCF refuses changes to a function that is ``Creating`` or ``Updating``).

Idempotent by construction: the plan is derived from the cloud each time, so a deploy killed at any
line is finished by the next one, and a second deploy with nothing changed plans no change and
makes no create or update call. Which code a function runs is recorded in its Description (SCF
returns no code digest): ``Deployed by vodflow, code sha256 <hex>``; the same marker tells
:func:`destroy` which functions this deployment created, so it never removes a stranger's.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

MARKER = "Deployed by vodflow"
ZIP_INLINE_LIMIT = 8 * 1024 * 1024  # base64 ZipFile stays under API 3.0's 10 MB request body (FIDELITY ⚠)
CODE_UNPACKED_LIMIT = 500 * 1024 * 1024  # "code ≤ 500 MB uncompressed per version" (tencent-scf.md §4.4)
WAIT_TIMEOUT_S = 180.0


class DeployError(Exception):
    """A declaration or a step that cannot go on; the message names the field or the call, and the fix."""


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class CodePackage:
    """The built zip: its bytes' digest decides whether a function's code changes."""

    path: Path
    sha256: str
    size: int
    unpacked_size: int

    @classmethod
    def read(cls, path: Path) -> CodePackage:
        data = path.read_bytes()
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
        return cls(path, hashlib.sha256(data).hexdigest(), len(data), unpacked)

    @property
    def description(self) -> str:
        # SCF allows letters, digits, spaces, commas and full stops in a Description (CreateFunctionRequest).
        return f"{MARKER}, code sha256 {self.sha256}"

    def check_limits(self) -> None:
        if self.unpacked_size > CODE_UNPACKED_LIMIT:
            raise DeployError(
                f"code package {self.path.name}: {self.unpacked_size / 1e6:.0f} MB unpacked, over SCF's "
                f"{CODE_UNPACKED_LIMIT // 2**20} MB per function version. Fix: drop dependencies from requirements.txt."
            )


@dataclass(frozen=True)
class FunctionWant:
    key: str  # the serverless.yml key
    name: str
    namespace: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    environment: Mapping[str, str]
    role: str
    retry_num: int
    description: str


@dataclass(frozen=True)
class TriggerWant:
    function: str  # function name
    namespace: str
    type: str
    name: str
    desc: str  # TriggerDesc as sent
    qualifier: str
    enable: bool


@dataclass(frozen=True)
class DesiredState:
    region: str
    functions: tuple[FunctionWant, ...]
    triggers: tuple[TriggerWant, ...]


@dataclass
class FunctionHave:
    name: str
    status: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    role: str
    description: str
    retry_num: Optional[int]
    triggers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """One line of the plan: an action on a resource, and what differs."""

    action: Action
    kind: str  # function | code | configuration | retries | trigger
    target: str
    changes: tuple[str, ...] = ()
    want: Any = None

    def line(self) -> str:
        what = f" ({', '.join(self.changes)})" if self.changes else ""
        return f"{self.action.value:<9} {self.kind} {self.target}{what}"


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action is not Action.UNCHANGED)

    def lines(self) -> list[str]:
        return [s.line() for s in self.steps]

    def summary(self) -> str:
        count = {a: sum(1 for s in self.steps if s.action is a) for a in Action}
        if not self.changes:
            return f"no change: {count[Action.UNCHANGED]} resources are as declared"
        return (
            f"{count[Action.CREATE]} to create, {count[Action.UPDATE]} to update, {count[Action.UNCHANGED]} unchanged"
        )


# -- the declaration --------------------------------------------------------------------------------
def desired_state(yml: Path, variables: Mapping[str, str], package: CodePackage, package_tree: Path) -> DesiredState:
    """Everything serverless.yml declares; every error names the field, before any cloud call."""
    from tencent_emulator.scf.deploy import DeployError as YmlError  # noqa: PLC0415
    from tencent_emulator.scf.deploy import load_app  # noqa: PLC0415

    try:
        app = load_app(yml, variables, app_id="", default_region=variables.get("VODFLOW_REGION", ""))
    except YmlError as exc:
        raise DeployError(str(exc)) from None
    package.check_limits()
    functions = []
    for key, spec in app.functions.items():
        module = spec.handler.rsplit(".", 1)[0]
        if not (package_tree / module.replace(".", "/")).with_suffix(".py").is_file():
            raise DeployError(
                f"inputs.functions.{key}.handler: {spec.handler!r} is not in the built package "
                f"({package.path.name}). Fix: check functions/{key}/index.py and `make package`."
            )
        if not spec.role:
            raise DeployError(f"inputs.functions.{key}.role: no execution role (set inputs.role, VODFLOW_ROLE)")
        functions.append(
            FunctionWant(
                key=key,
                name=spec.name,
                namespace=spec.namespace,
                handler=spec.handler,
                runtime=spec.runtime,
                memory_mb=spec.memory_mb,
                timeout_s=int(spec.timeout_s),
                environment=dict(spec.environment),
                role=str(spec.role),
                retry_num=spec.retry_num,
                description=package.description,
            )
        )
    by_key = {f.key: f for f in functions}
    triggers: list[TriggerWant] = []
    for t in app.cos_triggers:
        fn = by_key[t.function_key]
        desc = {"event": t.events, "filter": {"Prefix": t.prefix, "Suffix": t.suffix}}
        triggers.append(
            TriggerWant(
                fn.name,
                fn.namespace,
                "cos",
                f"{t.bucket}.cos.{t.region}.myqcloud.com",
                json.dumps(desc, separators=(",", ":"), sort_keys=True),
                t.qualifier,
                t.enabled,
            )
        )
    for timer in app.timers:
        fn = by_key[timer.function_key]
        triggers.append(
            TriggerWant(fn.name, fn.namespace, "timer", timer.name, timer.cron.text, "$DEFAULT", timer.enabled)
        )
    for http in app.http_triggers:
        fn = by_key[http.function_key]
        http_desc = json.dumps(http.desc, separators=(",", ":"), sort_keys=True)
        triggers.append(TriggerWant(fn.name, fn.namespace, "http", http.name, http_desc, http.qualifier, True))
    return DesiredState(app.region, tuple(functions), tuple(triggers))


# -- the cloud ----------------------------------------------------------------------------------------
class Scf:
    """The SCF calls the deployer makes, through tencentcloud-sdk-python's ScfClient."""

    def __init__(self, client: Any) -> None:
        from tencentcloud.scf.v20180416 import models  # noqa: PLC0415

        self.client = client
        self.models = models

    def call(self, action: str, **params: Any) -> Any:
        request = getattr(self.models, f"{action}Request")()
        request.from_json_string(json.dumps({k: v for k, v in params.items() if v is not None}))
        return getattr(self.client, action)(request)

    def get_function(self, name: str, namespace: str) -> Optional[Any]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
            TencentCloudSDKException,
        )

        try:
            return self.call("GetFunction", FunctionName=name, Namespace=namespace)
        except TencentCloudSDKException as exc:
            if str(exc.code or "").startswith("ResourceNotFound"):
                return None
            raise

    def retry_num(self, name: str, namespace: str) -> Optional[int]:
        reply = self.call("GetFunctionEventInvokeConfig", FunctionName=name, Namespace=namespace)
        config = reply.AsyncTriggerConfig
        retries = (config.RetryConfig or []) if config is not None else []
        return int(retries[0].RetryNum) if retries and retries[0].RetryNum is not None else None

    def triggers(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """The function's triggers; none for a function that does not exist (yet)."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
            TencentCloudSDKException,
        )

        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            try:
                reply = self.call("ListTriggers", FunctionName=name, Namespace=namespace, Offset=offset, Limit=100)
            except TencentCloudSDKException as exc:
                if str(exc.code or "").startswith("ResourceNotFound"):
                    return out
                raise
            page = [json.loads(t.to_json_string()) for t in reply.Triggers or []]
            out += page
            offset += len(page)
            if not page or offset >= int(reply.TotalCount or 0):
                return out

    def wait_active(self, name: str, namespace: str, timeout_s: float = WAIT_TIMEOUT_S) -> Any:
        """Poll GetFunction until ``Active``; ``*Failed`` raises with the service's reasons."""
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        while True:
            info = self.get_function(name, namespace)
            if info is None:
                raise DeployError(f"function {name} disappeared while waiting for it to become Active")
            if info.Status == "Active":
                return info
            if str(info.Status).endswith("Failed"):
                reasons = "; ".join(f"[{r.ErrorCode}] {r.ErrorMessage}" for r in info.StatusReasons or [])
                raise DeployError(
                    f"function {name} is {info.Status}: {reasons or info.StatusDesc or 'no reason given'}"
                )
            if time.monotonic() > deadline:
                raise DeployError(f"function {name} is still {info.Status} after {timeout_s:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def current_state(scf: Scf, desired: DesiredState) -> dict[str, FunctionHave]:
    """What exists of the declared functions (absent ones are missing from the result)."""
    out: dict[str, FunctionHave] = {}
    for want in desired.functions:
        info = scf.get_function(want.name, want.namespace)
        if info is None:
            continue
        env = {v.Key: v.Value or "" for v in ((info.Environment.Variables or []) if info.Environment else [])}
        out[want.name] = FunctionHave(
            name=want.name,
            status=str(info.Status),
            handler=str(info.Handler or ""),
            runtime=str(info.Runtime or ""),
            memory_mb=int(info.MemorySize or 0),
            timeout_s=int(info.Timeout or 0),
            environment=env,
            role=str(info.Role or ""),
            description=str(info.Description or ""),
            retry_num=scf.retry_num(want.name, want.namespace),
            triggers=scf.triggers(want.name, want.namespace),
        )
    return out


def _contains(have: Any, want: Any) -> bool:
    """Every field we declared is there with our value (the service may add fields of its own)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _contains(have[k], v) for k, v in want.items())
    if isinstance(want, list) and isinstance(have, list):
        return sorted(map(json.dumps, want)) == sorted(map(json.dumps, have))
    return bool(have == want)


def _same_desc(have: str, want: str) -> bool:
    try:
        return _contains(json.loads(have), json.loads(want))
    except ValueError:
        return have.strip() == want.strip()


def _config_changes(want: FunctionWant, have: FunctionHave) -> tuple[str, ...]:
    changes = []
    if have.handler != want.handler:
        changes.append("handler")
    if have.memory_mb != want.memory_mb:
        changes.append(f"memory {have.memory_mb} → {want.memory_mb} MB")
    if have.timeout_s != want.timeout_s:
        changes.append(f"timeout {have.timeout_s} → {want.timeout_s} s")
    if have.role != want.role:
        changes.append(f"role {have.role or '-'} → {want.role}")
    names = sorted(
        k for k in {*have.environment, *want.environment} if have.environment.get(k) != want.environment.get(k)
    )
    if names:
        changes.append("environment " + ", ".join(names))  # names only: values may be secrets
    return tuple(changes)


def make_plan(desired: DesiredState, current: Mapping[str, FunctionHave]) -> Plan:
    steps: list[Step] = []
    for want in desired.functions:
        have = current.get(want.name)
        if have is None:
            steps.append(Step(Action.CREATE, "function", want.name, (f"{want.runtime}, {want.memory_mb} MB",), want))
            steps.append(Step(Action.CREATE, "retries", want.name, (f"{want.retry_num} async retries",), want))
            continue
        if have.runtime != want.runtime:
            raise DeployError(
                f"function {want.name}: runtime {have.runtime} cannot change to {want.runtime} (SCF fixes it at "
                "creation). Fix: `make destroy`, then `make deploy`."
            )
        if have.description != want.description:
            steps.append(Step(Action.UPDATE, "code", want.name, ("new package",), want))
        else:
            steps.append(Step(Action.UNCHANGED, "code", want.name, (), want))
        config = _config_changes(want, have)
        steps.append(Step(Action.UPDATE if config else Action.UNCHANGED, "configuration", want.name, config, want))
        if have.retry_num != want.retry_num:
            steps.append(
                Step(Action.UPDATE, "retries", want.name, (f"{have.retry_num} → {want.retry_num} async retries",), want)
            )
        else:
            steps.append(Step(Action.UNCHANGED, "retries", want.name, (), want))
    for trig in desired.triggers:
        have_fn = current.get(trig.function)
        existing = next(
            (
                t
                for t in (have_fn.triggers if have_fn else [])
                if t.get("Type") == trig.type and t.get("TriggerName") == trig.name
            ),
            None,
        )
        target = f"{trig.type} {trig.name} → {trig.function}"
        if existing is None:
            steps.append(Step(Action.CREATE, "trigger", target, (), trig))
            continue
        changes = []
        if not _same_desc(str(existing.get("TriggerDesc") or ""), trig.desc):
            changes.append("configuration")
        if str(existing.get("Enable")) not in (("1", "OPEN", "True") if trig.enable else ("0", "CLOSE", "False")):
            changes.append("enabled" if trig.enable else "disabled")
        steps.append(Step(Action.UPDATE if changes else Action.UNCHANGED, "trigger", target, tuple(changes), trig))
    return Plan(tuple(steps))


# -- carrying out a plan ----------------------------------------------------------------------------
@dataclass
class CodeUpload:
    """How the code reaches SCF: base64 in the request when small, else a COS object the deployer wrote."""

    package: CodePackage
    region: str
    put_object: Optional[Callable[[str, bytes], tuple[str, str]]] = None  # (key, bytes) → (bucket short name, key)
    _cos: Optional[dict[str, str]] = None

    def code(self) -> dict[str, str]:
        if self.package.size <= ZIP_INLINE_LIMIT:
            return {"ZipFile": base64.b64encode(self.package.path.read_bytes()).decode("ascii")}
        if self._cos is None:
            if self.put_object is None:
                raise DeployError(f"the package is {self.package.size / 1e6:.1f} MB and no COS bucket was given for it")
            bucket, key = self.put_object(f"deploy/{self.package.sha256}.zip", self.package.path.read_bytes())
            self._cos = {
                "CosBucketName": bucket,
                "CosObjectName": "/" + key.lstrip("/"),
                "CosBucketRegion": self.region,
            }
        return dict(self._cos)


def _env(want: FunctionWant) -> dict[str, Any]:
    return {"Variables": [{"Key": k, "Value": v} for k, v in want.environment.items()]}


class Applier:
    """Carries out the steps in order; ``echo`` reports each as it completes."""

    def __init__(self, scf: Scf, upload: CodeUpload, echo: Callable[[str], None] = print) -> None:
        self.scf = scf
        self.upload = upload
        self.echo = echo

    def apply(self, plan: Plan) -> None:
        for step in plan.changes:
            getattr(self, f"_{step.action.value}_{step.kind}")(step.want)
            self.echo(f"  done: {step.line()}")

    # Each step is safe to repeat: a create that fails because the resource exists is found by the next
    # plan (which then updates it), and every update sets absolute values.
    def _create_function(self, want: FunctionWant) -> None:
        self.scf.call(
            "CreateFunction",
            FunctionName=want.name,
            Namespace=want.namespace,
            Code=self.upload.code(),
            Handler=want.handler,
            Runtime=want.runtime,
            MemorySize=want.memory_mb,
            Timeout=want.timeout_s,
            Environment=_env(want),
            Role=want.role,
            Description=want.description,
            Type="Event",
        )
        self.scf.wait_active(want.name, want.namespace)

    def _update_code(self, want: FunctionWant) -> None:
        self.scf.wait_active(want.name, want.namespace)
        code = self.upload.code()
        self.scf.call(
            "UpdateFunctionCode", FunctionName=want.name, Namespace=want.namespace, Handler=want.handler, **code
        )
        self.scf.wait_active(want.name, want.namespace)
        # The code's digest lives in the Description: set it only once the code is in place.
        self.scf.call(
            "UpdateFunctionConfiguration",
            FunctionName=want.name,
            Namespace=want.namespace,
            Description=want.description,
        )
        self.scf.wait_active(want.name, want.namespace)

    def _update_configuration(self, want: FunctionWant) -> None:
        self.scf.wait_active(want.name, want.namespace)
        self.scf.call(
            "UpdateFunctionConfiguration",
            FunctionName=want.name,
            Namespace=want.namespace,
            MemorySize=want.memory_mb,
            Timeout=want.timeout_s,
            Environment=_env(want),
            Role=want.role,
        )
        info = self.scf.get_function(want.name, want.namespace)
        if info is not None and info.Handler != want.handler:
            self.scf.wait_active(want.name, want.namespace)
            self.scf.call(
                "UpdateFunctionCode", FunctionName=want.name, Namespace=want.namespace, Handler=want.handler,
                **self.upload.code(),
            )  # fmt: skip
        self.scf.wait_active(want.name, want.namespace)

    def _retries(self, want: FunctionWant) -> None:
        self.scf.call(
            "UpdateFunctionEventInvokeConfig",
            FunctionName=want.name,
            Namespace=want.namespace,
            AsyncTriggerConfig={"RetryConfig": [{"RetryNum": want.retry_num}], "MsgTTL": 21600},
        )

    _create_retries = _retries
    _update_retries = _retries

    def _trigger(self, action: str, want: TriggerWant) -> None:
        self.scf.wait_active(want.function, want.namespace)
        self.scf.call(
            action,
            FunctionName=want.function,
            Namespace=want.namespace,
            TriggerName=want.name,
            Type=want.type,
            TriggerDesc=want.desc,
            Qualifier=want.qualifier,
            Enable="OPEN" if want.enable else "CLOSE",
        )

    def _create_trigger(self, want: TriggerWant) -> None:
        self._trigger("CreateTrigger", want)

    def _update_trigger(self, want: TriggerWant) -> None:
        self._trigger("UpdateTrigger", want)


# -- the function URL and destroy -------------------------------------------------------------------
def function_urls(scf: Scf, desired: DesiredState) -> dict[str, str]:
    """The URL of each declared http trigger, as the service reports it."""
    out: dict[str, str] = {}
    for trig in desired.triggers:
        if trig.type != "http":
            continue
        for t in scf.triggers(trig.function, trig.namespace):
            if t.get("Type") == "http" and t.get("TriggerName") == trig.name:
                url = _find_url(t)
                if url:
                    out[trig.function] = url
    return out


def _find_url(value: Any) -> Optional[str]:
    """The first ``https://``/``http://`` string in a trigger's description (its place varies by API field)."""
    if isinstance(value, str):
        if value.startswith(("https://", "http://")):
            return value
        if value.startswith("{"):
            try:
                return _find_url(json.loads(value))
            except ValueError:
                return None
        return None
    if isinstance(value, dict):
        for v in value.values():
            found = _find_url(v)
            if found:
                return found
    if isinstance(value, list):
        for v in value:
            found = _find_url(v)
            if found:
                return found
    return None


@dataclass(frozen=True)
class Removal:
    function: str
    namespace: str
    triggers: tuple[dict[str, Any], ...]


def destroy_plan(scf: Scf, names: Sequence[tuple[str, str]]) -> tuple[list[Removal], list[str]]:
    """The declared functions that exist and carry our marker (and their triggers); others are reported, kept."""
    removals: list[Removal] = []
    kept: list[str] = []
    for name, namespace in names:
        info = scf.get_function(name, namespace)
        if info is None:
            continue
        if not str(info.Description or "").startswith(MARKER):
            kept.append(f"{name} (not created by vodflow's deploy: its description lacks {MARKER!r})")
            continue
        removals.append(Removal(name, namespace, tuple(scf.triggers(name, namespace))))
    return removals, kept


def destroy(scf: Scf, removals: Sequence[Removal], echo: Callable[[str], None] = print) -> None:
    """Triggers first (so nothing fires a half-removed function), then the function. Repeatable: a missing
    resource is already gone."""
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
        TencentCloudSDKException,
    )

    for r in removals:
        for t in r.triggers:
            try:
                scf.call(
                    "DeleteTrigger",
                    FunctionName=r.function,
                    Namespace=r.namespace,
                    TriggerName=t.get("TriggerName"),
                    Type=t.get("Type"),
                    TriggerDesc=t.get("TriggerDesc") if t.get("Type") == "cos" else None,
                    Qualifier=t.get("Qualifier") or None,
                )
            except TencentCloudSDKException as exc:
                if not str(exc.code or "").startswith("ResourceNotFound"):
                    raise
            echo(f"  deleted trigger {t.get('Type')} {t.get('TriggerName')} of {r.function}")
        try:
            scf.wait_active(r.function, r.namespace)
            scf.call("DeleteFunction", FunctionName=r.function, Namespace=r.namespace)
        except TencentCloudSDKException as exc:
            if not str(exc.code or "").startswith("ResourceNotFound"):
                raise
        echo(f"  deleted function {r.function}")
