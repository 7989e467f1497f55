"""VOD API 3.0 front (``vod.tencentcloudapi.com``, version 2018-07-17).

Parameter parsing and reply shapes follow tencentcloud-sdk-python ``vod/v20180717/models.py``
(ApplyUpload, CommitUpload, DescribeMediaInfos, SearchMedia, DeleteMedia, ParseStreamingManifest);
the rules live in :mod:`tencent_emulator.vod.models`.
"""

from __future__ import annotations

from typing import Any, Optional

from tencent_emulator.core.regions import is_vod_storage_region
from tencent_emulator.core.tc3 import ApiError, CallContext, Tc3Front
from tencent_emulator.vod.manifests import MANIFEST_TYPES, ManifestError, parse_manifest
from tencent_emulator.vod.models import Media, VodError, parse_iso8601

DESCRIBE_FILTERS = frozenset(
    {
        "basicInfo",
        "metaData",
        "transcodeInfo",
        "animatedGraphicsInfo",
        "sampleSnapshotInfo",
        "imageSpriteInfo",
        "snapshotByTimeOffsetInfo",
        "keyFrameDescInfo",
        "adaptiveDynamicStreamingInfo",
        "miniProgramReviewInfo",
        "subtitleInfo",
        "reviewInfo",
    }
)
# MediaInfo members DescribeMediaInfos fills in, by filter name; the others are null (not emulated).
_INFO_KEYS = {
    "basicInfo": "BasicInfo",
    "metaData": "MetaData",
    "transcodeInfo": "TranscodeInfo",
    "animatedGraphicsInfo": "AnimatedGraphicsInfo",
    "sampleSnapshotInfo": "SampleSnapshotInfo",
    "imageSpriteInfo": "ImageSpriteInfo",
    "snapshotByTimeOffsetInfo": "SnapshotByTimeOffsetInfo",
    "keyFrameDescInfo": "KeyFrameDescInfo",
    "adaptiveDynamicStreamingInfo": "AdaptiveDynamicStreamingInfo",
    "miniProgramReviewInfo": "MiniProgramReviewInfo",
    "subtitleInfo": "SubtitleInfo",
    "reviewInfo": "ReviewInfo",
}
SEARCH_TOTAL_CAP = 5000


class Params:
    """Typed access to the JSON parameters, with the API's strictness on unknown names and types."""

    def __init__(self, raw: dict[str, Any], known: frozenset[str]) -> None:
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ApiError("UnknownParameter", f"The parameter `{unknown[0]}` is not recognized.")
        self.raw = raw

    def get_str(self, name: str, required: bool = False) -> Optional[str]:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise ApiError("MissingParameter", f"The request is missing a required parameter `{name}`.")
            return None
        if not isinstance(value, str):
            raise ApiError("InvalidParameter", f"The parameter `{name}` must be a String.")
        return value

    def get_int(self, name: str) -> Optional[int]:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError("InvalidParameter", f"The parameter `{name}` must be an Integer.")
        return value

    def get_list(
        self, name: str, item: type, limit: Optional[int] = None, code: str = "InvalidParameterValue"
    ) -> list[Any]:
        value = self.raw.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, item) and not isinstance(v, bool) for v in value):
            raise ApiError("InvalidParameter", f"The parameter `{name}` must be an Array of {item.__name__}.")
        if limit is not None and len(value) > limit:
            raise ApiError(code, f"The parameter `{name}` has more than {limit} elements.")
        return value

    def get_dict(self, name: str) -> Optional[dict[str, Any]]:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ApiError("InvalidParameter", f"The parameter `{name}` must be an Object.")
        return value


