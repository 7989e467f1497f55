"""``VodUploadRequest`` / ``VodUploadResponse`` with the ``qcloud_vod.model`` surface, and request resolution.

Like the official classes they subclass tencentcloud's ApplyUploadRequest / CommitUploadResponse,
so ``to_json_string`` and ``from_json_string`` exist. Unlike the official client, filling defaults
never mutates the caller's request: ``resolve_request`` computes the effective values (MediaType,
MediaName, CoverType from the file names) and validates them before any request is sent.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from tencentcloud.vod.v20180717.models import ApplyUploadRequest, CommitUploadResponse

from .errors import VodClientException, VodValidationError
from .manifests import ManifestPackage, collect_package, manifest_kind
from .sources import LocalFileSource, extension_of, name_of
from .sources import MediaSource as Source

__all__ = [
    "APPLY_FIELDS",
    "COVER_TYPES",
    "MEDIA_TYPES",
    "ResolvedRequest",
    "VodUploadRequest",
    "VodUploadResponse",
    "parse_expire_time",
    "resolve_request",
]

# ApplyUpload's fields, in the order tencentcloud serialises them.
APPLY_FIELDS = (
    "MediaType",
    "SubAppId",
    "MediaName",
    "CoverType",
    "Procedure",
    "ExpireTime",
    "StorageRegion",
    "ClassId",
    "SourceContext",
    "SessionContext",
    "ExtInfo",
    "MediaStoragePath",
)

# VOD FAQ 266/2846 (video, audio) plus the manifests the SDK uploads; compared case-insensitively.
MEDIA_TYPES = frozenset(
    "wmv rm mov mpeg mp4 3gp flv avi rmvb ts asf mpg webm mkv m3u8 wm asx ram mpe vob dat mp4v m4v f4v mxf qt ogg "
    "mp3 m4a flac wav ra aac amr mpd".split()
)
COVER_TYPES = frozenset("jpg jpeg png gif bmp tiff ai cdr eps tif heif".split())

MAX_SOURCE_CONTEXT = 250
MAX_SESSION_CONTEXT = 1000


class VodUploadRequest(ApplyUploadRequest):
    """The official request: ApplyUpload's fields plus MediaFilePath, CoverFilePath, ConcurrentUploadNumber.

    ``MediaSource`` / ``CoverSource`` (vodflow extras) take any ``sources.MediaSource`` instead of a
    local path, e.g. a ``CosObjectSource`` streamed by byte range. They are not serialised.
    """

    _LOCAL_ONLY = ("_MediaSource", "_CoverSource")

    def __init__(self) -> None:
        super().__init__()
        self._MediaFilePath: Optional[str] = None
        self._CoverFilePath: Optional[str] = None
        self._ConcurrentUploadNumber: Optional[int] = None
        self._MediaSource: Optional[Source] = None
        self._CoverSource: Optional[Source] = None

    # Backed by underscore attributes so tencentcloud's serialiser names them correctly
    # (the official plain attributes come out as "EdiaFilePath", "OverFilePath", ...).
    @property
    def MediaFilePath(self) -> Optional[str]:
        return self._MediaFilePath

    @MediaFilePath.setter
    def MediaFilePath(self, value: Optional[str]) -> None:
        self._MediaFilePath = value

    @property
    def CoverFilePath(self) -> Optional[str]:
        return self._CoverFilePath

    @CoverFilePath.setter
    def CoverFilePath(self, value: Optional[str]) -> None:
        self._CoverFilePath = value

    @property
    def ConcurrentUploadNumber(self) -> Optional[int]:
        return self._ConcurrentUploadNumber

    @ConcurrentUploadNumber.setter
    def ConcurrentUploadNumber(self, value: Optional[int]) -> None:
        self._ConcurrentUploadNumber = value

    @property
    def MediaSource(self) -> Optional[Source]:
        return self._MediaSource

    @MediaSource.setter
    def MediaSource(self, value: Optional[Source]) -> None:
        self._MediaSource = value

    @property
    def CoverSource(self) -> Optional[Source]:
        return self._CoverSource

    @CoverSource.setter
    def CoverSource(self, value: Optional[Source]) -> None:
        self._CoverSource = value

    def _serialize(self, allow_none: bool = False) -> dict[str, Any]:
        saved = {name: self.__dict__.pop(name) for name in self._LOCAL_ONLY if name in self.__dict__}
        try:
            result: dict[str, Any] = super()._serialize(allow_none)
        finally:
            self.__dict__.update(saved)
        return result

    def _deserialize(self, params: dict[str, Any]) -> None:
        local = ("MediaFilePath", "CoverFilePath", "ConcurrentUploadNumber")
        super()._deserialize({k: v for k, v in params.items() if k not in local})
        self._MediaFilePath = params.get("MediaFilePath")
        self._CoverFilePath = params.get("CoverFilePath")
        self._ConcurrentUploadNumber = params.get("ConcurrentUploadNumber")


class VodUploadResponse(CommitUploadResponse):
    """FileId, MediaUrl, CoverUrl, RequestId (CommitUpload's reply)."""


# ------------------------------------------------------------------------------------ resolution


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$",
)


