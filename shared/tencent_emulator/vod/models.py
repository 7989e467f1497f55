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
import hashlib
import posixpath
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import urljoin, urlsplit

from tencent_emulator.core.cloud import REGION_SHORT
from tencent_emulator.core.iam import KeyRecord, Scope, Statement
from tencent_emulator.core.regions import is_vod_storage_region
from tencent_emulator.vod.events import EventConfig, EventError, EventStore, QueuedEvent
from tencent_emulator.vod.manifests import ManifestError, parse_manifest
from tencent_emulator.vod.procedures import (
    DEFAULT_TASKS,
    TRANSCODE_PRESETS,
    Failure,
    ProcedureRun,
    ProcedureTemplate,
    TaskLike,
    TaskRun,
    TaskSpec,
    task_result,
)
from tencent_emulator.vod.pull import (
    DEDUP_WINDOW_S,
    SESSION_ID_MAX,
    TASK_KEEP_S,
    FetchError,
    PullTask,
    http_call,
    http_get,
)

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
    source_type: str = "Upload"
    # Outputs of finished procedure tasks (DescribeMediaInfos TranscodeInfo, ...): rendered SDK items.
    transcodes: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    sprites: list[dict[str, Any]] = field(default_factory=list)
    adaptive: list[dict[str, Any]] = field(default_factory=list)


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
        # -- after the commit: events, task flows, PullUpload (issue 14) ----------------------
        self.templates: dict[int, dict[str, ProcedureTemplate]] = {MAIN_APP: {}}
        self.task_start_s = 1.0  # WAITING → PROCESSING, emulator clock
        self.task_delay_s = 5.0  # each task of a procedure: PROCESSING → done, emulator clock
        self.pull_delay_s = 0.0  # a PullUpload is fetched by the first run_due at or after created + this
        self.long_poll_s = 5.0 if cloud.mode == "server" else 0.5  # PullEvents waits (wall time) when empty
        self.events = EventStore(cloud.clock.now)
        self.runs: dict[str, ProcedureRun] = {}
        self.pulls: dict[str, PullTask] = {}
        self._session_ids: dict[tuple[int, str], tuple[str, float]] = {}
        self._run_lock = threading.Lock()
        self._bg: Optional[threading.Thread] = None
        self._bg_stop = threading.Event()
        if cloud.mode == "server":
            self.start_background()

    # -- account setup (tests and demos) ---------------------------------------------------
    def add_sub_app(self, sub_app_id: int, name: Optional[str] = None, path_mode: bool = False) -> SubApp:
        with self._lock:
            app = SubApp(int(sub_app_id), name or f"subapp-{sub_app_id}", path_mode)
            self.sub_apps[app.sub_app_id] = app
            self.procedures.setdefault(app.sub_app_id, set())
            self.templates.setdefault(app.sub_app_id, {})
            self.classes.setdefault(app.sub_app_id, {0: MediaClass(0, "Other", sub_app_id=app.sub_app_id)})
            return app

    def add_storage_region(self, region: str) -> None:
        """Enable a storage region for the account (CreateStorageRegion); it must be one VOD has."""
        if not is_vod_storage_region(region):
            raise ValueError(f"{region!r} is not a VOD storage region")
        with self._lock:
            self.storage_regions.setdefault(region, None)

    def add_procedure(
        self,
        name: str,
        sub_app_id: Optional[int] = None,
        tasks: Optional[list[TaskLike]] = None,
        delay_s: Optional[float] = None,
    ) -> ProcedureTemplate:
        """A task flow template. ``tasks``: ``[("Transcode", 100010), ("SnapshotByTimeOffset", 10),
        ("ImageSprites", 10), ("AdaptiveDynamicStreaming", 10)]`` (or ``{"Type", "Definition"}`` dicts, or
        ``"Transcode:100020"``); None: one Transcode 100010; ``[]``: a template with no media task (no
        ProcedureTaskId). ``delay_s``: how long each task runs (emulator clock; default ``task_delay_s``)."""
        app = self._app(sub_app_id)
        specs = [TaskSpec.of(t) for t in (DEFAULT_TASKS if tasks is None else tasks)]
        with self._lock:
            self.procedures[app.sub_app_id].add(name)
            template = ProcedureTemplate(name, app.sub_app_id, specs, delay_s)
            self.templates.setdefault(app.sub_app_id, {})[name] = template
            return template

    def fail_task(
        self,
        procedure: str,
        task_type: str,
        err_code: int = 60000,
        message: str = "Source file error.",
        *,
        definition: Optional[int] = None,
        err_code_ext: str = "SourceFileError",
        times: Optional[int] = None,
        sub_app_id: Optional[int] = None,
    ) -> None:
        """Make the ``task_type`` tasks (of ``definition``, if given) of a procedure fail with this code and
        message, on every later run (``times=n``: the next n runs only)."""
        template = self._template(sub_app_id, procedure)
        TaskSpec.of((task_type, definition or 0))  # validates the type
        with self._lock:
            template.failures.insert(0, Failure(task_type, definition, err_code, err_code_ext, message, times))

    def _template(self, sub_app_id: Optional[int], name: str) -> ProcedureTemplate:
        app = self._app(sub_app_id)
        with self._lock:
            template = self.templates.get(app.sub_app_id, {}).get(name)
        if template is None:
            raise KeyError(f"no procedure {name!r} in sub-app {app.sub_app_id}")
        return template

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
        expires, region, cid = self._check_options(
            app, expire_time, storage_region, class_id, procedure, source_context, session_context
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

    def _check_options(
        self,
        app: SubApp,
        expire_time: Optional[str],
        storage_region: Optional[str],
        class_id: Optional[int],
        procedure: Optional[str],
        source_context: Optional[str],
        session_context: Optional[str],
    ) -> tuple[Optional[float], str, int]:
        """The checks ApplyUpload and PullUpload share; (expiry epoch, storage region, class id)."""
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
        return expires, region, cid

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
                procedure_task_id="",
                session_key=session.key,
            )
            self._media[media.file_id] = media
        self._start_procedure(media, session.session_context)
        self._emit_new_file_upload(media)
        return media

    # -- rendering shared by the front and the events -------------------------------------
    def basic_info(self, m: Media) -> dict[str, Any]:
        """``MediaBasicInfo`` (DescribeMediaInfos, FileUploadEvent, PullUploadTask)."""
        class_name, class_path = self.class_path(m.sub_app_id, m.class_id)
        return {
            "Name": m.name,
            "Description": m.description,
            "CreateTime": iso(m.create_time),
            "UpdateTime": iso(m.update_time),
            "ExpireTime": iso(m.expire_time) if m.expire_time is not None else NEVER_EXPIRES,
            "ClassId": m.class_id,
            "ClassName": class_name,
            "ClassPath": class_path,
            "CoverUrl": m.cover_url,
            "Type": m.type,
            "MediaUrl": m.media_url,
            "SourceInfo": {"SourceType": m.source_type, "SourceContext": m.source_context},
            "StorageRegion": m.storage_region,
            "TagSet": list(m.tags),
            "Vid": m.file_id,
            "Category": m.category,
            "Status": m.status,
            "StorageClass": m.storage_class,
        }

    @staticmethod
    def meta_data(m: Media) -> dict[str, Any]:
        """``MediaMetaData``: no probing, so only Size and Container are real (FIDELITY.md ⚠)."""
        return {
            "Size": m.size,
            "Container": m.type,
            "Bitrate": 0,
            "Height": 0,
            "Width": 0,
            "Duration": 0.0,
            "Rotate": 0,
            "VideoStreamSet": [],
            "AudioStreamSet": [],
            "VideoDuration": 0.0,
            "AudioDuration": 0.0,
            "Md5": "",
        }

    # -- event notification (ModifyEventConfig, PullEvents, ConfirmEvents, PUSH) -----------
    def event_config(self, sub_app_id: Optional[int] = None) -> EventConfig:
        return self.events.config(self._app(sub_app_id).sub_app_id)

    def modify_event_config(self, sub_app_id: Optional[int] = None, **changes: Optional[str]) -> EventConfig:
        """``mode``, ``notification_url``, ``upload``, ``delete``, ``persistence``, ``sign_key`` (None: unchanged)."""
        app = self._app(sub_app_id)
        try:
            return self.events.modify(app.sub_app_id, **changes)
        except EventError as exc:
            raise VodError(exc.code, exc.message) from None

    def pull_events(self, sub_app_id: Optional[int] = None, wait_s: Optional[float] = None) -> list[dict[str, Any]]:
        """PullEvents: ≤ 16 EventContent dicts with a fresh EventHandle; long-polls ``long_poll_s`` when empty."""
        app = self._app(sub_app_id)
        return self.events.pull(app.sub_app_id, self.long_poll_s if wait_s is None else wait_s)

    def confirm_events(self, handles: list[str], sub_app_id: Optional[int] = None) -> None:
        """ConfirmEvents. Valid handles are confirmed even when others in the list are not; then an unknown,
        superseded or expired (> 30 s) handle → ``InvalidParameter`` (the docstring's "parameter error (4000)")."""
        app = self._app(sub_app_id)
        try:
            bad = self.events.confirm(app.sub_app_id, handles)
        except EventError as exc:
            raise VodError(exc.code, exc.message) from None
        if bad:
            raise VodError(
                "InvalidParameter", f"{len(bad)} EventHandle(s) are invalid or past their 30 s confirmation window."
            )

    def events_state(self, sub_app_id: Optional[int] = None) -> int:
        """DescribeEventsState CountOfEventsToPull (exact here; ⚠ VOD's is about 3 minutes late)."""
        return self.events.pending_count(self._app(sub_app_id).sub_app_id)

    def queued_events(self, sub_app_id: Optional[int] = None) -> list[QueuedEvent]:
        """Tests: the unconfirmed events of a PULL queue (in flight or not)."""
        return self.events.queued(self._app(sub_app_id).sub_app_id)

    def deliver_events(self) -> int:
        """POST every due PUSH event to its NotificationUrl; failures are retried later (backoff, emulator
        clock). The number of attempts made. The background loop calls this in server mode."""
        attempts = 0
        for delivery, cfg in self.events.due_pushes():
            body = self.events.push_body(delivery, cfg)
            try:
                status, _ = http_call(
                    self.cloud, "POST", cfg.notification_url, {"Content-Type": "application/json"}, body, 10.0
                )
                note = ""
            except FetchError as exc:
                status, note = 0, exc.message
            except Exception as exc:  # a receiver that blows up in-process is a failed delivery, not our crash
                status, note = 0, f"{type(exc).__name__}: {exc}"
            self.events.push_result(delivery, status, note)
            attempts += 1
        return attempts

    def _emit(self, sub_app_id: int, content: dict[str, Any]) -> None:
        self.events.emit(sub_app_id, content)

    def _emit_new_file_upload(self, m: Media) -> None:
        self._emit(
            m.sub_app_id,
            {
                "EventType": "NewFileUpload",
                "FileUploadEvent": {
                    "FileId": m.file_id,
                    "MediaBasicInfo": self.basic_info(m),
                    "ProcedureTaskId": m.procedure_task_id,
                    "ReviewAudioVideoTaskId": "",
                    "MetaData": self.meta_data(m),
                },
            },
        )

    # -- task flows ------------------------------------------------------------------------
    def _start_procedure(
        self, m: Media, session_context: str = "", session_id: str = "", tasks_priority: int = 0
    ) -> str:
        """Create the ProcedureTaskId of a media file's procedure (none for a template with no task)."""
        if not m.procedure:
            return ""
        template = self.templates.get(m.sub_app_id, {}).get(m.procedure)
        if template is None or not template.tasks:
            return ""
        now = self.cloud.clock.now()
        task_id = f"{self.cloud.app_id}-procedurev2-{secrets.token_hex(16)}t0"
        begin_at = now + self.task_start_s
        delay = self.task_delay_s if template.delay_s is None else template.delay_s
        with self._lock:
            tasks = [TaskRun(spec, due=begin_at + delay, fail=template.failure_for(spec)) for spec in template.tasks]
            run = ProcedureRun(
                task_id=task_id,
                sub_app_id=m.sub_app_id,
                procedure=m.procedure,
                file_id=m.file_id,
                created=now,
                begin_at=begin_at,
                tasks=tasks,
                session_context=session_context,
                session_id=session_id,
                tasks_priority=tasks_priority,
            )
            self.runs[task_id] = run
            m.procedure_task_id = task_id
        return task_id

    def procedure_task(self, run: ProcedureRun) -> dict[str, Any]:
        """The ``ProcedureTask`` of a run (ProcedureStateChanged event, DescribeTaskDetail)."""
        with self._lock:
            m = self._media.get(run.file_id)
        return {
            "TaskId": run.task_id,
            "Status": "FINISH" if run.status == "FINISH" else "PROCESSING",
            "ErrCode": run.err_code,
            "Message": run.message,
            "FileId": run.file_id,
            "FileName": m.name if m else "",
            "FileUrl": m.media_url if m else "",
            "MetaData": self.meta_data(m) if m else None,
            "MediaProcessResultSet": [task_result(t, iso) for t in run.tasks],
            "AiContentReviewResultSet": [],
            "AiAnalysisResultSet": [],
            "AiRecognitionResultSet": [],
            "TasksPriority": run.tasks_priority,
            "TasksNotifyMode": run.tasks_notify_mode,
            "SessionContext": run.session_context,
            "SessionId": run.session_id,
            "Operator": "",
            "OperationType": "",
        }

    def _advance_run(self, run: ProcedureRun, now: float) -> bool:
        """Move one run along the clock; True if anything changed."""
        changed = False
        if run.status == "WAITING" and now >= run.begin_at:
            run.status, run.begin = "PROCESSING", run.begin_at
            for t in run.tasks:
                t.begin = run.begin_at
            changed = True
        if run.status != "PROCESSING":
            return changed
        with self._lock:
            m = self._media.get(run.file_id)
        for t in run.tasks:
            if t.status != "PROCESSING" or now < t.due:
                continue
            t.finish = t.due
            if m is None or self._expired(m) or m.original_deleted:
                t.status, t.err_code, t.err_code_ext, t.message = "FAIL", 70000, "InternalError", "Media is gone."
            elif t.fail is not None:
                t.status, t.err_code, t.err_code_ext, t.message = (
                    "FAIL",
                    t.fail.err_code,
                    t.fail.err_code_ext,
                    (t.fail.message),
                )
            else:
                try:
                    t.output = self._produce(m, t.spec)
                    t.status = "SUCCESS"
                except Exception as exc:  # storage trouble: an internal error of the task, not of the emulator
                    t.status, t.err_code, t.err_code_ext, t.message = "FAIL", 70000, "InternalError", str(exc)
            changed = True
        if all(t.status != "PROCESSING" for t in run.tasks):
            run.status = "FINISH"
            run.finish = max((t.finish or now) for t in run.tasks)
            failed = run.failed
            if failed is not None:
                run.err_code, run.message = failed.err_code, failed.message
            if m is not None:
                self._record_outputs(m, run)
            self._emit(
                run.sub_app_id,
                {"EventType": "ProcedureStateChanged", "ProcedureStateChangeEvent": self.procedure_task(run)},
            )
            changed = True
        return changed

    def _record_outputs(self, m: Media, run: ProcedureRun) -> None:
        with self._lock:
            for t in run.tasks:
                if t.status != "SUCCESS" or t.output is None:
                    continue
                target = {
                    "Transcode": m.transcodes,
                    "SnapshotByTimeOffset": m.snapshots,
                    "ImageSprites": m.sprites,
                    "AdaptiveDynamicStreaming": m.adaptive,
                }.get(t.spec.type)
                if target is None:
                    continue
                target[:] = [o for o in target if o.get("Definition") != t.output.get("Definition")]
                target.append(t.output)
            m.update_time = self.cloud.clock.now()

    def _produce(self, m: Media, spec: TaskSpec) -> dict[str, Any]:
        """Write a task's output objects next to the media (served by the media host); its ``Output`` item."""
        cos = self.cloud.cos
        src_key = m.media_path[1:]
        base = m.directory
        d = spec.definition
        if spec.type == "Transcode":
            container, width, height, bitrate = TRANSCODE_PRESETS.get(d, ("mp4", 0, 0, 0))
            if container == "hls":
                cos.copy_object(m.bucket, src_key, m.bucket, f"{base}/v.f{d}/0.ts")
                seg = cos.head_object(m.bucket, f"{base}/v.f{d}/0.ts")
                playlist = (
                    f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nv.f{d}/0.ts\n#EXT-X-ENDLIST\n"
                )
                cos.put_object(
                    m.bucket, f"{base}/v.f{d}.m3u8", playlist.encode(), content_type="application/vnd.apple.mpegurl"
                )
                key, size = f"{base}/v.f{d}.m3u8", len(playlist) + (seg.size if seg else 0)
            else:
                key = f"{base}/v.f{d}.{container}"
                cos.copy_object(m.bucket, src_key, m.bucket, key)
                info = cos.head_object(m.bucket, key)
                size = info.size if info else 0
            md5 = ""
            if size <= 64 * 1024 * 1024:
                h = hashlib.md5(usedforsecurity=False)
                for chunk in cos.iter_object(m.bucket, key):
                    h.update(chunk)
                md5 = h.hexdigest()
            return {
                "Url": self.media_url("/" + key),
                "Definition": d,
                "Bitrate": bitrate,
                "Height": height,
                "Width": width,
                "Size": size,
                "Duration": 0.0,
                "Md5": md5,
                "Container": "hls" if container == "hls" else container,
                "VideoStreamSet": [],
                "AudioStreamSet": [],
                "DigitalWatermarkType": "None",
            }
        if spec.type in ("SnapshotByTimeOffset", "SampleSnapshot", "CoverBySnapshot", "AnimatedGraphics"):
            key = f"{base}/snapshot/{spec.type}_{d}_0.jpg"
            cos.put_object(m.bucket, key, _TINY_JPEG, content_type="image/jpeg")
            url = self.media_url("/" + key)
            if spec.type == "SnapshotByTimeOffset":
                return {"Definition": d, "PicInfoSet": [{"TimeOffset": 0.0, "Url": url, "WaterMarkDefinition": []}]}
            if spec.type == "SampleSnapshot":
                return {
                    "Definition": d,
                    "SampleType": "Percent",
                    "Interval": 10,
                    "ImageUrlSet": [url],
                    "WaterMarkDefinition": [],
                }
            if spec.type == "CoverBySnapshot":
                return {"CoverUrl": url}
            return {
                "Url": url,
                "Definition": d,
                "Container": "gif",
                "Height": 0,
                "Width": 0,
                "Bitrate": 0,
                "Size": len(_TINY_JPEG),
                "Md5": "",
                "StartTimeOffset": 0.0,
                "EndTimeOffset": 0.0,
            }
        if spec.type == "ImageSprites":
            key = f"{base}/imageSprite/{d}_0.jpg"
            vtt = f"{base}/imageSprite/{d}.vtt"
            cos.put_object(m.bucket, key, _TINY_JPEG, content_type="image/jpeg")
            text = f"WEBVTT\n\n00:00:00.000 --> 00:00:10.000\n{d}_0.jpg#xywh=0,0,142,80\n"
            cos.put_object(m.bucket, vtt, text.encode(), content_type="text/vtt")
            return {
                "Definition": d,
                "Height": 80,
                "Width": 142,
                "TotalCount": 1,
                "ImageUrlSet": [self.media_url("/" + key)],
                "WebVttUrl": self.media_url("/" + vtt),
            }
        # AdaptiveDynamicStreaming: an HLS master playlist over one rendition that plays the source file.
        source_name = posixpath.basename(m.media_path)
        rendition = (
            f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n../{source_name}\n#EXT-X-ENDLIST\n"
        )
        master = f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=960x540\nadp.{d}/0.m3u8\n"
        cos.put_object(
            m.bucket, f"{base}/adp.{d}/0.m3u8", rendition.encode(), content_type="application/vnd.apple.mpegurl"
        )
        cos.put_object(m.bucket, f"{base}/adp.{d}.m3u8", master.encode(), content_type="application/vnd.apple.mpegurl")
        return {
            "Definition": d,
            "Package": "HLS",
            "DrmType": "",
            "Url": self.media_url(f"/{base}/adp.{d}.m3u8"),
            "Size": len(master) + len(rendition) + m.size,
            "DigitalWatermarkType": "None",
            "SubStreamSet": [],
            "CopyRightWatermarkText": "",
            "SubtitleSet": [],
            "DefaultSubtitleId": "",
            "DrmEncryptType": "",
        }

    # -- PullUpload ------------------------------------------------------------------------
    def pull_upload(
        self,
        media_url: str,
        *,
        media_type: Optional[str] = None,
        sub_app_id: Optional[int] = None,
        media_name: Optional[str] = None,
        cover_url: Optional[str] = None,
        procedure: Optional[str] = None,
        expire_time: Optional[str] = None,
        storage_region: Optional[str] = None,
        class_id: Optional[int] = None,
        tasks_priority: Optional[int] = None,
        session_context: Optional[str] = None,
        session_id: Optional[str] = None,
        ext_info: Optional[str] = None,
        source_context: Optional[str] = None,
        media_storage_path: Optional[str] = None,
    ) -> PullTask:
        """Validate like ApplyUpload, then queue the pull (fetched by ``run_due``); the task (WAITING)."""
        parts = urlsplit(media_url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise VodError("InvalidParameterValue.MediaUrl", "MediaUrl must be an HTTP or HTTPS URL.")
        ext = posixpath.splitext(parts.path)[1].lstrip(".").lower()
        mtype = (media_type or ext).lower()
        if mtype == "mpd" or ext == "mpd":
            raise VodError("InvalidParameterValue.MediaType", "DASH (mpd) media cannot be pulled; HLS can.")
        if mtype not in MEDIA_TYPES:
            raise VodError("InvalidParameterValue.MediaType", f"invalid media type: {media_type or ext or '(none)'}")
        if cover_url:
            cparts = urlsplit(cover_url)
            cext = posixpath.splitext(cparts.path)[1].lstrip(".").lower()
            if cparts.scheme.lower() not in ("http", "https") or cext not in ("gif", "jpeg", "jpg", "png"):
                raise VodError(
                    "InvalidParameterValue.CoverUrl", "CoverUrl must be an HTTP(S) URL of a gif, jpeg or png."
                )
        app = self._app(sub_app_id)
        expires, region, cid = self._check_options(
            app, expire_time, storage_region, class_id, procedure, source_context, session_context
        )
        if tasks_priority is not None and not -10 <= tasks_priority <= 10:
            raise VodError("InvalidParameterValue", "TasksPriority must be between -10 and 10.")
        if session_id and len(session_id) > SESSION_ID_MAX:
            raise VodError(
                "InvalidParameterValue.SessionIdTooLong", f"SessionId is longer than {SESSION_ID_MAX} characters."
            )
        if media_storage_path is not None:
            self._check_custom_path(app, media_storage_path, self._storage(region))
        now = self.cloud.clock.now()
        task = PullTask(
            task_id=f"{self.cloud.app_id}-pull-{secrets.token_hex(16)}",
            sub_app_id=app.sub_app_id,
            media_url=media_url,
            media_type=mtype,
            media_name=media_name or posixpath.basename(parts.path).rsplit(".", 1)[0] or "pulled",
            cover_url=cover_url or None,
            procedure=procedure or None,
            expire_time=expires,
            storage_region=region,
            class_id=cid,
            tasks_priority=tasks_priority or 0,
            session_context=session_context or "",
            session_id=session_id or "",
            ext_info=ext_info,
            source_context=source_context or "",
            media_storage_path=media_storage_path,
            created=now,
        )
        with self._lock:
            if session_id:
                seen = self._session_ids.get((app.sub_app_id, session_id))
                if seen is not None and now < seen[1] + DEDUP_WINDOW_S:
                    raise VodError(
                        "InvalidParameterValue.SessionId", "The SessionId was used within 3 days: deduplicated."
                    )
                self._session_ids[(app.sub_app_id, session_id)] = (task.task_id, now)
            self.pulls[task.task_id] = task
        return task

    def _run_pull(self, task: PullTask) -> None:
        """Fetch and store one pull (no model lock held while fetching); then PullComplete."""
        now = self.cloud.clock.now()
        with self._lock:
            if task.status != "WAITING":
                return
            task.status, task.begin = "PROCESSING", now
        try:
            media = self._fetch_and_store(task)
        except FetchError as exc:
            self._finish_pull(task, exc.code, exc.message, None)
        except VodError as exc:
            self._finish_pull(task, 40000, exc.message, None)
        except Exception as exc:  # storage trouble inside the emulator: VOD's "internal error"
            self._finish_pull(task, 70000, f"Internal error: {type(exc).__name__}.", None)
        else:
            self._finish_pull(task, 0, "SUCCESS", media)

    def _fetch_and_store(self, task: PullTask) -> Media:
        body = http_get(self.cloud, task.media_url)
        extra: dict[str, bytes] = {}  # HLS: relative path → bytes of each playlist and segment
        if task.media_type == "m3u8":
            self._fetch_hls(task.media_url, body, "", extra, depth=0)
        elif not body:
            raise FetchError(60000, "The source file is empty.")
        cover = http_get(self.cloud, task.cover_url) if task.cover_url else None
        storage = self._storage(task.storage_region)
        file_id = self._new_file_id()
        app = self._app(task.sub_app_id)
        if task.media_storage_path is not None:
            media_path = self._check_custom_path(app, task.media_storage_path, storage)
        else:
            media_path = f"/{storage.root}/{secrets.token_hex(4)}{file_id}/f0.{task.media_type}"
        directory = posixpath.dirname(media_path)
        cover_path = None
        cos = self.cloud.cos
        for rel, data in extra.items():
            cos.put_object(storage.bucket, f"{directory[1:]}/{rel}", data)
        cos.put_object(storage.bucket, media_path[1:], body)
        if cover is not None and task.cover_url:
            cext = posixpath.splitext(urlsplit(task.cover_url).path)[1].lstrip(".").lower()
            cover_path = f"{directory}/{int(file_id) + 1}.{cext}"
            cos.put_object(storage.bucket, cover_path[1:], cover)
        now = self.cloud.clock.now()
        media = Media(
            file_id=file_id,
            sub_app_id=task.sub_app_id,
            name=task.media_name,
            type=task.media_type,
            category="Audio" if task.media_type in AUDIO_TYPES - VIDEO_TYPES else "Video",
            class_id=task.class_id,
            storage_region=task.storage_region,
            bucket=storage.bucket,
            media_path=media_path,
            cover_path=cover_path,
            directory=directory[1:],
            media_url=self.media_url(media_path),
            cover_url=self.media_url(cover_path) if cover_path else "",
            size=len(body),
            create_time=now,
            update_time=now,
            expire_time=task.expire_time,
            source_context=task.source_context,
            session_context=task.session_context,
            procedure=task.procedure,
            procedure_task_id="",
            session_key="",
        )
        with self._lock:
            self._media[file_id] = media
        self._start_procedure(media, task.session_context, task.session_id, task.tasks_priority)
        return media

    def _fetch_hls(self, url: str, text: bytes, prefix: str, out: dict[str, bytes], depth: int) -> None:
        """Fetch what a playlist lists (variant playlists one level down), keyed by their relative paths."""
        try:
            files = parse_manifest(text.decode("utf-8", "replace"), "m3u8")
        except ManifestError as exc:
            raise FetchError(60000, f"The HLS playlist is invalid: {exc}") from None
        for rel in files:
            data = http_get(self.cloud, urljoin(url, rel))
            path = posixpath.normpath(posixpath.join(prefix, rel))
            out[path] = data
            if rel.lower().split("?")[0].endswith(".m3u8") and depth == 0:
                self._fetch_hls(urljoin(url, rel), data, posixpath.dirname(path), out, depth + 1)

    def _finish_pull(self, task: PullTask, code: int, message: str, media: Optional[Media]) -> None:
        with self._lock:
            task.status, task.finish = "FINISH", self.cloud.clock.now()
            task.err_code, task.message = code, message
            if media is not None:
                task.file_id, task.procedure_task_id = media.file_id, media.procedure_task_id
        self._emit(task.sub_app_id, {"EventType": "PullComplete", "PullCompleteEvent": self.pull_upload_task(task)})

    def pull_upload_task(self, task: PullTask) -> dict[str, Any]:
        """The ``PullUploadTask`` (PullComplete event, DescribeTaskDetail)."""
        m = self._media.get(task.file_id) if task.file_id else None
        return {
            "TaskId": task.task_id,
            "Status": "FINISH" if task.status == "FINISH" else "PROCESSING",
            "ErrCode": task.err_code,
            "Message": task.message,
            "FileId": task.file_id,
            "MediaBasicInfo": self.basic_info(m) if m else None,
            "MetaData": self.meta_data(m) if m else None,
            "FileUrl": m.media_url if m else "",
            "ProcedureTaskId": task.procedure_task_id,
            "ReviewAudioVideoTaskId": "",
            "SessionContext": task.session_context,
            "SessionId": task.session_id,
            "Progress": 100 if task.status == "FINISH" else 0,
        }

    # -- DescribeTaskDetail ----------------------------------------------------------------
    def task_detail(self, task_id: str, sub_app_id: Optional[int] = None) -> dict[str, Any]:
        """DescribeTaskDetail's reply members for a Procedure or PullUpload task of the last 3 days."""
        app = self._app(sub_app_id)
        now = self.cloud.clock.now()
        with self._lock:
            run = self.runs.get(task_id)
            pull = self.pulls.get(task_id)
        if run is not None and run.sub_app_id == app.sub_app_id and now < run.created + TASK_KEEP_S:
            return {
                "TaskType": "Procedure",
                "Status": run.status,
                "CreateTime": iso(run.created),
                "BeginProcessTime": iso(run.begin) if run.begin is not None else "",
                "FinishTime": iso(run.finish) if run.finish is not None else "",
                "ProcedureTask": self.procedure_task(run),
            }
        if pull is not None and pull.sub_app_id == app.sub_app_id and now < pull.created + TASK_KEEP_S:
            return {
                "TaskType": "PullUpload",
                "Status": pull.status,
                "CreateTime": iso(pull.created),
                "BeginProcessTime": iso(pull.begin) if pull.begin is not None else "",
                "FinishTime": iso(pull.finish) if pull.finish is not None else "",
                "PullUploadTask": self.pull_upload_task(pull),
            }
        raise VodError("InvalidParameterValue.TaskId", f"The task {task_id} does not exist.")

    # -- time: stepping and the background loop --------------------------------------------
    def run_due(self) -> int:
        """Do everything due on the emulator clock: pulls to fetch, procedure tasks to finish (events
        queued), PUSH deliveries. Returns how many steps were taken. Safe to call from any thread."""
        with self._run_lock:
            steps = 0
            now = self.cloud.clock.now()
            with self._lock:
                pulls = [
                    p for p in self.pulls.values() if p.status == "WAITING" and now >= p.created + self.pull_delay_s
                ]
            for p in pulls:
                self._run_pull(p)
                steps += 1
            now = self.cloud.clock.now()
            with self._lock:
                runs = [r for r in self.runs.values() if r.status != "FINISH"]
            for r in runs:
                if self._advance_run(r, now):
                    steps += 1
            steps += self.deliver_events()
            self.events.wake()
            return steps

    def advance(self, seconds: float) -> int:
        """Move the emulator clock forward, then ``run_due``."""
        self.cloud.clock.advance(seconds)
        return self.run_due()

    def next_due(self) -> Optional[float]:
        """The clock time of the next scheduled step (None: nothing pending)."""
        times: list[float] = []
        with self._lock:
            times += [p.created + self.pull_delay_s for p in self.pulls.values() if p.status == "WAITING"]
            for r in self.runs.values():
                if r.status == "WAITING":
                    times.append(r.begin_at)
                elif r.status == "PROCESSING":
                    times += [t.due for t in r.tasks if t.status == "PROCESSING"]
        push = self.events.next_due()
        if push is not None:
            times.append(push)
        return min(times) if times else None

    def settle(self, max_seconds: float = 3600.0) -> float:
        """Jump the clock from due step to due step until nothing is pending (or ``max_seconds`` of clock time
        have passed: a PUSH receiver that keeps failing keeps its event pending). The clock time moved."""
        moved = 0.0
        self.run_due()
        while True:
            due = self.next_due()
            if due is None:
                return moved
            gap = max(0.0, due - self.cloud.clock.now())
            if moved + gap > max_seconds:
                return moved
            if gap > 0:
                self.cloud.clock.advance(gap)
                moved += gap
            if self.run_due() == 0 and gap == 0:
                return moved  # nothing could be done (should not happen): do not spin

    def start_background(self, poll_s: float = 0.2) -> None:
        """Run ``run_due`` every ``poll_s`` seconds (wall time) until ``close``; on in server mode."""
        if self._bg is not None:
            return
        self._bg_stop.clear()

        def loop() -> None:
            while not self._bg_stop.wait(poll_s):
                try:
                    self.run_due()
                except Exception:  # keep the loop alive; the failing step is retried on the next tick
                    time.sleep(poll_s)

        self._bg = threading.Thread(target=loop, name="vod-tasks", daemon=True)
        self._bg.start()

    def close(self) -> None:
        self._bg_stop.set()
        self.events.wake()
        if self._bg is not None:
            self._bg.join(timeout=5)
            self._bg = None

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


# A 1x1 JPEG: the bytes of every emulated snapshot and sprite image (⚠ no real frames are extracted).
_TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////"
    "////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)
