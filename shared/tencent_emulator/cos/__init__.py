"""COS: the XML object storage API (buckets, objects, multipart, copies, tags, presigned URLs, events).

``install(cloud)`` creates the model as ``cloud.cos`` and registers the front; other services use
the model directly (``cloud.cos.create_bucket``, ``subscribe``...).
"""

from __future__ import annotations

from typing import Any

from tencent_emulator.cos.errors import CosError
from tencent_emulator.cos.front import CosFront
from tencent_emulator.cos.models import Bucket, CosEvent, CosModel, ObjectInfo, PartInfo, UploadInfo

__all__ = ["Bucket", "CosError", "CosEvent", "CosFront", "CosModel", "ObjectInfo", "PartInfo", "UploadInfo", "install"]


def install(cloud: Any) -> None:
    cloud.cos = CosModel(cloud)
    cloud.register_front(CosFront(cloud, cloud.cos))
