"""The VOD model: sub-apps, storage regions, task flows, classes, upload sessions and media. No HTTP here.

Rules come from shared/reference/vod.md §2 and wire-shapes.md §2 (ApplyUpload/CommitUpload fields,
error codes from the SDK's ``vod/v20180717/errorcodes.py``); choices where the sources are silent
are in FIDELITY.md (## VOD). VOD's storage is ordinary COS: one VOD-owned bucket per storage
region, created through ``cloud.cos``; uploads reach it with a TempCertificate, a temporary key
scoped to the session's directory.
"""

from __future__ import annotations

import base64
import fnmatch
import posixpath
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from tencent_emulator.core.cloud import REGION_SHORT
from tencent_emulator.core.iam import KeyRecord, Scope, Statement
from tencent_emulator.core.regions import is_vod_storage_region

NEVER_EXPIRES = "9999-12-31T23:59:59Z"
MAIN_APP = 0

# VOD FAQ 266/2846 (reference/vod.md §2.6); m3u8 is listed, mpd is accepted by the SDK and ParseStreamingManifest.
VIDEO_TYPES = frozenset(
    (
        "wmv rm mov mpeg mp4 3gp flv avi rmvb ts asf mpg webm mkv m3u8 wm asx ram mpe vob dat"
        " mp4v m4v f4v mxf qt ogg mpd"
    ).split()
)
AUDIO_TYPES = frozenset("mp3 m4a flac ogg wav ra aac amr".split())
MEDIA_TYPES = VIDEO_TYPES | AUDIO_TYPES
COVER_TYPES = frozenset("jpg jpeg png gif bmp tiff ai cdr eps tif heif".split())

SOURCE_CONTEXT_MAX = 250
SESSION_CONTEXT_MAX = 1000

# The actions a TempCertificate allows on its session directory (what cos-python-sdk-v5's
# put_object / upload_file send, the resume probe of upload_file included).
CERT_OBJECT_ACTIONS = (
    "cos:PutObject",
    "cos:PostObject",
    "cos:InitiateMultipartUpload",
    "cos:UploadPart",
    "cos:ListParts",
    "cos:CompleteMultipartUpload",
    "cos:AbortMultipartUpload",
    "cos:HeadObject",
    "cos:ListMultipartUploads",
)


class VodError(Exception):
    """A VOD API error with its Tencent code (rendered by the front as an API 3.0 error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso8601(value: str) -> float:
    """ISO 8601 with a time zone (``2030-01-01T00:00:00Z`` or ``...+08:00``) → epoch; ValueError otherwise."""
    text = value.strip()
    if "T" not in text:
        raise ValueError("no time part")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed.timestamp()


def _glob_escape(text: str) -> str:
    """Make a literal path safe inside an fnmatch pattern."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


@dataclass
class SubApp:
    sub_app_id: int
    name: str
    path_mode: bool = False  # "FileID + Path" storage mode: MediaStoragePath may be chosen by the caller


@dataclass
class MediaClass:
    class_id: int
    name: str
    parent_id: int = -1
    sub_app_id: int = MAIN_APP


@dataclass
class StorageRegion:
    region: str
    bucket: str  # name-appid, a COS bucket owned by VOD
    root: str  # first path component of every storage path in this region


@dataclass
class UploadSession:
    """One ApplyUpload: where the bytes go and what CommitUpload will make of them."""

    key: str
    sub_app_id: int
    file_id: str
    media_type: str
    media_name: str
    cover_type: Optional[str]
    procedure: Optional[str]
    expire_time: Optional[float]
    storage_region: str
    bucket: str
    media_path: str  # starts with "/"
    cover_path: Optional[str]
    class_id: int
    source_context: str
    session_context: str
    ext_info: Optional[str]
    created: float
    expires_at: float
    certificate: KeyRecord
    committed_file_id: Optional[str] = None

    @property
    def directory(self) -> str:
        """The COS key prefix (no leading "/") that holds the media, its cover and its HLS segments."""
        return posixpath.dirname(self.media_path)[1:]