def _vod(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except VodError as exc:
        raise ApiError(exc.code, exc.message) from None


class VodFront(Tc3Front):
    service = "vod"
    version = "2018-07-17"
    actions_needing_region = frozenset({"ApplyUpload", "CommitUpload"})

    # -- upload ----------------------------------------------------------------------------
    def action_ApplyUpload(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(
            raw,
            frozenset(
                {
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
                }
            ),
        )
        session = _vod(
            self.cloud.vod.apply_upload,
            media_type=p.get_str("MediaType", required=True) or "",
            sub_app_id=p.get_int("SubAppId"),
            media_name=p.get_str("MediaName"),
            cover_type=p.get_str("CoverType"),
            procedure=p.get_str("Procedure"),
            expire_time=p.get_str("ExpireTime"),
            storage_region=p.get_str("StorageRegion"),
            class_id=p.get_int("ClassId"),
            source_context=p.get_str("SourceContext"),
            session_context=p.get_str("SessionContext"),
            ext_info=p.get_str("ExtInfo"),
            media_storage_path=p.get_str("MediaStoragePath"),
        )
        cert = session.certificate
        return {
            "StorageBucket": session.bucket,
            "StorageRegion": session.storage_region,
            "VodSessionKey": session.key,
            "MediaStoragePath": session.media_path,
            "CoverStoragePath": session.cover_path,
            "TempCertificate": {
                "SecretId": cert.secret_id,
                "SecretKey": cert.secret_key,
                "Token": cert.token,
                "ExpiredTime": int(cert.expires_at or 0),
            },
        }

    def action_CommitUpload(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"VodSessionKey", "SubAppId"}))
        key = p.get_str("VodSessionKey", required=True) or ""
        media: Media = _vod(self.cloud.vod.commit_upload, key, p.get_int("SubAppId"))
        return {"FileId": media.file_id, "MediaUrl": media.media_url, "CoverUrl": media.cover_url or None}

    def action_ParseStreamingManifest(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"MediaManifestContent", "ManifestType", "SubAppId"}))
        content = p.get_str("MediaManifestContent", required=True) or ""
        mtype = p.get_str("ManifestType") or "m3u8"
        if mtype not in MANIFEST_TYPES:
            raise ApiError("InvalidParameterValue", f"ManifestType must be one of {', '.join(MANIFEST_TYPES)}.")
        try:
            segments = parse_manifest(content, mtype)
        except ManifestError as exc:
            raise ApiError("InvalidParameterValue.MediaManifestContent", str(exc)) from None
        return {"MediaSegmentSet": segments}

    # -- media -----------------------------------------------------------------------------
    def action_DescribeMediaInfos(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"FileIds", "Filters", "SubAppId"}))
        if "FileIds" not in raw:
            raise ApiError("MissingParameter", "The request is missing a required parameter `FileIds`.")
        file_ids = p.get_list("FileIds", str)
        if not file_ids:
            raise ApiError("InvalidParameterValue.FileIdsEmpty", "FileIds is empty.")
        if len(file_ids) > 20:
            raise ApiError("InvalidParameterValue.FileIdsTooMany", "FileIds has more than 20 elements.")
        filters = p.get_list("Filters", str)
        bad = [f for f in filters if f not in DESCRIBE_FILTERS]
        if bad:
            raise ApiError("InvalidParameterValue", f"Unknown filter `{bad[0]}`.")
        app = _vod(self.cloud.vod._app, p.get_int("SubAppId"))
        wanted = set(filters) or set(DESCRIBE_FILTERS)
        infos: list[dict[str, Any]] = []
        missing: list[str] = []
        for fid in file_ids:
            media = self.cloud.vod.media(fid)
            if media is None or media.sub_app_id != app.sub_app_id:
                if fid not in missing:
                    missing.append(fid)
                continue
            infos.append(self.media_info(media, wanted))
        return {"MediaInfoSet": infos, "NotExistFileIdSet": missing}

    def action_SearchMedia(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(
            raw,
            frozenset(
                {
                    "SubAppId",
                    "FileIds",
                    "Names",
                    "NamePrefixes",
                    "Descriptions",
                    "ClassIds",
                    "Tags",
                    "Categories",
                    "SourceTypes",
                    "StreamIds",
                    "CreateTime",
                    "ExpireTime",
                    "Sort",
                    "Offset",
                    "Limit",
                    "Filters",
                    "StorageRegions",
                    "StorageClasses",
                    "MediaTypes",
                    "Status",
                    "ReviewResults",
                    "TrtcSdkAppIds",
                    "TrtcRoomIds",
                    "Text",
                    "SourceType",
                    "StreamId",
                    "StartTime",
                    "EndTime",
                }
            ),
        )
        vod = self.cloud.vod
        app = _vod(vod._app, p.get_int("SubAppId"))
        file_ids = p.get_list("FileIds", str, 10, "InvalidParameterValue.FileIds")
        names = p.get_list("Names", str, 10, "InvalidParameterValue.Names")
        prefixes = p.get_list("NamePrefixes", str, 10, "InvalidParameterValue.NamePrefixes")
        descriptions = p.get_list("Descriptions", str, 10)
        class_ids = p.get_list("ClassIds", int, 10, "InvalidParameterValue.ClassIds")
        tags = p.get_list("Tags", str, 16)
        categories = p.get_list("Categories", str)
        source_types = p.get_list("SourceTypes", str, 10, "InvalidParameterValue.SourceTypes")
        regions = p.get_list("StorageRegions", str, 20, "InvalidParameterValue.StorageRegions")
        unknown_regions = [r for r in regions if not is_vod_storage_region(r)]
        if unknown_regions:
            raise ApiError("InvalidParameterValue.StorageRegions", f"Unknown storage region `{unknown_regions[0]}`.")
        storage_classes = p.get_list("StorageClasses", str)
        media_types = p.get_list("MediaTypes", str)
        statuses = p.get_list("Status", str)
        filters = p.get_list("Filters", str)
        if p.get_str("SourceType"):
            source_types = [*source_types, p.get_str("SourceType") or ""]
        text = p.get_str("Text")
        offset = p.get_int("Offset") or 0
        limit = p.get_int("Limit")
        limit = 10 if limit is None else limit
        if offset < 0:
            raise ApiError("InvalidParameterValue.Offset", "Offset must not be negative.")
        if limit < 0:
            raise ApiError("InvalidParameterValue.Limit", "Limit must not be negative.")
        if offset + limit > SEARCH_TOTAL_CAP:
            raise ApiError("InvalidParameterValue.LimitTooLarge", "Offset + Limit may not exceed 5000.")
        after, before = self._time_range(p.get_dict("CreateTime"), "CreateTime")
        exp_after, exp_before = self._time_range(p.get_dict("ExpireTime"), "ExpireTime")
        sort = p.get_dict("Sort")
        descending = True
        if sort is not None:
            if sort.get("Field") != "CreateTime" or sort.get("Order") not in ("Asc", "Desc"):
                raise ApiError("InvalidParameterValue.Sort", "Sort must be {Field: CreateTime, Order: Asc|Desc}.")
            descending = sort["Order"] == "Desc"
        bad = [f for f in filters if f not in DESCRIBE_FILTERS]
        if bad:
            raise ApiError("InvalidParameterValue", f"Unknown filter `{bad[0]}`.")
        wanted_classes = vod.descendant_classes(app.sub_app_id, class_ids) if class_ids else None

        def keep(m: Media) -> bool:
            if file_ids and m.file_id not in file_ids:
                return False
            if names and not any(n.lower() in m.name.lower() for n in names):
                return False
            if text and text.lower() not in m.name.lower() and text.lower() not in m.description.lower():
                return False
            if prefixes and not any(m.name.startswith(x) for x in prefixes):
                return False
            if descriptions and not any(d.lower() in m.description.lower() for d in descriptions):
                return False
            if wanted_classes is not None and m.class_id not in wanted_classes:
                return False
            if tags and not set(tags) & set(m.tags):
                return False
            if categories and m.category not in categories:
                return False
            if source_types and "Upload" not in source_types:
                return False
            if regions and m.storage_region not in regions:
                return False
            if storage_classes and m.storage_class not in storage_classes:
                return False
            if media_types and m.type not in [t.lower() for t in media_types]:
                return False
            if statuses and m.status not in statuses:
                return False
            if after is not None and m.create_time < after:
                return False
            if before is not None and m.create_time >= before:
                return False
            expire = m.expire_time if m.expire_time is not None else float("inf")
            if exp_after is not None and expire < exp_after:
                return False
            return not (exp_before is not None and expire >= exp_before)

        found = [m for m in vod.all_media(app.sub_app_id) if keep(m)]
        found.sort(key=lambda m: (m.create_time, m.file_id), reverse=descending)
        wanted = set(filters) or set(DESCRIBE_FILTERS)
        page = found[offset : offset + limit]
        return {
            "TotalCount": min(len(found), SEARCH_TOTAL_CAP),
            "MediaInfoSet": [self.media_info(m, wanted) for m in page],
        }

    @staticmethod
    def _time_range(value: Optional[dict[str, Any]], name: str) -> tuple[Optional[float], Optional[float]]:
        if value is None:
            return None, None
        out: list[Optional[float]] = []
        for bound in ("After", "Before"):
            raw = value.get(bound)
            if raw is None:
                out.append(None)
                continue
            try:
                out.append(parse_iso8601(raw) if isinstance(raw, str) else None)
            except ValueError:
                raise ApiError(f"InvalidParameterValue.{name}", f"{name}.{bound} is not ISO 8601.") from None
            if out[-1] is None:
                raise ApiError(f"InvalidParameterValue.{name}", f"{name}.{bound} must be a String.")
        return out[0], out[1]

    def action_DeleteMedia(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"FileId", "SubAppId", "DeleteParts"}))
        fid = p.get_str("FileId", required=True) or ""
        parts = p.get_list("DeleteParts", dict)
        types = [str(x.get("Type", "")) for x in parts]
        _vod(self.cloud.vod.delete_media, fid, p.get_int("SubAppId"), types or None)
        return {}

    # -- event notification ----------------------------------------------------------------
    def action_ModifyEventConfig(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(
            raw,
            frozenset(
                {
                    "SubAppId",
                    "Mode",
                    "NotificationUrl",
                    "UploadMediaCompleteEventSwitch",
                    "DeleteMediaCompleteEventSwitch",
                    "PersistenceCompleteEventSwitch",
                    "SignKey",
                }
            ),
        )
        _vod(
            self.cloud.vod.modify_event_config,
            p.get_int("SubAppId"),
            mode=p.get_str("Mode"),
            notification_url=p.get_str("NotificationUrl"),
            upload=p.get_str("UploadMediaCompleteEventSwitch"),
            delete=p.get_str("DeleteMediaCompleteEventSwitch"),
            persistence=p.get_str("PersistenceCompleteEventSwitch"),
            sign_key=p.get_str("SignKey"),
        )
        return {}

    def action_DescribeEventConfig(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"SubAppId"}))
        cfg = _vod(self.cloud.vod.event_config, p.get_int("SubAppId"))
        return {
            "Mode": cfg.mode,
            "NotificationUrl": cfg.notification_url,
            "UploadMediaCompleteEventSwitch": cfg.upload,
            "DeleteMediaCompleteEventSwitch": cfg.delete,
            "PersistenceCompleteEventSwitch": cfg.persistence,
        }

    def action_PullEvents(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"SubAppId", "ExtInfo"}))
        p.get_str("ExtInfo")
        events = _vod(self.cloud.vod.pull_events, p.get_int("SubAppId"))
        return {"EventSet": events}

    def action_ConfirmEvents(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"EventHandles", "SubAppId", "ExtInfo"}))
        if "EventHandles" not in raw:
            raise ApiError("MissingParameter", "The request is missing a required parameter `EventHandles`.")
        handles = p.get_list("EventHandles", str, 16)
        p.get_str("ExtInfo")
        _vod(self.cloud.vod.confirm_events, handles, p.get_int("SubAppId"))
        return {}

    def action_DescribeEventsState(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"SubAppId"}))
        return {"CountOfEventsToPull": _vod(self.cloud.vod.events_state, p.get_int("SubAppId"))}

    # -- PullUpload and tasks --------------------------------------------------------------
    def action_PullUpload(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(
            raw,
            frozenset(
                {
                    "MediaUrl",
                    "MediaType",
                    "SubAppId",
                    "MediaName",
                    "CoverUrl",
                    "Procedure",
                    "ExpireTime",
                    "StorageRegion",
                    "ClassId",
                    "TasksPriority",
                    "SessionContext",
                    "SessionId",
                    "ExtInfo",
                    "SourceContext",
                    "MediaStoragePath",
                }
            ),
        )
        task = _vod(
            self.cloud.vod.pull_upload,
            p.get_str("MediaUrl", required=True) or "",
            media_type=p.get_str("MediaType"),
            sub_app_id=p.get_int("SubAppId"),
            media_name=p.get_str("MediaName"),
            cover_url=p.get_str("CoverUrl"),
            procedure=p.get_str("Procedure"),
            expire_time=p.get_str("ExpireTime"),
            storage_region=p.get_str("StorageRegion"),
            class_id=p.get_int("ClassId"),
            tasks_priority=p.get_int("TasksPriority"),
            session_context=p.get_str("SessionContext"),
            session_id=p.get_str("SessionId"),
            ext_info=p.get_str("ExtInfo"),
            source_context=p.get_str("SourceContext"),
            media_storage_path=p.get_str("MediaStoragePath"),
        )
        return {"TaskId": task.task_id}

    def action_DescribeTaskDetail(self, raw: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        p = Params(raw, frozenset({"TaskId", "SubAppId"}))
        task_id = p.get_str("TaskId", required=True) or ""
        return dict(_vod(self.cloud.vod.task_detail, task_id, p.get_int("SubAppId")))

    # -- rendering -------------------------------------------------------------------------
    def media_info(self, m: Media, wanted: set[str]) -> dict[str, Any]:
        info: dict[str, Any] = {key: None for key in _INFO_KEYS.values()}
        info["FileId"] = m.file_id
        if "basicInfo" in wanted:
            info["BasicInfo"] = self.basic_info(m)
        if "metaData" in wanted:
            info["MetaData"] = self.cloud.vod.meta_data(m)
        # Outputs of finished procedures (null until a task of that kind has succeeded).
        if "transcodeInfo" in wanted and m.transcodes:
            info["TranscodeInfo"] = {"TranscodeSet": list(m.transcodes)}
        if "snapshotByTimeOffsetInfo" in wanted and m.snapshots:
            info["SnapshotByTimeOffsetInfo"] = {"SnapshotByTimeOffsetSet": list(m.snapshots)}
        if "imageSpriteInfo" in wanted and m.sprites:
            info["ImageSpriteInfo"] = {"ImageSpriteSet": list(m.sprites)}
        if "adaptiveDynamicStreamingInfo" in wanted and m.adaptive:
            info["AdaptiveDynamicStreamingInfo"] = {"AdaptiveDynamicStreamingSet": list(m.adaptive)}
        return info

    def basic_info(self, m: Media) -> dict[str, Any]:
        return dict(self.cloud.vod.basic_info(m))
