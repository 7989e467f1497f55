"""CAM (API 3.0, 2019-01-16): roles and their attached policies, read-only, for deploy preflights."""

from __future__ import annotations

from typing import Any

from tencent_emulator.cam.front import CamFront
from tencent_emulator.cam.models import CamModel

__all__ = ["CamFront", "CamModel", "install"]


def install(cloud: Any) -> None:
    cloud.cam = CamModel(cloud)
    cloud.register_front(CamFront(cloud))
