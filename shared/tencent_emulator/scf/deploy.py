"""Reading a project's serverless.yml (the Tencent ``multi-scf`` component format) into plain specs.

Source: reference/tencent-scf.md §5.3 (MULTI-COMP ``docs/configure.md``) for the layout and the
per-function fields, §5.2 for the defaults and validation ranges shared with the ``scf``
component, §1.4 for COS triggers, http-entry-and-deploy.md §1 and tencent-component-toolkit
``src/modules/triggers/http.ts`` for ``type: http`` (the function URL). ``type: apigw`` is refused:
API Gateway was retired on 2025-06-30. Nothing here touches the cloud: the SCF model turns these
specs into functions and triggers through the same methods the SCF API actions use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from tencent_emulator.core.iam import Scope, Statement
from tencent_emulator.scf.cron import CronError, CronExpression

ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$")
TRIGGER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,59}$")
COS_DOMAIN = re.compile(r"^(?P<bucket>[a-z0-9-]+-\d+)\.cos\.(?P<region>[a-z0-9-]+)\.myqcloud\.com$")
BARE_BUCKET = re.compile(r"^[a-z0-9-]+-\d+$")
COS_EVENTS = {
    "cos:ObjectCreated:*",
    "cos:ObjectCreated:Put",
    "cos:ObjectCreated:Post",
    "cos:ObjectCreated:Copy",
    "cos:ObjectCreated:CompleteMultipartUpload",
    "cos:ObjectCreated:Origin",
    "cos:ObjectCreated:Replication",
    "cos:ObjectRemove:*",
    "cos:ObjectRemove:Delete",
    "cos:ObjectRemove:DeleteMarkerCreated",
    "cos:ObjectRestore:Post",
    "cos:ObjectRestore:Completed",
}
DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_RETRY_NUM = 2
APIGW_RETIRED = (
    "API Gateway was retired on 2025-06-30 (no new API Gateway triggers since 2024-07-01); "
    "use `type: http` (a function URL: parameters {name, qualifier, authType, netConfig, corsConfig})"
)


class DeployError(ValueError):
    """The serverless.yml cannot be deployed; the message names the field and the fix."""


@dataclass
class FunctionSpec:
    key: str
    name: str
    handler: str
    code_root: Path
    handler_file: Path
    handler_func: str
    runtime: str
    namespace: str
    region: str
    memory_mb: int
    timeout_s: float
    retry_num: int
    environment: dict[str, str]
    role: Optional[str] = None


@dataclass
class CosTriggerSpec:
    name: str
    function_key: str
    bucket: str  # name-appid
    region: str
    events: str
    prefix: str
    suffix: str
    enabled: bool
    qualifier: str = "$DEFAULT"


@dataclass
class TimerTriggerSpec:
    name: str
    function_key: str
    cron: CronExpression
    enabled: bool
    message: str = ""


@dataclass
class HttpTriggerSpec:
    """A function URL: the CreateTrigger ``TriggerDesc`` the toolkit would send (http.ts ``formatInputs``)."""

    name: str
    function_key: str
    qualifier: str
    desc: dict[str, Any]


@dataclass
class AppSpec:
    path: Path
    app: str
    stage: str
    name: str
    region: str
    functions: dict[str, FunctionSpec]
    cos_triggers: list[CosTriggerSpec]
    timers: list[TimerTriggerSpec]
    http_triggers: list[HttpTriggerSpec] = field(default_factory=list)


# -- ${env:...} ------------------------------------------------------------------------------
DEFAULTS_GROUP = "tencent_emulator.deploy_defaults"


def with_declared_defaults(variables: Mapping[str, str]) -> dict[str, str]:
    """``variables`` with the defaults an installed app declares for what they leave unset.

    An app that fills defaults at deploy time (``make deploy``) declares its function in the
    ``tencent_emulator.deploy_defaults`` entry-point group: ``f(variables) -> every variable it knows``.
    The emulator never imports the app; it asks whoever declared one, so ``deploy_app("serverless.yml",
    variables={...})`` deploys as the app's own deployer would with the same variables.
    """
    from importlib.metadata import entry_points  # noqa: PLC0415

    out = dict(variables)
    for ep in entry_points(group=DEFAULTS_GROUP):
        out.update({str(k): str(v) for k, v in ep.load()(dict(variables)).items()})
    return out


def substitute(value: Any, variables: Mapping[str, str], where: str = "") -> Any:
    """Replace ``${env:NAME}`` everywhere; an unset variable is an error naming it and where it is used."""
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in variables:
                raise DeployError(f"serverless.yml: ${{env:{name}}} is not set (used at {where or 'top level'})")
            return str(variables[name])

        return ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute(v, variables, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


# -- role policy -----------------------------------------------------------------------------
def policy_to_scope(policy: Union[Mapping[str, Any], str, Path, None], app_id: str) -> Optional[Scope]:
    """Map a CAM policy (dict, JSON text or a path to a JSON file) to an iam Scope; None = unrestricted.

    CAM resources ``qcs::cos:<region>:uid/<appid>:<bucket>/<key>`` become ``<bucket>/<key>``;
    ``qcs::cos:<region>:uid/<appid>:prefix//<appid>/<short bucket>/<key>`` becomes
    ``<short bucket>-<appid>/<key>``; any other resource (VOD, SCF, ``*``) becomes ``*``.
    Only ``allow`` statements exist in the emulator's Scope, so ``deny`` is refused.
    """
    if policy is None:
        return None
    if isinstance(policy, Path) or (isinstance(policy, str) and not policy.lstrip().startswith("{")):
        policy = json.loads(Path(policy).read_text())
    elif isinstance(policy, str):
        policy = json.loads(policy)
    assert isinstance(policy, Mapping)
    statements: list[Statement] = []
    raw_statements = policy.get("statement") or policy.get("Statement") or []
    if not isinstance(raw_statements, list) or not raw_statements:
        raise DeployError("role policy: 'statement' must be a non-empty list")
    for i, st in enumerate(raw_statements):
        effect = str(st.get("effect", "")).lower()
        if effect != "allow":
            raise DeployError(f"role policy statement[{i}]: only effect 'allow' is supported, not {effect!r}")
        actions = st.get("action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        resources = st.get("resource", ["*"])
        resources = [resources] if isinstance(resources, str) else list(resources)
        statements.append(
            Statement(
                actions=tuple(a.split("/", 1)[1] if a.startswith("name/") else a for a in actions),
                resources=tuple(_cam_resource(r, app_id) for r in resources),
            )
        )
    return Scope(tuple(statements))


def _cam_resource(resource: str, app_id: str) -> str:
    if not resource.startswith("qcs::cos:"):
        return "*"
    tail = resource.split(":", 5)[-1]  # after "qcs::cos:<region>:uid/<appid>:"
    if tail.startswith("prefix//"):
        _, _, rest = tail.partition("prefix//")
        appid, short, key = [*rest.split("/", 2), "", ""][:3]
        return f"{short}-{appid}/{key or '*'}"
    return tail


# -- the yml ---------------------------------------------------------------------------------
def load_app(path: Union[str, Path], variables: Mapping[str, str], app_id: str, default_region: str) -> AppSpec:
    """Parse and validate a multi-scf serverless.yml; every error names the field at fault."""
    yml = Path(path).resolve()
    if not yml.is_file():
        raise DeployError(f"{yml}: no such file")
    raw = yaml.safe_load(yml.read_text())
    if not isinstance(raw, dict):
        raise DeployError(f"{yml}: not a YAML mapping")
    doc = substitute(raw, with_declared_defaults(variables))
    if doc.get("component") != "multi-scf":
        raise DeployError(f"{yml}: component must be 'multi-scf', not {doc.get('component')!r}")
    inputs = doc.get("inputs") or {}
    app, stage, name = str(doc.get("app") or doc.get("name") or ""), str(doc.get("stage") or "dev"), str(doc["name"])
    region = str(inputs.get("region") or default_region)
    src = inputs.get("src") or {}
    src_dir = src.get("src") if isinstance(src, dict) else src
    code_root = (yml.parent / str(src_dir or ".")).resolve()
    if not code_root.is_dir():
        raise DeployError(f"inputs.src.src: {code_root} is not a directory")
    base_env = _env_list(inputs.get("environments"), "inputs.environments")
    functions: dict[str, FunctionSpec] = {}
    for key, conf in (inputs.get("functions") or {}).items():
        functions[key] = _function(key, conf or {}, inputs, base_env, code_root, app, stage, name, region)
    if not functions:
        raise DeployError("inputs.functions: no functions declared")
    names = [f.name for f in functions.values()]
    if len(set(names)) != len(names):
        raise DeployError(f"inputs.functions: duplicate function names {names}")
    cos: list[CosTriggerSpec] = []
    timers: list[TimerTriggerSpec] = []
    http: list[HttpTriggerSpec] = []
    for i, trig in enumerate(inputs.get("triggers") or []):
        where = f"inputs.triggers[{i}]"
        kind = trig.get("type")
        params = trig.get("parameters") or {}
        if kind == "apigw":
            raise DeployError(f"{where}.type: 'apigw': {APIGW_RETIRED}")
        if kind not in ("cos", "timer", "http"):
            raise DeployError(f"{where}.type: unsupported trigger type {kind!r} (cos, timer, http)")
        fkey = trig.get("function")
        if fkey not in functions:
            raise DeployError(f"{where}.function: {fkey!r} is not a key of inputs.functions")
        if kind == "cos":
            cos.append(_cos_trigger(params, str(fkey), region, where))
        elif kind == "timer":
            timers.append(_timer_trigger(params, str(fkey), where))
        else:
            http.append(_http_trigger(params, str(fkey), where))
    return AppSpec(yml, app, stage, name, region, functions, cos, timers, http)


def _env_list(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise DeployError(f"{where}: must be a list of {{key, value}}")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict) or "key" not in item:
            raise DeployError(f"{where}[{i}]: must be {{key, value}}")
        out[str(item["key"])] = "" if item.get("value") is None else str(item["value"])
    return out


def _function(
    key: str,
    conf: dict[str, Any],
    inputs: dict[str, Any],
    base_env: dict[str, str],
    code_root: Path,
    app: str,
    stage: str,
    name: str,
    region: str,
) -> FunctionSpec:
    where = f"inputs.functions.{key}"
    fname = str(conf.get("name") or f"{name}-{stage}-{app}-{key}")
    if not FUNCTION_NAME.match(fname):
        raise DeployError(
            f"{where}.name: {fname!r} must be 2-60 characters, start with a letter, use letters, digits, - and _, "
            "and not end with - or _"
        )
    handler = str(conf.get("handler") or inputs.get("handler") or "index.main_handler")
    module, _, func = handler.rpartition(".")
    if not module or not func:
        raise DeployError(f"{where}.handler: {handler!r} must be <module>.<function>")
    handler_file = code_root.joinpath(*module.split(".")).with_suffix(".py")
    if not handler_file.is_file():
        raise DeployError(f"{where}.handler: {handler!r} needs {handler_file}, which does not exist")
    memory = int(conf.get("memorySize", inputs.get("memorySize", DEFAULT_MEMORY_MB)))
    if not (memory == 64 or (128 <= memory <= 3072 and memory % 128 == 0)):
        raise DeployError(f"{where}.memorySize: {memory} must be 64 or 128..3072 in steps of 128")
    timeout = int(conf.get("timeout", inputs.get("timeout", DEFAULT_TIMEOUT_S)))
    if not 1 <= timeout <= 900:
        raise DeployError(f"{where}.timeout: {timeout} must be 1..900 seconds")
    retry = int(conf.get("retryNum", inputs.get("retryNum", DEFAULT_RETRY_NUM)))
    if not 0 <= retry <= 2:
        raise DeployError(f"{where}.retryNum: {retry} must be 0..2")
    runtime = str(conf.get("runtime") or inputs.get("runtime") or "Python3.9")
    if not runtime.startswith("Python3"):
        raise DeployError(f"{where}.runtime: {runtime!r}: the emulator runs Python 3 functions only")
    env = {**base_env, **_env_list(conf.get("environments"), f"{where}.environments")}
    return FunctionSpec(
        key=key,
        name=fname,
        handler=handler,
        code_root=code_root,
        handler_file=handler_file,
        handler_func=func,
        runtime=runtime,
        namespace=str(conf.get("namespace") or inputs.get("namespace") or "default"),
        region=region,
        memory_mb=memory,
        timeout_s=float(timeout),
        retry_num=retry,
        environment=env,
        role=conf.get("role") or inputs.get("role"),
    )


def _cos_trigger(params: dict[str, Any], fkey: str, region: str, where: str) -> CosTriggerSpec:
    bucket_raw = str(params.get("bucket") or "")
    m = COS_DOMAIN.match(bucket_raw)
    if m:
        bucket, bucket_region = m.group("bucket"), m.group("region")
    elif BARE_BUCKET.match(bucket_raw):
        bucket, bucket_region = bucket_raw, region
    else:
        raise DeployError(
            f"{where}.parameters.bucket: {bucket_raw!r} must be <name>-<appid>.cos.<region>.myqcloud.com "
            "or <name>-<appid>"
        )
    if bucket_region != region:
        raise DeployError(f"{where}.parameters.bucket: the bucket is in {bucket_region}, the function in {region}")
    events = params.get("events")
    if events not in COS_EVENTS:
        raise DeployError(f"{where}.parameters.events: {events!r} is not a COS trigger event")
    flt = params.get("filter")
    if not isinstance(flt, dict):
        raise DeployError(f"{where}.parameters.filter: required (prefix and suffix)")
    name = str(params.get("name") or bucket_raw)
    return CosTriggerSpec(
        name=name,
        function_key=fkey,
        bucket=bucket,
        region=bucket_region,
        events=str(events),
        prefix=str(flt.get("prefix") or ""),
        suffix=str(flt.get("suffix") or ""),
        enabled=params.get("enable") is True,  # the toolkit: ``enable ? 'OPEN' : 'CLOSE'``
        qualifier=str(params.get("qualifier") or "$DEFAULT"),
    )


def _timer_trigger(params: dict[str, Any], fkey: str, where: str) -> TimerTriggerSpec:
    name = str(params.get("name") or "")
    if not TRIGGER_NAME.match(name):
        raise DeployError(f"{where}.parameters.name: {name!r} must be ≤ 60 of [A-Za-z0-9_-] starting with a letter")
    try:
        cron = CronExpression.parse(str(params.get("cronExpression") or ""))
    except CronError as exc:
        raise DeployError(f"{where}.parameters.cronExpression: {exc}") from None
    return TimerTriggerSpec(
        name=name,
        function_key=fkey,
        cron=cron,
        enabled=params.get("enable") is True,
        message=str(params.get("argument") or ""),
    )


def _split(value: Any, where: str) -> list[str]:
    """The toolkit accepts a comma-separated string or a list for the CORS lists."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DeployError(f"{where}: must be a list of strings or a comma-separated string")


