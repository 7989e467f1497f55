"""SCF: deployed functions, their triggers, async invocations with retries, and the API 3.0 front."""

from __future__ import annotations

from typing import Any

from tencent_emulator.scf.deploy import DeployError
from tencent_emulator.scf.front import ScfFront
from tencent_emulator.scf.models import App, DrainTimeout, InvocationRecord, ScfModel


def install(cloud: Any) -> None:
    cloud.scf = ScfModel(cloud)
    cloud.register_front(ScfFront(cloud))


__all__ = ["App", "DeployError", "DrainTimeout", "InvocationRecord", "ScfModel", "install"]
