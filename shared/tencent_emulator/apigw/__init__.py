"""API Gateway: services and routes to SCF functions; requests become the documented APIGW event."""

from __future__ import annotations

from typing import Any

from tencent_emulator.apigw.front import ApigwFront
from tencent_emulator.apigw.models import ApigwModel, ApiService, Route


def install(cloud: Any) -> None:
    cloud.apigw = ApigwModel(cloud)
    cloud.register_front(ApigwFront(cloud))


__all__ = ["ApiService", "ApigwModel", "Route", "install"]
