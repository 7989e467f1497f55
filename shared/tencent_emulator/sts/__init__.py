"""STS (API 3.0, 2018-08-13): temporary keys through GetFederationToken and AssumeRole."""

from __future__ import annotations

from typing import Any

from tencent_emulator.sts.front import StsFront
from tencent_emulator.sts.models import StsModel

__all__ = ["StsFront", "StsModel", "install"]


def install(cloud: Any) -> None:
    cloud.sts = StsModel(cloud)
    cloud.register_front(StsFront(cloud))
