"""SCF API 3.0 (``scf.tencentcloudapi.com``, version 2018-04-16): Invoke, InvokeFunction, GetFunction, ListFunctions.

Request fields, defaults and limits: wire-shapes.md §5 and tencent-scf.md §4.1-4.3; error codes
from tencentcloud-sdk-python ``scf/v20180416/errorcodes.py``. Choices are in FIDELITY.md.
"""

from __future__ import annotations

import json
import math
import zlib
from datetime import datetime, timezone
from typing import Any

from tencent_emulator.core.tc3 import ApiError, CallContext, Tc3Front
from tencent_emulator.scf.models import ASYNC_EVENT_LIMIT, MEM_USAGE_BYTES, SYNC_EVENT_LIMIT, Function, ScfModel
from tencent_emulator.scf.runtime import Outcome

QUALIFIERS = ("$LATEST", "$DEFAULT")


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


class ScfFront(Tc3Front):
    service = "scf"
    version = "2018-04-16"

    @property
    def model(self) -> ScfModel:
        model: ScfModel = self.cloud.scf
        return model

    # -- helpers -----------------------------------------------------------------------------
    def _function(self, params: dict[str, Any], default_qualifier: str) -> Function:
        name = params.get("FunctionName")
        if not name:
            raise ApiError("MissingParameter", "The request is missing a required parameter `FunctionName`.")
        namespace = params.get("Namespace") or "default"
        if not any(f.namespace == namespace for f in self.model.functions.values()) and namespace != "default":
            raise ApiError("ResourceNotFound.Namespace", f"Namespace `{namespace}` does not exist.")
        fn = self.model.get(str(name), str(namespace))
        if fn is None:
            raise ApiError("ResourceNotFound.FunctionName", f"Function `{name}` does not exist in `{namespace}`.")
        qualifier = params.get("Qualifier") or default_qualifier
        if qualifier not in QUALIFIERS:
            raise ApiError("ResourceNotFound.Qualifier", f"Version or alias `{qualifier}` of `{name}` does not exist.")
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

    # -- actions -----------------------------------------------------------------------------
    def action_Invoke(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        fn = self._function(params, "$LATEST")
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
        fn = self._function(params, "$DEFAULT")
        event = self._event(params.get("Event"), "Event", SYNC_EVENT_LIMIT, "synchronous")
        return self._sync(fn, event, params.get("LogType"))

    def action_GetFunction(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        fn = self._function(params, "$LATEST")
        added = datetime.fromtimestamp(fn.added, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return {
            "FunctionName": fn.name,
            "FunctionId": f"lam-{zlib.crc32(fn.name.encode()):08x}",
            "Namespace": fn.namespace,
            "Runtime": fn.runtime,
            "Handler": fn.handler,
            "MemorySize": fn.memory_mb,
            "Timeout": int(fn.timeout_s),
            "FunctionVersion": "$LATEST",
            "Qualifier": "$LATEST",
            "Environment": {"Variables": [{"Key": k, "Value": v} for k, v in fn.environment.items()]},
            "Role": fn.role or "",
            "Status": "Active",
            "StatusDesc": "",
            "Type": "Event",
            "Description": "",
            "AddTime": added,
            "ModTime": added,
            "Triggers": [
                {"Type": "cos", "TriggerName": t.name, "Enable": 1 if t.enabled else 0}
                for t in self.model.cos_triggers
                if t.function == fn.name
            ]
            + [
                {"Type": "timer", "TriggerName": t.name, "Enable": 1 if t.enabled else 0}
                for t in self.model.timers
                if t.function == fn.name
            ],
        }

    def action_ListFunctions(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        namespace = params.get("Namespace") or "default"
        search = str(params.get("SearchKey") or "")
        offset, limit = int(params.get("Offset") or 0), int(params.get("Limit") or 20)
        fns = sorted(
            (f for f in self.model.functions.values() if f.namespace == namespace and search in f.name),
            key=lambda f: f.name,
        )
        return {
            "Functions": [
                {
                    "FunctionName": f.name,
                    "Namespace": f.namespace,
                    "Runtime": f.runtime,
                    "Status": "Active",
                    "StatusDesc": "",
                    "Type": "Event",
                    "Description": "",
                    "AddTime": datetime.fromtimestamp(f.added, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                }
                for f in fns[offset : offset + limit]
            ],
            "TotalCount": len(fns),
        }
