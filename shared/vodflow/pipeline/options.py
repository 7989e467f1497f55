"""Ingest options: ``x-cos-meta-vod-*`` metadata of the staged object over the function's defaults.

The values are checked by the same code that checks a ``VodUploadRequest`` (``model.resolve_request``),
so an option refused here is refused with the code VOD itself would use, before any VOD call.
Unknown ``vod-*`` keys are refused too: a typo (``vod-procedur``) must not silently do nothing.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional
from urllib.parse import unquote

from vodflow.errors import VodValidationError
from vodflow.model import COVER_TYPES, VodUploadRequest, parse_expire_time, resolve_request
from vodflow.pipeline.config import Config

META_PREFIX = "x-cos-meta-vod-"

# metadata suffix → ApplyUpload field
FIELDS = {
    "procedure": "Procedure",
    "class-id": "ClassId",
    "sub-app-id": "SubAppId",
    "media-name": "MediaName",
    "media-type": "MediaType",
    "expire-time": "ExpireTime",
    "storage-region": "StorageRegion",
    "source-context": "SourceContext",
    "session-context": "SessionContext",
}
COVER = "cover"
KNOWN = frozenset([*FIELDS, COVER])


@dataclass(frozen=True)
class IngestOptions:
    """The ApplyUpload fields of a job (validated) and the staging key of its cover, if any."""

    apply_fields: Mapping[str, Any]
    cover_key: Optional[str] = None
    cover_type: Optional[str] = None
    media_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "apply_fields": dict(self.apply_fields),
            "cover_key": self.cover_key,
            "cover_type": self.cover_type,
            "media_type": self.media_type,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IngestOptions:
        return cls(
            dict(d.get("apply_fields") or {}), d.get("cover_key"), d.get("cover_type"), str(d.get("media_type") or "")
        )


@dataclass(frozen=True)
class _Named:
    """Just a name: enough for request resolution, which reads no bytes."""

    name: str
    size: int = 0
    expected_crc64: Optional[int] = None

    def read_range(self, offset: int, length: int) -> AbstractContextManager[Iterator[bytes]]:
        raise RuntimeError("options parsing reads no bytes")

    def describe(self) -> str:
        return self.name


def _decode(field_name: str, raw: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise VodValidationError("InvalidParameterValue", field_name, raw, "does not decode as UTF-8") from None


def vod_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """The ``vod-*`` entries of object metadata, by suffix (header names are case-insensitive)."""
    out: dict[str, str] = {}
    for name, value in metadata.items():
        low = str(name).lower()
        if low.startswith(META_PREFIX):
            out[low[len(META_PREFIX) :]] = str(value)
    return out


def parse_options(
    key: str,
    metadata: Mapping[str, str],
    config: Config,
    now: Callable[[], float] = lambda: datetime.now(timezone.utc).timestamp(),
    package: bool = False,
) -> IngestOptions:
    """The job's options, or a VodValidationError naming the metadata key and its value.

    For a package (``show.hls/index.m3u8``) the media name defaults to the folder's (``show``).
    """
    meta = vod_metadata(metadata)
    for suffix in meta:
        if suffix not in KNOWN:
            raise VodValidationError(
                "UnknownParameter", META_PREFIX + suffix, meta[suffix], f"is not one of {sorted(KNOWN)}"
            )
    request = VodUploadRequest()
    request.MediaSource = _Named(posixpath.basename(key))
    defaults = {
        "Procedure": config.procedure,
        "ClassId": config.class_id,
        "SubAppId": config.sub_app_id,
        "StorageRegion": config.storage_region,
    }
    for name, value in defaults.items():
        if value is not None:
            setattr(request, name, value)
    if package:
        folder = posixpath.basename(posixpath.dirname(key))
        request.MediaName = posixpath.splitext(folder)[0] or folder
    for suffix, fname in FIELDS.items():
        if suffix in meta:
            setattr(request, fname, _decode(META_PREFIX + suffix, meta[suffix]))
    cover_key = None
    cover_type = None
    if COVER in meta:
        raw = _decode(META_PREFIX + COVER, meta[COVER]).strip()
        parts = raw.split("/")
        if not raw or raw.startswith("/") or ".." in parts or raw.endswith("/"):
            raise VodValidationError("InvalidParameterValue.CoverKey", META_PREFIX + COVER, raw, "not a relative key")
        cover_key = raw if "/" in raw else posixpath.join(posixpath.dirname(key), raw)
        # A cover is read with the role's keys and published by VOD: only staged images qualify, never a
        # job record or anything else the role can read (a private image must not become a CoverUrl).
        in_state = config.jobs_bucket == config.staging_bucket and cover_key.startswith(config.state_prefix)
        if not cover_key.startswith(config.staging_prefix) or in_state:
            raise VodValidationError(
                "InvalidParameterValue.CoverKey",
                META_PREFIX + COVER,
                raw,
                f"the cover must be a key under {config.staging_prefix!r} of the staging bucket",
            )
        cover_type = posixpath.splitext(cover_key)[1].lstrip(".").lower()
        if cover_type not in COVER_TYPES:
            raise VodValidationError(
                "InvalidParameterValue.CoverType", META_PREFIX + COVER, raw, "is not a cover image type"
            )
        request.CoverType = cover_type
    try:
        resolved = resolve_request("pipeline", request, collect=False)
    except VodValidationError as exc:
        raise _renamed(exc) from None
    if request.ExpireTime is not None and parse_expire_time(request.ExpireTime).timestamp() <= now():
        raise VodValidationError(
            "InvalidParameterValue.ExpireTime", META_PREFIX + "expire-time", request.ExpireTime, "is in the past"
        )
    fields = {k: v for k, v in resolved.apply_fields.items() if v is not None}
    for int_field in ("ClassId", "SubAppId"):
        if int_field in fields:
            fields[int_field] = int(fields[int_field])
    return IngestOptions(fields, cover_key, cover_type, resolved.media_type)


def _renamed(exc: VodValidationError) -> VodValidationError:
    """The same error, naming the metadata key the user set rather than the API field."""
    suffix = next((s for s, f in FIELDS.items() if f == exc.field), None)
    if suffix is None:
        return exc
    reason = exc.message.split(":", 1)[0]
    return VodValidationError(exc.code, META_PREFIX + suffix, exc.value, reason)
