"""SCF: functions (code, configuration, status), their triggers (cos, timer, http = function URL),
async invocations with retries, the API 3.0 front and the function URL front."""

from __future__ import annotations

from typing import Any

from tencent_emulator.scf.code import DirCode, ZipCode
from tencent_emulator.scf.deploy import DeployError
from tencent_emulator.scf.front import ScfFront
from tencent_emulator.scf.models import (
    App,
    CosTrigger,
    DrainTimeout,
    Function,
    HttpTrigger,
    InvocationRecord,
    ScfError,
    ScfModel,
    TimerTrigger,
)
from tencent_emulator.scf.url_front import FunctionUrlFront


def install(cloud: Any) -> None:
    cloud.scf = ScfModel(cloud)
    cloud.register_front(FunctionUrlFront(cloud))
    cloud.register_front(ScfFront(cloud))


__all__ = [
    "App",
    "CosTrigger",
    "DeployError",
    "DirCode",
    "DrainTimeout",
    "Function",
    "HttpTrigger",
    "InvocationRecord",
    "ScfError",
    "ScfModel",
    "TimerTrigger",
    "ZipCode",
    "install",
]
