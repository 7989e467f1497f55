"""SCF API 3.0 (``scf.tencentcloudapi.com``, version 2018-04-16): invocation and management actions.

Invoke, InvokeFunction; CreateFunction, GetFunction, ListFunctions, UpdateFunctionCode,
UpdateFunctionConfiguration, DeleteFunction; Get/UpdateFunctionEventInvokeConfig; CreateTrigger,
UpdateTrigger, ListTriggers, DeleteTrigger. Request fields, defaults and limits: wire-shapes.md §5,
tencent-scf.md §4.1-4.3 and the request/response docstrings of tencentcloud-sdk-python
``scf/v20180416/models.py``; error codes from its ``errorcodes.py``. The rules live in the model
(``ScfModel.create_function``...); this front parses, renders and maps ``ScfError`` to the envelope.
Choices are in FIDELITY.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Optional

from tencent_emulator.core.tc3 import ApiError, CallContext, Tc3Front
from tencent_emulator.scf.code import CREATE_ZIP_LIMIT, UPDATE_ZIP_LIMIT, CodeSource, ZipCode
from tencent_emulator.scf.models import (
    ASYNC_EVENT_LIMIT,
    MEM_USAGE_BYTES,
    QUALIFIERS,
    SYNC_EVENT_LIMIT,
    Function,
    ScfError,
    ScfModel,
    Trigger,
)
from tencent_emulator.scf.runtime import Outcome

# CreateFunction fields the emulator honours; any other field with a non-empty value is refused.
CREATE_FIELDS = {
    "FunctionName",
    "Code",
    "Handler",
    "Description",
    "MemorySize",
    "Timeout",
    "Environment",
    "Runtime",
    "Namespace",
    "Role",
    "Type",
    "CodeSource",
    "InitTimeout",
    "Tags",
}
CONFIG_FIELDS = {
    "FunctionName",
    "Namespace",
    "Description",
    "MemorySize",
    "Timeout",
    "Environment",
    "Role",
    "InitTimeout",
}


def ret_msg(result: Any) -> str:
    """A string return is sent as is; anything else as JSON (the documented sample returns a bare string)."""
    return result if isinstance(result, str) else json.dumps(result)


def result_block(request_id: str, outcome: Outcome, log: str) -> dict[str, Any]:
    ok = outcome.status == "ok"
    return {
        "Log": log,
        "RetMsg": ret_msg(outcome.result) if ok else "",
        "ErrMsg": "" if ok else outcome.error_text,
        "MemUsage": MEM_USAGE_BYTES,
        "Duration": round(outcome.duration_ms, 3),
        "BillDuration": max(1, math.ceil(outcome.duration_ms)),
        "FunctionRequestId": request_id,
        "InvokeResult": 0 if ok else -1,
    }


def fmt_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _empty(value: Any) -> bool:
    return value in (None, "", [], {}, False, "FALSE", "false", 0)


def _refuse_unmodelled(params: dict[str, Any], known: set[str], action: str) -> None:
    for k, v in params.items():
        if k not in known and not _empty(v):
            if (
                k == "PublicNetConfig"
                and isinstance(v, dict)
                and (v.get("EipConfig") or {}).get("EipStatus") != "ENABLE"
            ):
                continue  # public network access without a fixed EIP: what every function has
            raise ApiError("UnsupportedOperation", f"{action}: `{k}` is not modelled by the emulator; leave it unset.")


def _env(params: dict[str, Any]) -> Optional[dict[str, str]]:
    env = params.get("Environment")
    if env is None:
        return None
    variables = env.get("Variables") if isinstance(env, dict) else None
    if not isinstance(variables, list):
        raise ApiError("InvalidParameterValue.Environment", "`Environment.Variables` must be an array of {Key, Value}.")
    out: dict[str, str] = {}
    for v in variables:
        if not isinstance(v, dict) or not v.get("Key"):
            raise ApiError("InvalidParameterValue.Environment", "Each variable needs a non-empty `Key`.")
        out[str(v["Key"])] = "" if v.get("Value") is None else str(v["Value"])
    return out


def _int(params: dict[str, Any], name: str) -> Optional[int]:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ApiError("InvalidParameterValue", f"`{name}` must be an integer.")
    return int(value)


@contextmanager
def api_errors(not_found: str = "ResourceNotFound.Function") -> Iterator[None]:
    """Model errors become API errors; ``not_found`` renames the missing-function code per action."""
    try:
        yield
    except ScfError as exc:
        code = not_found if exc.code == "ResourceNotFound.Function" else exc.code
        raise ApiError(code, exc.message) from None


class ScfFront(Tc3Front):
    service = "scf"
    version = "2018-04-16"

    @property
    def model(self) -> ScfModel:
        model: ScfModel = self.cloud.scf
        return model

    # -- helpers -----------------------------------------------------------------------------
    def _region(self, ctx: CallContext) -> str:
        return ctx.region or self.cloud.region

    def _lookup(self, params: dict[str, Any], ctx: CallContext) -> Function:
        return self.model.lookup(params.get("FunctionName"), params.get("Namespace"), self._region(ctx))

    def _function(self, params: dict[str, Any], ctx: CallContext, default_qualifier: str) -> Function:
        """The function to invoke: it must exist here and be Active (Updating still runs the current code)."""
        with api_errors("ResourceNotFound.FunctionName"):
            fn = self._lookup(params, ctx)
        qualifier = params.get("Qualifier") or default_qualifier
        if qualifier not in QUALIFIERS:
            raise ApiError(
                "ResourceNotFound.Qualifier", f"Version or alias `{qualifier}` of `{fn.name}` does not exist."
            )
        if fn.status not in ("Active", "Updating", "UpdateFailed"):
            raise ApiError("FailedOperation.FunctionStatusError", f"The function `{fn.name}` is {fn.status}.")
        return fn

    @staticmethod
    def _event(raw: Any, field: str, limit: int, how: str) -> Any:
        if raw is None or raw == "":
            return {}
        if not isinstance(raw, str):
            raise ApiError("InvalidParameterValue.Param", f"`{field}` must be a JSON string.")
        size = len(raw.encode("utf-8"))
        if size > limit:
            raise ApiError(
                "InvalidParameter.RequestTooLarge",
                f"RequestTooLarge: `{field}` is {size} bytes; {how} invocations accept at most {limit} bytes.",
            )
        try:
            event = json.loads(raw)
        except ValueError:
            raise ApiError("InvalidParameterValue.Param", f"`{field}` is not standard JSON.") from None
        if not isinstance(event, dict):
            raise ApiError("InvalidParameterValue.Param", f"`{field}` must be a JSON object.")
        return event

    def _sync(self, fn: Function, event: Any, log_type: Any) -> dict[str, Any]:
        rec, outcome = self.model.invoke(fn.name, event, source="api", namespace=fn.namespace)
        log = ""
        if log_type == "Tail":
            log = f"START RequestId: {rec.request_id}\n{outcome.log}"
            if outcome.error:
                log += outcome.error.get("stackTrace", outcome.error.get("errorMessage", "")) + "\n"
            log += f"END RequestId: {rec.request_id}\n"
            log = log[-4096:]
        return {"Result": result_block(rec.request_id, outcome, log)}

    def _code(self, code: Any, ctx: CallContext, limit: int) -> CodeSource:
        """``Code``: base64 ``ZipFile``, or ``CosBucketName`` + ``CosObjectName`` (+ ``CosBucketRegion``)."""
        if not isinstance(code, dict):
            raise ApiError(
                "InvalidParameterValue.Code", "`Code` is required: {ZipFile} or {CosBucketName, CosObjectName}."
            )
        for k, v in code.items():
            if k not in ("ZipFile", "CosBucketName", "CosObjectName", "CosBucketRegion") and not _empty(v):
                raise ApiError("UnsupportedOperation", f"`Code.{k}` is not modelled by the emulator (ZipFile or Cos*).")
        zip_b64, bucket, obj = code.get("ZipFile"), code.get("CosBucketName"), code.get("CosObjectName")
        if zip_b64 and (bucket or obj):
            raise ApiError("InvalidParameterValue.Code", "`Code`: give ZipFile or Cos, not both.")
        if zip_b64:
            try:
                data = base64.b64decode(str(zip_b64), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ApiError(
                    "InvalidParameterValue.ZipFileBase64BinasciiError",
                    f"The zip file's base64 cannot be decoded: `{exc}`.",
                ) from None
            if len(data) > limit:
                raise ApiError(
                    "InvalidParameterValue.ZipFile",
                    f"The zip file is {len(data)} bytes; upload through the API is limited to {limit} (use COS).",
                )
            return ZipCode(data, "ZipFile")
        if not bucket or not obj:
            raise ApiError("InvalidParameterValue.Code", "`Code`: give ZipFile, or CosBucketName and CosObjectName.")
        if not str(obj).startswith("/"):
            raise ApiError("InvalidParameterValue.CosObjectName", "`CosObjectName` starts with /.")
        full = f"{bucket}-{self.cloud.app_id}"
        cos: Any = getattr(self.cloud, "cos", None)
        b = getattr(cos, "buckets", {}).get(full) if cos is not None else None
        if cos is None or b is None:
            raise ApiError("ResourceNotFound.Cos", f"The bucket `{full}` does not exist.")
        region = code.get("CosBucketRegion")
        if region and region != b.region:
            raise ApiError(
                "InvalidParameterValue.CosBucketRegion", f"The bucket `{full}` is in {b.region}, not {region}."
            )
        if b.region != self._region(ctx):
            raise ApiError(
                "InvalidParameterValue.CosBucketRegion", f"The bucket is in {b.region}, not the function's region."
            )
        key = str(obj)[1:]
        if cos.head_object(full, key) is None:
            raise ApiError("ResourceNotFound.CosObject", f"The object `{obj}` does not exist in `{full}`.")
        return ZipCode(cos.read_object(full, key), "Cos")

    def trigger_info(self, trig: Trigger) -> dict[str, Any]:
        """The ``Trigger`` structure of GetFunction / ListTriggers / CreateTrigger (models.py ``Trigger``)."""
        return {
            "ModTime": fmt_time(trig.modified),
            "Type": trig.type,
            "TriggerDesc": self.model.trigger_desc(trig),
            "TriggerName": trig.name,
            "AddTime": fmt_time(trig.added),
            "Enable": 1 if trig.enabled else 0,
            "CustomArgument": getattr(trig, "message", ""),
            "AvailableStatus": "Available",
            "ResourceId": f"{trig.type}-{zlib.crc32(f'{trig.function}/{trig.type}/{trig.name}'.encode()):08x}",
            "BindStatus": "on",
            "TriggerAttribute": "",
            "Qualifier": trig.qualifier,
            "Description": trig.description,
        }

    def function_info(self, fn: Function) -> dict[str, Any]:
        return {
            "FunctionName": fn.name,
            "FunctionId": f"lam-{zlib.crc32(fn.name.encode()):08x}",
            "Namespace": fn.namespace,
            "Runtime": fn.runtime,
            "Status": fn.status,
            "StatusDesc": fn.status_reasons[0]["ErrorMessage"] if fn.status_reasons else "",
            "StatusReasons": list(fn.status_reasons),
            "Type": fn.type,
            "Description": fn.description,
            "AddTime": fmt_time(fn.added),
            "ModTime": fmt_time(fn.modified),
            "AsyncRunEnable": "FALSE",
            "TraceEnable": "FALSE",
        }

    # -- invocation ----------------------------------------------------------------------------
    def action_Invoke(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        fn = self._function(params, ctx, "$LATEST")
        kind = params.get("InvocationType") or "RequestResponse"
        if kind not in ("RequestResponse", "Event"):
            raise ApiError("InvalidParameterValue.InvokeType", f"InvocationType `{kind}` is not RequestResponse|Event.")
        if kind == "Event":
            event = self._event(params.get("ClientContext"), "ClientContext", ASYNC_EVENT_LIMIT, "asynchronous")
            request_id = self.model.invoke_async(fn.name, event, source="api", namespace=fn.namespace)
            return {
                "Result": {
                    "Log": "",
                    "RetMsg": "",
                    "ErrMsg": "",
                    "MemUsage": 0,
                    "Duration": 0,
                    "BillDuration": 0,
                    "FunctionRequestId": request_id,
                    "InvokeResult": 0,
                }
            }
        event = self._event(params.get("ClientContext"), "ClientContext", SYNC_EVENT_LIMIT, "synchronous")
        return self._sync(fn, event, params.get("LogType"))

    def action_InvokeFunction(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        fn = self._function(params, ctx, "$DEFAULT")
        event = self._event(params.get("Event"), "Event", SYNC_EVENT_LIMIT, "synchronous")
        return self._sync(fn, event, params.get("LogType"))

    # -- functions -----------------------------------------------------------------------------
    def action_CreateFunction(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _refuse_unmodelled(params, CREATE_FIELDS, "CreateFunction")
        name = params.get("FunctionName")
        if not name:
            raise ApiError("MissingParameter", "The request is missing a required parameter `FunctionName`.")
        namespace = str(params.get("Namespace") or "default")
        if namespace != "default" and not any(f.namespace == namespace for f in self.model.functions.values()):
            raise ApiError("ResourceNotFound.Namespace", f"Namespace `{namespace}` does not exist.")
        code = self._code(params.get("Code"), ctx, CREATE_ZIP_LIMIT)
        with api_errors():
            self.model.create_function(
                str(name),
                handler=str(params.get("Handler") or "index.main_handler"),
                code=code,
                runtime=str(params.get("Runtime") or "Python2.7"),  # the documented default (refused: not Python 3)
                memory_mb=_int(params, "MemorySize") or 128,
                timeout_s=_int(params, "Timeout") or 3,
                environment=_env(params) or {},
                role=params.get("Role") or None,
                namespace=namespace,
                description=str(params.get("Description") or ""),
                type=str(params.get("Type") or "Event"),
                region=self._region(ctx),
            )
        return {}

    def action_GetFunction(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with api_errors("ResourceNotFound.FunctionName"):
            fn = self._lookup(params, ctx)
        return {
            **self.function_info(fn),
            "Handler": fn.handler,
            "MemorySize": fn.memory_mb,
            "Timeout": int(fn.timeout_s),
            "FunctionVersion": "$LATEST",
            "Qualifier": "$LATEST",
            "Environment": {"Variables": [{"Key": k, "Value": v} for k, v in fn.environment.items()]},
            "Role": fn.role or "",
            "CodeSize": fn.code_size,
            "CodeResult": "failed" if fn.status in ("CreateFailed", "UpdateFailed") else "success",
            "CodeError": fn.status_reasons[0]["ErrorMessage"] if fn.status_reasons else "",
            "ErrNo": 0,
            "InstallDependency": "FALSE",
            "AvailableStatus": "Available",
            "InitTimeout": 65,
            "Triggers": [self.trigger_info(t) for t in self.model.triggers_of(fn.name)],
        }

    def action_ListFunctions(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        namespace = params.get("Namespace") or "default"
        search = str(params.get("SearchKey") or "")
        offset, limit = int(params.get("Offset") or 0), int(params.get("Limit") or 20)
        region = self._region(ctx)
        fns = [
            f
            for f in list(self.model.functions.values())
            if f.namespace == namespace and f.region == region and search in f.name
        ]
        for f in fns:
            self.model.get(f.name, f.namespace)  # settles a Creating/Updating whose time has come
        for flt in params.get("Filters") or []:
            values = set(flt.get("Values") or [])
            if flt.get("Name") == "Status":
                fns = [f for f in fns if f.status in values]
            elif flt.get("Name") == "Type":
                fns = [f for f in fns if f.type in values]
        order_by = params.get("Orderby") or "AddTime"
        keys = {"AddTime": lambda f: f.added, "ModTime": lambda f: f.modified, "FunctionName": lambda f: f.name}
        fns.sort(key=keys.get(str(order_by), keys["AddTime"]), reverse=(params.get("Order") or "ASC") == "DESC")
        return {"Functions": [self.function_info(f) for f in fns[offset : offset + limit]], "TotalCount": len(fns)}

    def action_UpdateFunctionCode(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        known = {"FunctionName", "Namespace", "Handler", "Code", "CodeSource", "ZipFile", "CosBucketName"}
        _refuse_unmodelled(params, known | {"CosObjectName", "CosBucketRegion"}, "UpdateFunctionCode")
        with api_errors():
            fn = self._lookup(params, ctx)
            raw = params.get("Code") or {
                k: params[k] for k in ("ZipFile", "CosBucketName", "CosObjectName", "CosBucketRegion") if params.get(k)
            }
            code = self._code(raw, ctx, UPDATE_ZIP_LIMIT)
            self.model.update_function_code(fn, code, handler=params.get("Handler") or None)
        return {}

    def action_UpdateFunctionConfiguration(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _refuse_unmodelled(params, CONFIG_FIELDS | {"Runtime"}, "UpdateFunctionConfiguration")
        with api_errors():
            fn = self._lookup(params, ctx)
            if params.get("Runtime") and params["Runtime"] != fn.runtime:
                raise ApiError("InvalidParameterValue.Runtime", "The Runtime is chosen at creation and cannot change.")
            self.model.update_function_configuration(
                fn,
                memory_mb=_int(params, "MemorySize"),
                timeout_s=_int(params, "Timeout"),
                environment=_env(params),
                role=params.get("Role"),
                description=params.get("Description"),
            )
        return {}

    def action_DeleteFunction(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with api_errors():
            fn = self._lookup(params, ctx)
            if params.get("Qualifier") and params["Qualifier"] != "$LATEST":
                raise ApiError("ResourceNotFound.FunctionVersion", f"Version `{params['Qualifier']}` does not exist.")
            self.model.delete_function(fn)
        return {}

    def action_GetFunctionEventInvokeConfig(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with api_errors():
            fn = self._lookup(params, ctx)
        return {"AsyncTriggerConfig": {"RetryConfig": [{"RetryNum": fn.retry_num}], "MsgTTL": fn.msg_ttl}}

    def action_UpdateFunctionEventInvokeConfig(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        cfg = params.get("AsyncTriggerConfig")
        if not isinstance(cfg, dict):
            raise ApiError("InvalidParameterValue.AsyncTriggerConfig", "`AsyncTriggerConfig` is required.")
        retry = cfg.get("RetryConfig")
        if retry is not None and (not isinstance(retry, list) or len(retry) != 1 or not isinstance(retry[0], dict)):
            raise ApiError("InvalidParameterValue.AsyncTriggerConfig", "`RetryConfig` is [{RetryNum}].")
        retry_num = _int(retry[0], "RetryNum") if retry else None
        with api_errors():
            fn = self._lookup(params, ctx)
            self.model.update_event_invoke_config(fn, retry_num, _int(cfg, "MsgTTL"))
        return {}

    # -- triggers ------------------------------------------------------------------------------
    @staticmethod
    def _enable(value: Any, default: bool) -> bool:
        if value is None or value == "":
            return default
        if value in ("OPEN", 1, "1", True):
            return True
        if value in ("CLOSE", 0, "0", False):
            return False
        raise ApiError("InvalidParameterValue.Enable", f"Enable `{value}` must be OPEN or CLOSE.")

    def action_CreateTrigger(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with api_errors():
            fn = self._lookup(params, ctx)
            if not params.get("TriggerName"):
                raise ApiError("MissingParameter", "The request is missing a required parameter `TriggerName`.")
            trig = self.model.create_trigger(
                fn,
                str(params.get("Type") or ""),
                str(params["TriggerName"]),
                str(params.get("TriggerDesc") or ""),
                qualifier=str(params.get("Qualifier") or "$LATEST"),
                enabled=self._enable(params.get("Enable"), True),
                custom_argument=str(params.get("CustomArgument") or ""),
                description=str(params.get("Description") or ""),
            )
        return {"TriggerInfo": self.trigger_info(trig)}

    def action_UpdateTrigger(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with api_errors():
            fn = self._lookup(params, ctx)
            self.model.update_trigger(
                fn,
                str(params.get("Type") or ""),
                str(params.get("TriggerName") or ""),
                desc=params.get("TriggerDesc"),
                qualifier=params.get("Qualifier"),
                enabled=None if params.get("Enable") is None else self._enable(params.get("Enable"), True),
                custom_argument=params.get("CustomArgument"),
                description=params.get("Description"),
            )
        return {}

    def action_ListTriggers(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with api_errors():
            fn = self._lookup(params, ctx)
        trigs = self.model.triggers_of(fn.name)
        for flt in params.get("Filters") or []:
            values = set(flt.get("Values") or [])
            attr = {"Qualifier": "qualifier", "TriggerName": "name", "Description": "description", "Type": "type"}
            name = attr.get(str(flt.get("Name")))
            if name:
                trigs = [t for t in trigs if getattr(t, name) in values]
        by = "added" if params.get("OrderBy") == "add_time" else "modified"
        trigs.sort(key=lambda t: getattr(t, by), reverse=(params.get("Order") or "DESC") == "DESC")
        offset, limit = int(params.get("Offset") or 0), int(params.get("Limit") or 20)
        return {"Triggers": [self.trigger_info(t) for t in trigs[offset : offset + limit]], "TotalCount": len(trigs)}

    def action_DeleteTrigger(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        with api_errors():
            fn = self._lookup(params, ctx)
            self.model.delete_trigger(
                fn,
                str(params.get("Type") or ""),
                str(params.get("TriggerName") or ""),
                params.get("Qualifier"),
                params.get("TriggerDesc"),
            )
        return {}