@dataclass
class Media:
    """One committed media file, as DescribeMediaInfos/SearchMedia report it."""

    file_id: str
    sub_app_id: int
    name: str
    type: str
    category: str
    class_id: int
    storage_region: str
    bucket: str
    media_path: str
    cover_path: Optional[str]
    directory: str
    media_url: str
    cover_url: str
    size: int
    create_time: float
    update_time: float
    expire_time: Optional[float]
    source_context: str
    session_context: str
    procedure: Optional[str]
    procedure_task_id: str
    session_key: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = "Normal"
    storage_class: str = "STANDARD"
    original_deleted: bool = False


class VodModel:
    """All VOD state of the emulated account."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.certificate_lifetime_s = 3600.0
        self.session_lifetime_s = 24 * 3600.0
        self.sub_apps: dict[int, SubApp] = {MAIN_APP: SubApp(MAIN_APP, "main")}
        self.storage_regions: dict[str, Optional[StorageRegion]] = {cloud.region: None}
        self.procedures: dict[int, set[str]] = {MAIN_APP: set()}
        self.classes: dict[int, dict[int, MediaClass]] = {MAIN_APP: {0: MediaClass(0, "Other")}}
        self.sessions: dict[str, UploadSession] = {}
        self._media: dict[str, Media] = {}
        self._file_ids: set[str] = set()
        self._lock = threading.RLock()

    # -- account setup (tests and demos) ---------------------------------------------------
    def add_sub_app(self, sub_app_id: int, name: Optional[str] = None, path_mode: bool = False) -> SubApp:
        with self._lock:
            app = SubApp(int(sub_app_id), name or f"subapp-{sub_app_id}", path_mode)
            self.sub_apps[app.sub_app_id] = app
            self.procedures.setdefault(app.sub_app_id, set())
            self.classes.setdefault(app.sub_app_id, {0: MediaClass(0, "Other", sub_app_id=app.sub_app_id)})
            return app

    def add_storage_region(self, region: str) -> None:
        """Enable a storage region for the account (CreateStorageRegion); it must be one VOD has."""
        if not is_vod_storage_region(region):
            raise ValueError(f"{region!r} is not a VOD storage region")
        with self._lock:
            self.storage_regions.setdefault(region, None)

    def add_procedure(self, name: str, sub_app_id: Optional[int] = None) -> None:
        app = self._app(sub_app_id)
        with self._lock:
            self.procedures[app.sub_app_id].add(name)

    def add_class(
        self, class_id: int, sub_app_id: Optional[int] = None, name: Optional[str] = None, parent_id: int = -1
    ) -> MediaClass:
        app = self._app(sub_app_id)
        with self._lock:
            cls = MediaClass(int(class_id), name or f"class-{class_id}", parent_id, app.sub_app_id)
            self.classes[app.sub_app_id][cls.class_id] = cls
            return cls

    # -- look-ups --------------------------------------------------------------------------
    def _app(self, sub_app_id: Optional[int]) -> SubApp:
        key = MAIN_APP if not sub_app_id else int(sub_app_id)
        with self._lock:
            app = self.sub_apps.get(key)
        if app is None:
            raise VodError("InvalidParameterValue.SubAppId", f"SubAppId {sub_app_id} does not exist.")
        return app

    def media(self, file_id: str) -> Optional[Media]:
        """A live media file (not deleted, not past its ExpireTime), any sub-app."""
        with self._lock:
            m = self._media.get(file_id)
        if m is None or self._expired(m):
            return None
        return m

    def all_media(self, sub_app_id: Optional[int] = None) -> list[Media]:
        """Live media of one sub-app (``None``: of every sub-app), oldest first."""
        with self._lock:
            items = list(self._media.values())
        return [
            m
            for m in sorted(items, key=lambda m: (m.create_time, m.file_id))
            if not self._expired(m) and (sub_app_id is None or m.sub_app_id == (sub_app_id or MAIN_APP))
        ]

    def _expired(self, m: Media) -> bool:
        return m.expire_time is not None and self.cloud.clock.now() >= m.expire_time

    def class_path(self, sub_app_id: int, class_id: int) -> tuple[str, str]:
        """(ClassName, ClassPath); the path joins ancestors with "-"."""
        classes = self.classes.get(sub_app_id, {})
        cls = classes.get(class_id)
        if cls is None:
            return ("Other", "Other")
        names = [cls.name]
        seen = {cls.class_id}
        parent = classes.get(cls.parent_id)
        while parent is not None and parent.class_id not in seen:
            names.insert(0, parent.name)
            seen.add(parent.class_id)
            parent = classes.get(parent.parent_id)
        return cls.name, "-".join(names)

    def descendant_classes(self, sub_app_id: int, class_ids: list[int]) -> set[int]:
        classes = self.classes.get(sub_app_id, {})
        out = set(class_ids)
        changed = True
        while changed:
            changed = False
            for c in classes.values():
                if c.parent_id in out and c.class_id not in out:
                    out.add(c.class_id)
                    changed = True
        return out

    # -- storage ---------------------------------------------------------------------------
    def _storage(self, region: str) -> StorageRegion:
        """The VOD bucket of a region, created in COS on first use."""
        with self._lock:
            if region not in self.storage_regions:
                raise VodError("InvalidParameter.StorageRegion", f"Storage region {region} is not enabled.")
            existing = self.storage_regions[region]
            if existing is not None:
                return existing
            short = _region_short(region)
            appid = self.cloud.app_id
            bucket = f"vod{short}p{appid}-{appid}"
            root = f"{secrets.token_hex(4)}vod{short}p{appid}"
            self.cloud.cos.create_bucket(bucket, region)
            storage = StorageRegion(region=region, bucket=bucket, root=root)
            self.storage_regions[region] = storage
            return storage

    def storage_for_root(self, root: str) -> Optional[StorageRegion]:
        with self._lock:
            return next((s for s in self.storage_regions.values() if s is not None and s.root == root), None)

    def media_url(self, path: str) -> str:
        return f"http://{self.cloud.app_id}.vod2.myqcloud.com{path}"

    def _new_file_id(self) -> str:
        with self._lock:
            while True:
                fid = str(5285890784273533167 + secrets.randbelow(10**17) * 2)
                if fid not in self._file_ids and str(int(fid) + 1) not in self._file_ids:
                    self._file_ids.add(fid)
                    return fid

    # -- ApplyUpload -----------------------------------------------------------------------
    def apply_upload(
        self,
        *,
        media_type: str,
        sub_app_id: Optional[int] = None,
        media_name: Optional[str] = None,
        cover_type: Optional[str] = None,
        procedure: Optional[str] = None,
        expire_time: Optional[str] = None,
        storage_region: Optional[str] = None,
        class_id: Optional[int] = None,
        source_context: Optional[str] = None,
        session_context: Optional[str] = None,
        ext_info: Optional[str] = None,
        media_storage_path: Optional[str] = None,
    ) -> UploadSession:
        """Validate like VOD does, then open a session with its storage paths and TempCertificate."""
        mtype = media_type.lower()
        if mtype not in MEDIA_TYPES:
            raise VodError("InvalidParameterValue.MediaType", f"invalid media type: {media_type}")
        ctype = cover_type.lower() if cover_type else None
        if cover_type is not None and ctype not in COVER_TYPES:
            raise VodError("InvalidParameterValue.CoverType", f"invalid cover type: {cover_type}")
        app = self._app(sub_app_id)
        expires: Optional[float] = None
        if expire_time is not None:
            try:
                expires = parse_iso8601(expire_time)
            except ValueError:
                raise VodError("InvalidParameter.ExpireTime", f"ExpireTime `{expire_time}` is not ISO 8601.") from None
            if expires <= self.cloud.clock.now():
                raise VodError("InvalidParameterValue.ExpireTime", "ExpireTime is in the past.")
        if storage_region and not is_vod_storage_region(storage_region):
            raise VodError("InvalidParameterValue.StorageRegion", f"StorageRegion `{storage_region}` does not exist.")
        region = storage_region or self.cloud.region
        with self._lock:
            if region not in self.storage_regions:
                raise VodError("InvalidParameter.StorageRegion", f"Storage region {region} is not enabled.")
        cid = class_id or 0
        with self._lock:
            if cid not in self.classes.get(app.sub_app_id, {}):
                raise VodError("InvalidParameterValue.ClassId", f"ClassId {cid} does not exist.")
            if procedure and procedure not in self.procedures.get(app.sub_app_id, set()):
                raise VodError("InvalidParameterValue.Procedure", f"Procedure `{procedure}` does not exist.")
        if source_context is not None and len(source_context) > SOURCE_CONTEXT_MAX:
            raise VodError("InvalidParameterValue", f"SourceContext is longer than {SOURCE_CONTEXT_MAX} characters.")
        if session_context is not None and len(session_context) > SESSION_CONTEXT_MAX:
            raise VodError(
                "InvalidParameterValue.SessionContextTooLong",
                f"SessionContext is longer than {SESSION_CONTEXT_MAX} characters.",
            )
        storage = self._storage(region)
        file_id = self._new_file_id()
        if media_storage_path is not None:
            media_path = self._check_custom_path(app, media_storage_path, storage)
        else:
            media_path = f"/{storage.root}/{secrets.token_hex(4)}{file_id}/f0.{mtype}"
        directory = posixpath.dirname(media_path)
        cover_path = f"{directory}/{int(file_id) + 1}.{ctype}" if ctype else None
        now = self.cloud.clock.now()
        cert = self.cloud.iam.issue_temporary(
            f"vod-upload:{file_id}", self.certificate_lifetime_s, self._certificate_scope(storage.bucket, directory)
        )
        session = UploadSession(
            key=_session_key(),
            sub_app_id=app.sub_app_id,
            file_id=file_id,
            media_type=mtype,
            media_name=media_name if media_name else posixpath.basename(media_path).rsplit(".", 1)[0],
            cover_type=ctype,
            procedure=procedure or None,
            expire_time=expires,
            storage_region=region,
            bucket=storage.bucket,
            media_path=media_path,
            cover_path=cover_path,
            class_id=cid,
            source_context=source_context or "",
            session_context=session_context or "",
            ext_info=ext_info,
            created=now,
            expires_at=now + self.session_lifetime_s,
            certificate=cert,
        )
        with self._lock:
            self.sessions[session.key] = session
        return session

    def _check_custom_path(self, app: SubApp, path: str, storage: StorageRegion) -> str:
        if not app.path_mode:
            raise VodError(
                "InvalidParameterValue.MediaStoragePath",
                "MediaStoragePath is only accepted by sub-apps in FileID + Path storage mode.",
            )
        parts = path.split("/")
        if not path.startswith("/") or path.endswith("/") or any(p in ("", ".", "..") for p in parts[1:]):
            raise VodError("InvalidParameterValue.MediaStoragePath", f"MediaStoragePath `{path}` is invalid.")
        with self._lock:
            taken = any(m.media_path == path for m in self._media.values() if m.bucket == storage.bucket)
        if taken:
            raise VodError("InvalidParameterValue.MediaStoragePath", f"MediaStoragePath `{path}` is in use.")
        return path

    @staticmethod
    def _certificate_scope(bucket: str, directory: str) -> Scope:
        """Object actions under the session directory only (segments keep their relative sub-paths)."""
        prefix = f"{bucket}/{_glob_escape(directory[1:])}/*"
        return Scope(statements=(Statement(actions=CERT_OBJECT_ACTIONS, resources=(prefix,)),))

    # -- CommitUpload ----------------------------------------------------------------------
    def commit_upload(self, session_key: str, sub_app_id: Optional[int] = None) -> Media:
        with self._lock:
            session = self.sessions.get(session_key)
        if session is None:
            raise VodError("InvalidParameterValue.VodSessionKey", "The VOD session is invalid.")
        if session.sub_app_id != (sub_app_id or MAIN_APP):
            raise VodError("InvalidParameterValue.SubAppId", "The session belongs to another SubAppId.")
        if session.committed_file_id is not None:
            raise VodError("InvalidParameterValue.VodSessionKey", "The VOD session has already been committed.")
        if self.cloud.clock.now() >= session.expires_at:
            raise VodError("InvalidParameterValue.VodSessionKey", "The VOD session has expired.")
        info = self.cloud.cos.head_object(session.bucket, session.media_path[1:])
        if info is None:
            raise VodError("ResourceNotFound", "The media file has not been uploaded to the storage path.")
        if session.cover_path and self.cloud.cos.head_object(session.bucket, session.cover_path[1:]) is None:
            raise VodError("ResourceNotFound", "The cover file has not been uploaded to the storage path.")
        now = self.cloud.clock.now()
        with self._lock:
            if session.committed_file_id is not None:  # a concurrent commit won
                raise VodError("InvalidParameterValue.VodSessionKey", "The VOD session has already been committed.")
            session.committed_file_id = session.file_id
            media = Media(
                file_id=session.file_id,
                sub_app_id=session.sub_app_id,
                name=session.media_name,
                type=session.media_type,
                category="Audio" if session.media_type in AUDIO_TYPES - VIDEO_TYPES else "Video",
                class_id=session.class_id,
                storage_region=session.storage_region,
                bucket=session.bucket,
                media_path=session.media_path,
                cover_path=session.cover_path,
                directory=session.directory,
                media_url=self.media_url(session.media_path),
                cover_url=self.media_url(session.cover_path) if session.cover_path else "",
                size=info.size,
                create_time=now,
                update_time=now,
                expire_time=session.expire_time,
                source_context=session.source_context,
                session_context=session.session_context,
                procedure=session.procedure,
                procedure_task_id=(
                    f"{self.cloud.app_id}-procedurev2-{secrets.token_hex(16)}t0" if session.procedure else ""
                ),
                session_key=session.key,
            )
            self._media[media.file_id] = media
        return media

    # -- DeleteMedia -----------------------------------------------------------------------
    def delete_media(self, file_id: str, sub_app_id: Optional[int] = None, parts: Optional[list[str]] = None) -> None:
        """Delete a media file and its stored objects (``parts`` ``["OriginalFiles"]``: only the original)."""
        app = self._app(sub_app_id)
        media = self.media(file_id)
        if media is None or media.sub_app_id != app.sub_app_id:
            raise VodError("ResourceNotFound.FileNotExist", f"The file {file_id} does not exist.")
        if parts and "OriginalFiles" not in parts:
            return  # transcodes and other derived files are not emulated: nothing to remove
        self._delete_objects(media)
        with self._lock:
            if parts:
                media.original_deleted = True
                media.media_url = ""
                media.size = 0
                media.update_time = self.cloud.clock.now()
            else:
                self._media.pop(file_id, None)

    def _delete_objects(self, media: Media) -> None:
        cos = self.cloud.cos
        marker = ""
        while True:
            listing = cos.list_objects(media.bucket, prefix=media.directory + "/", marker=marker)
            for info in listing.contents:
                cos.delete_object(media.bucket, info.key)
            if not listing.truncated or not listing.next_marker:
                break
            marker = listing.next_marker

    # -- serving ---------------------------------------------------------------------------
    def served_object(self, path: str) -> Optional[tuple[str, str]]:
        """(bucket, key) a media URL path may serve: objects under a live media file's directory."""
        parts = path.lstrip("/").split("/", 1)
        storage = self.storage_for_root(parts[0])
        if storage is None or len(parts) < 2:
            return None
        key = path.lstrip("/")
        with self._lock:
            items = list(self._media.values())
        for m in items:
            if m.bucket != storage.bucket or self._expired(m) or m.original_deleted:
                continue
            if fnmatch.fnmatchcase(key, _glob_escape(m.directory) + "/*"):
                return storage.bucket, key
        return None


def _region_short(region: str) -> str:
    return REGION_SHORT.get(region, region.replace("-", ""))


def _session_key() -> str:
    return base64.b64encode(secrets.token_bytes(120)).decode("ascii")