def parse_expire_time(value: str) -> datetime:
    """ISO 8601 with a time zone (``2030-01-01T00:00:00Z``, ``...+08:00``); raises InvalidParameter.ExpireTime."""
    match = _ISO.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise VodValidationError(
            "InvalidParameter.ExpireTime", "ExpireTime", value, "is not ISO 8601 like 2030-01-01T00:00:00Z"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone = match.group(8)
    if zone == "Z":
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise VodValidationError(
            "InvalidParameter.ExpireTime", "ExpireTime", value, f"is not a valid time ({exc})"
        ) from exc


def _int_field(request: VodUploadRequest, name: str, code: str, minimum: int) -> Optional[int]:
    value = getattr(request, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise VodValidationError(code, name, value, "must be an integer")
    try:
        number = int(value)
    except ValueError as exc:
        raise VodValidationError(code, name, value, "must be an integer") from exc
    if number < minimum:
        raise VodValidationError(code, name, value, f"must be >= {minimum}")
    return number


@dataclass
class ResolvedRequest:
    """The effective upload: sources, ApplyUpload fields (defaults filled) and the manifest package."""

    media: Source
    cover: Optional[Source]
    apply_fields: dict[str, Any]
    concurrency: int
    package: Optional[ManifestPackage] = None
    media_type: str = ""
    cover_type: Optional[str] = None
    extras: dict[str, Any] = field(default_factory=dict)


# Parts in flight when ConcurrentUploadNumber is unset, chosen by measurement: `make bench` sweeps 2/5/8/16 at 1 GiB
# under the network model (bench/results.md, "Library concurrency": 90/216/326/347 MB/s); 8 gets 94 % of 16's rate
# with half the connections, and memory stays 8 x a 256 KiB chunk. (The official SDK's is 5, cos-python-sdk-v5's
# upload_file MAXThread, which the library used before.)
DEFAULT_CONCURRENCY = 8

# API 3.0 regions (the same list as the emulator's core/regions.py, with its sources; a test keeps them equal).
KNOWN_REGIONS = frozenset(
    {
        "ap-guangzhou", "ap-guangzhou-open", "ap-shanghai", "ap-nanjing", "ap-beijing", "ap-tianjin", "ap-chengdu",
        "ap-chongqing", "ap-hangzhou-ec", "ap-jinan-ec", "ap-shanghai-fsi", "ap-shenzhen-fsi", "ap-beijing-fsi",
        "ap-hongkong", "ap-taipei", "ap-singapore", "ap-jakarta", "ap-bangkok", "ap-tokyo", "ap-seoul", "ap-mumbai",
        "na-siliconvalley", "na-ashburn", "na-toronto", "eu-frankfurt", "eu-moscow", "sa-saopaulo",
    }
)  # fmt: skip
REGION_RE = re.compile(r"^[a-z]{2}-[a-z]+(?:-[a-z0-9]+)*$")


def check_region(region: str, known: bool = True) -> None:
    """``ap-guangzhou``-shaped, and (unless ``known`` is False: ``ignore_check``) a region the API has."""
    if not region:
        raise VodValidationError("MissingParameter", "region", region, "lack region")
    if not REGION_RE.match(str(region)):
        raise VodValidationError("UnsupportedRegion", "region", region, "is not a region name like ap-guangzhou")
    if known and region not in KNOWN_REGIONS:
        raise VodValidationError(
            "UnsupportedRegion",
            "region",
            region,
            f"is not a Tencent Cloud API region ({', '.join(sorted(KNOWN_REGIONS))})",
        )


def check_local_file(path: str, field: str, allow_empty: bool = False) -> None:
    """The checks a local path gets before any request: it exists, is a file, can be read, and is not empty."""
    if not os.path.exists(path):
        raise VodValidationError(
            "ResourceNotFound", field, path, f"{field.replace('FilePath', '').lower()} path is invalid (no such file)"
        )
    if os.path.isdir(path):
        raise VodValidationError("InvalidParameter", field, path, "is a directory, not a file")
    if not os.path.isfile(path):
        raise VodValidationError("InvalidParameter", field, path, "is not a regular file")
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise VodValidationError("InvalidParameter", field, path, f"cannot be read ({exc.strerror})") from exc
    if not allow_empty and os.path.getsize(path) == 0:
        code = "InvalidParameterValue.MediaSize" if field == "MediaFilePath" else "InvalidParameterValue.CoverSize"
        raise VodValidationError(code, field, path, "is empty (0 bytes): VOD accepts no empty file")


def check_expire_time(value: str, now: Optional[datetime] = None) -> datetime:
    """ISO 8601 with a zone, and in the future (VOD refuses media that would expire before it exists)."""
    when = parse_expire_time(value)
    now = now or datetime.now(timezone.utc)
    if when <= now:
        raise VodValidationError(
            "InvalidParameter.ExpireTime",
            "ExpireTime",
            value,
            f"is in the past (now {now.strftime('%Y-%m-%dT%H:%M:%SZ')})",
        )
    return when


def resolve_request(
    region: str, request: VodUploadRequest, ignore_check: bool = False, collect: bool = True
) -> ResolvedRequest:
    """Validate ``request`` and compute its effective values without changing it.

    Local checks raise the codes the service would (InvalidParameterValue.MediaType / CoverType,
    InvalidParameter.ExpireTime, ...) before any request. ``ignore_check`` (the official flag)
    leaves value checks (types, lengths, time format) to the service; sources must still exist.
    ``collect=False`` checks the fields only and leaves a manifest's package to the caller (the
    pipeline walks packages staged in COS itself).
    """
    if not region:
        raise VodValidationError("MissingParameter", "region", region, "lack region")
    if not isinstance(request, ApplyUploadRequest):
        raise VodClientException(f"request must be a VodUploadRequest, not {type(request).__name__}", "ClientError")

    media: Optional[Source] = getattr(request, "MediaSource", None)
    media_path = getattr(request, "MediaFilePath", None)
    if media is None:
        if not media_path:
            raise VodValidationError("MissingParameter", "MediaFilePath", media_path, "lack media path")
        check_local_file(media_path, "MediaFilePath")
        media = LocalFileSource(media_path)
    media_type = request.MediaType or extension_of(media.name)
    if not media_type:
        raise VodValidationError("MissingParameter", "MediaType", request.MediaType, "lack media type")
    media_name = request.MediaName if request.MediaName else name_of(media.name)

    cover: Optional[Source] = getattr(request, "CoverSource", None)
    cover_path = getattr(request, "CoverFilePath", None)
    if cover is None and cover_path:
        check_local_file(cover_path, "CoverFilePath")
        cover = LocalFileSource(cover_path)
    cover_type = request.CoverType
    if cover is not None and not cover_type:
        cover_type = extension_of(cover.name)
        if not cover_type:
            raise VodValidationError("MissingParameter", "CoverType", request.CoverType, "lack cover type")

    concurrency = _int_field(request, "ConcurrentUploadNumber", "InvalidParameterValue.ConcurrentUploadNumber", 1)
    if not ignore_check:
        if media_type.lower() not in MEDIA_TYPES:
            raise VodValidationError("InvalidParameterValue.MediaType", "MediaType", media_type, "invalid media type")
        if cover_type and cover_type.lower() not in COVER_TYPES:
            raise VodValidationError("InvalidParameterValue.CoverType", "CoverType", cover_type, "invalid cover type")
        if request.ExpireTime is not None:
            check_expire_time(request.ExpireTime)
        if request.SourceContext is not None and len(str(request.SourceContext)) > MAX_SOURCE_CONTEXT:
            raise VodValidationError(
                "InvalidParameterValue.SourceContext",
                "SourceContext",
                request.SourceContext,
                f"is {len(str(request.SourceContext))} characters, at most {MAX_SOURCE_CONTEXT} allowed",
            )
        if request.SessionContext is not None and len(str(request.SessionContext)) > MAX_SESSION_CONTEXT:
            raise VodValidationError(
                "InvalidParameterValue.SessionContextTooLong",
                "SessionContext",
                request.SessionContext,
                f"is {len(str(request.SessionContext))} characters, at most {MAX_SESSION_CONTEXT} allowed",
            )
        _int_field(request, "SubAppId", "InvalidParameterValue.SubAppId", 1)
        _int_field(request, "ClassId", "InvalidParameterValue.ClassId", 0)
        if request.MediaStoragePath is not None and not str(request.MediaStoragePath).startswith("/"):
            raise VodValidationError(
                "InvalidParameterValue.MediaStoragePath",
                "MediaStoragePath",
                request.MediaStoragePath,
                "must start with /",
            )

    package = None
    if collect and manifest_kind(media_type) is not None:
        if not isinstance(media, LocalFileSource):
            raise VodValidationError(
                "InvalidParameterValue.MediaType", "MediaSource", media.describe(), "manifests must be local files"
            )
        package = collect_package(media.path)

    fields = {name: getattr(request, name) for name in APPLY_FIELDS}
    fields["MediaType"] = media_type
    fields["MediaName"] = media_name
    fields["CoverType"] = cover_type if cover is not None else request.CoverType
    return ResolvedRequest(
        media=media,
        cover=cover,
        apply_fields={k: v for k, v in fields.items() if v is not None},
        concurrency=concurrency or DEFAULT_CONCURRENCY,
        package=package,
        media_type=media_type,
        cover_type=fields["CoverType"],
    )