def _http_trigger(params: dict[str, Any], fkey: str, where: str) -> HttpTriggerSpec:
    """``type: http``: the TriggerDesc of tencent-component-toolkit ``triggers/http.ts`` (``formatInputs``)."""
    pw = f"{where}.parameters"
    auth = str(params.get("authType") or "NONE")
    if auth not in ("NONE", "CAM"):
        raise DeployError(f"{pw}.authType: {auth!r} must be NONE or CAM")
    net = params.get("netConfig") or {}
    if not isinstance(net, dict):
        raise DeployError(f"{pw}.netConfig: must be a mapping {{enableIntranet, enableExtranet}}")
    for k in ("enableIntranet", "enableExtranet"):
        if k in net and not isinstance(net[k], bool):
            raise DeployError(f"{pw}.netConfig.{k}: must be true or false")
    desc: dict[str, Any] = {
        "AuthType": auth,
        "NetConfig": {
            "EnableIntranet": net.get("enableIntranet", False),  # the toolkit: ``?? false``
            "EnableExtranet": net.get("enableExtranet", False),
        },
    }
    cors = params.get("corsConfig")
    if cors is not None:
        if not isinstance(cors, dict):
            raise DeployError(f"{pw}.corsConfig: must be a mapping")
        out: dict[str, Any] = {}
        for key, value in cors.items():
            upper = key[:1].upper() + key[1:]  # the toolkit's caseForObject(..., 'upper')
            if key in ("origins", "methods", "headers", "exposeHeaders"):
                out[upper] = _split(value, f"{pw}.corsConfig.{key}")
            elif key in ("credentials", "enable"):
                if not isinstance(value, bool):
                    raise DeployError(f"{pw}.corsConfig.{key}: must be true or false")
                out[upper] = value
            elif key == "maxAge":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise DeployError(f"{pw}.corsConfig.maxAge: must be a whole number of seconds")
                out[upper] = value
            else:
                raise DeployError(
                    f"{pw}.corsConfig.{key}: unknown field (origins, methods, headers, exposeHeaders, "
                    "credentials, maxAge, enable)"
                )
        desc["CorsConfig"] = out
    name = str(params.get("name") or "url-trigger")
    if not TRIGGER_NAME.match(name):
        raise DeployError(f"{pw}.name: {name!r} must be ≤ 60 of [A-Za-z0-9_-] starting with a letter")
    return HttpTriggerSpec(
        name=name, function_key=fkey, qualifier=str(params.get("qualifier") or "$DEFAULT"), desc=desc
    )
