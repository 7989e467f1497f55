"""VOD (API 3.0, 2018-07-17): server-side upload sessions, media records, and the media host that serves them."""

from __future__ import annotations

from typing import Any

from tencent_emulator.vod.front import VodFront
from tencent_emulator.vod.media import VodMediaFront
from tencent_emulator.vod.models import VodModel

__all__ = ["VodFront", "VodMediaFront", "VodModel", "install"]


def install(cloud: Any) -> None:
    cloud.vod = VodModel(cloud)
    cloud.register_front(VodFront(cloud))
    cloud.register_front(VodMediaFront(cloud))
