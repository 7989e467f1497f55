"""vodflow: get video into Tencent Cloud VOD without running a server.

The package root re-exports the surface of Tencent's ``vod-python-sdk`` so that code written
against ``qcloud_vod`` runs after changing only the import.
"""

from .errors import VodClientException
from .model import VodUploadRequest, VodUploadResponse
from .vod_upload_client import VodUploadClient

__version__ = "0.1.0"

__all__ = ["VodClientException", "VodUploadClient", "VodUploadRequest", "VodUploadResponse", "__version__"]
