"""``qcloud_vod.exception``'s import path: ``from vodflow.exception import VodClientException`` works too."""

from vodflow.errors import VodClientException

__all__ = ["VodClientException"]
