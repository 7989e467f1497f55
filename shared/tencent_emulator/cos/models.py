"""The COS model: buckets, objects, multipart uploads, tags, and the events they emit. No HTTP here.

Rules come from the COS API pages summarised in shared/reference/wire-shapes.md §1 (limits, ETags,
CRC64, multipart errors); choices where the sources are silent are listed in FIDELITY.md (## COS).
Bytes live in :class:`BlobStore` (files under ``cloud.data_dir``); state changes happen under one
lock, while bodies stream in outside it, so parallel part uploads do not wait for each other.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Optional, Union

from tencent_emulator.cos.errors import CosError, invalid_argument, no_such_bucket, no_such_key, no_such_upload
from tencent_emulator.cos.storage import Blob, BlobStore, TooLarge, blob_root

log = logging.getLogger(__name__)

MiB = 1024 * 1024
GiB = 1024 * MiB
MIN_PART_SIZE = 1 * MiB  # Complete Multipart Upload: "any uploaded part smaller than 1 MB" -> EntityTooSmall
MAX_PART_SIZE = 5 * GiB
MAX_PUT_SIZE = 5 * GiB
MAX_PART_NUMBER = 10000
MAX_KEY_BYTES = 850
MAX_META_BYTES = 2048
MAX_TAGS = 10
BUCKET_RE = re.compile(r"^(?P<short>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)-(?P<appid>\d{6,12})$")
STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")

Body = Union[bytes, BinaryIO, Iterable[bytes]]


@dataclass(frozen=True)
class ObjectInfo:
    """What HEAD tells about an object. ``etag`` is quoted, as COS sends it."""

    bucket: str
    key: str
    size: int
    etag: str
    crc64: int
    metadata: dict[str, str]
    content_type: str
    last_modified: float
    version: int
    storage_class: str = "STANDARD"
    parts: int = 0
    encryption: Optional[str] = None  # "AES256" for SSE-COS
    version_id: Optional[str] = None  # x-cos-version-id on a bucket that ever had versioning ("null" if Suspended)


@dataclass
class _Object:
    info: ObjectInfo
    blob: Blob
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class _Marker:
    """A delete marker (versioned bucket): a key and a version id, no bytes; GET and HEAD of it are 404."""

    key: str
    version_id: str
    last_modified: float


def _vid(entry: Union[_Object, _Marker]) -> str:
    return entry.version_id if isinstance(entry, _Marker) else (entry.info.version_id or "null")


@dataclass(frozen=True)
class Deleted:
    """What DELETE Object did: ``x-cos-version-id`` (the version removed, or the marker written) and
    ``x-cos-delete-marker`` (a delete marker was written or removed)."""

    removed: bool
    version_id: Optional[str] = None
    delete_marker: bool = False


@dataclass(frozen=True)
class VersionEntry:
    """One row of GET Bucket Object versions: an object version or a delete marker."""

    key: str
    version_id: str
    latest: bool
    last_modified: float
    info: Optional[ObjectInfo] = None  # None for a delete marker


@dataclass(frozen=True)
class PartInfo:
    number: int
    etag: str
    size: int
    crc64: int
    last_modified: float


@dataclass
class _Part:
    info: PartInfo
    blob: Blob


@dataclass(frozen=True)
class UploadInfo:
    upload_id: str
    key: str
    initiated: float
    initiator: str = "root"
    storage_class: str = "STANDARD"
    encryption: Optional[str] = None


@dataclass
class _Upload:
    info: UploadInfo
    metadata: dict[str, str]
    content_type: str
    parts: dict[int, _Part] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CorsRule:
    """One ``<CORSRule>`` of PUT Bucket cors. Origins and headers may hold one ``*`` wildcard each."""

    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age: Optional[int] = None
    rule_id: str = ""

    def matches(self, origin: str, method: str, headers: Iterable[str] = ()) -> bool:
        if not any(_wildcard(o, origin) for o in self.origins) or method.upper() not in self.methods:
            return False
        return all(any(_wildcard(a.lower(), h.lower()) for a in self.headers) for h in headers if h)


@dataclass(frozen=True)
class LifecycleRule:
    """One ``<Rule>`` of PUT Bucket lifecycle; only ``AbortIncompleteMultipartUpload`` is modelled."""

    rule_id: str
    prefix: str
    enabled: bool
    abort_days: int


def _wildcard(pattern: str, value: str) -> bool:
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


@dataclass
class Bucket:
    name: str
    region: str
    appid: str
    created: float
    objects: dict[str, _Object] = field(default_factory=dict)
    uploads: dict[str, _Upload] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # per key, survives deletes
    versioning: str = ""  # PUT Bucket versioning: "" (never had it), "Enabled" or "Suspended" (never back to "")
    # Versioned: per key, every version other than objects[key], oldest first; a current delete marker is last.
    history: dict[str, list[Union[_Object, _Marker]]] = field(default_factory=dict)
    cors: list[CorsRule] = field(default_factory=list)  # PUT Bucket cors (empty: none configured)
    lifecycle: list[LifecycleRule] = field(default_factory=list)  # PUT Bucket lifecycle


@dataclass(frozen=True)
class CosEvent:
    """One object creation or removal, as bucket notifications report it (SCF turns it into a trigger event)."""

    event_name: str
    bucket: str
    region: str
    key: str
    size: int
    etag: str
    crc64: int
    metadata: dict[str, str]
    request_headers: dict[str, str]
    source_ip: str
    time: float
    version: int
    version_id: Optional[str] = None  # the COS version id (versioned bucket)


@dataclass(frozen=True)
class ListResult:
    contents: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    next_marker: Optional[str]


Listener = Callable[[CosEvent], None]


def validate_key(key: str) -> None:
    if not key:
        raise invalid_argument("The object key must not be empty.")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise CosError("KeyTooLong", 400, f"Your key is too long; the maximum is {MAX_KEY_BYTES} bytes.")


def validate_metadata(metadata: Mapping[str, str]) -> None:
    total = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items() if k.lower().startswith("x-cos-meta-"))
    if total > MAX_META_BYTES:
        raise CosError(
            "MetadataTooLarge", 400, f"Your metadata headers exceed the maximum allowed size of {MAX_META_BYTES} bytes."
        )


def validate_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise CosError("InvalidTag", 400, f"Object tags cannot be greater than {MAX_TAGS}.")
    for k, v in tags.items():
        if not k or len(k) > 128 or len(v) > 256:
            raise CosError("InvalidTag", 400, "The TagKey or TagValue you have provided is invalid.")


def multipart_etag(part_md5s: list[bytes]) -> str:
    """``"<md5 of the concatenated binary part MD5s>-<n>"`` (wire-shapes §1.2)."""
    digest = hashlib.md5(b"".join(part_md5s)).hexdigest()  # noqa: S324  (an ETag, not security)
    return f'"{digest}-{len(part_md5s)}"'


class CosModel:
    """All buckets of the emulated account (and those other services own, such as VOD's)."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.store = BlobStore(blob_root(getattr(cloud, "data_dir", None)))
        self.buckets: dict[str, Bucket] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()

    # -- buckets ---------------------------------------------------------------------------
    def create_bucket(self, name: str, region: Optional[str] = None) -> Bucket:
        """Create ``name-appid`` in ``region`` (default: the cloud's). Creating it again returns it."""
        m = BUCKET_RE.match(name)
        if not m or len(m.group("short")) > 50:
            raise CosError("InvalidBucketName", 400, "The specified bucket is not valid.")
        region = region or self.cloud.region
        with self._lock:
            existing = self.buckets.get(name)
            if existing is not None:
                if existing.region != region:
                    raise CosError("BucketAlreadyExists", 409, "The requested bucket name is not available.")
                return existing
            bucket = Bucket(name=name, region=region, appid=m.group("appid"), created=self.cloud.clock.now())
            self.buckets[name] = bucket
            return bucket

    def get_bucket(self, name: str) -> Bucket:
        with self._lock:
            bucket = self.buckets.get(name)
        if bucket is None:
            raise no_such_bucket()
        if bucket.lifecycle:
            self.apply_lifecycle(bucket)
        return bucket

    # -- bucket configuration: CORS and lifecycle --------------------------------------------
    def put_cors(self, bucket: str, rules: list[CorsRule]) -> None:
        b = self.get_bucket(bucket)
        with self._lock:
            b.cors = list(rules)

    def delete_cors(self, bucket: str) -> None:
        b = self.get_bucket(bucket)
        with self._lock:
            b.cors = []

    def cors_rule(self, bucket: str, origin: str, method: str, headers: Iterable[str] = ()) -> Optional[CorsRule]:
        """The first rule that allows ``origin`` to send ``method`` with ``headers`` (COS takes the first match)."""
        b = self.get_bucket(bucket)
        return next((r for r in b.cors if r.matches(origin, method, headers)), None)

    def put_lifecycle(self, bucket: str, rules: list[LifecycleRule]) -> None:
        b = self.get_bucket(bucket)
        with self._lock:
            b.lifecycle = list(rules)
        self.apply_lifecycle(b)

    def delete_lifecycle(self, bucket: str) -> None:
        b = self.get_bucket(bucket)
        with self._lock:
            b.lifecycle = []

    def apply_lifecycle(self, b: Bucket) -> list[str]:
        """Abort the multipart uploads an enabled ``AbortIncompleteMultipartUpload`` rule has made due.

        Judged on the emulator clock whenever the bucket is used (so advancing ``cloud.clock`` past
        ``initiated + days`` aborts them); returns the aborted upload ids.
        """
        now = self.cloud.clock.now()
        gone: list[_Upload] = []
        with self._lock:
            for uid, up in list(b.uploads.items()):
                for rule in b.lifecycle:
                    due = up.info.initiated + rule.abort_days * 86400
                    if rule.enabled and up.info.key.startswith(rule.prefix) and now >= due:
                        gone.append(b.uploads.pop(uid))
                        break
        for up in gone:
            for part in up.parts.values():
                self.store.release(part.blob)
            log.info("lifecycle aborted upload %s of %s/%s", up.info.upload_id, b.name, up.info.key)
        return [up.info.upload_id for up in gone]

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            bucket = self.get_bucket(name)
            if bucket.objects or bucket.uploads or bucket.history:
                raise CosError("BucketNotEmpty", 409, "The bucket you tried to delete is not empty.")
            del self.buckets[name]

    def list_buckets(self) -> list[Bucket]:
        with self._lock:
            return sorted(self.buckets.values(), key=lambda b: b.name)

    # -- events ----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after every object creation or removal; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _emit(
        self, name: str, bucket: Bucket, info: ObjectInfo, request_headers: Optional[Mapping[str, str]], source_ip: str
    ) -> None:
        meta = {k: v for k, v in info.metadata.items() if k.lower().startswith("x-cos-meta-")}
        meta["Content-Type"] = info.content_type
        event = CosEvent(
            event_name=name,
            bucket=bucket.name,
            region=bucket.region,
            key=info.key,
            size=info.size,
            etag=info.etag,
            crc64=info.crc64,
            metadata=meta,
            request_headers=dict(request_headers or {}),
            source_ip=source_ip,
            time=self.cloud.clock.now(),
            version=info.version,
            version_id=info.version_id,
        )
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a subscriber's bug must not fail the upload that triggered it
                log.exception("COS event listener failed for %s %s/%s", name, bucket.name, info.key)

    # -- versioning ------------------------------------------------------------------------
    def put_versioning(self, bucket: str, status: str) -> None:
        """PUT Bucket versioning: ``Enabled`` or ``Suspended``; a bucket never returns to unversioned (436/19889)."""
        if status not in ("Enabled", "Suspended"):
            raise CosError("MalformedXML", 400, "The XML you provided was not well-formed or did not validate.")
        b = self.get_bucket(bucket)
        with self._lock:
            b.versioning = status

    def _new_version_id(self, b: Bucket) -> Optional[str]:
        """A fresh version id when Enabled, ``null`` when Suspended, None when the bucket never had versioning."""
        if not b.versioning:
            return None
        if b.versioning == "Suspended":
            return "null"
        self._version_seq = getattr(self, "_version_seq", 0) + 1
        # Shaped like COS's samples (base64 of a long decimal, e.g. MTg0NDUxNTc1NjIzMTQ1MDAwODg).
        raw = f"{18446744073709551615 - int(self.cloud.clock.now() * 1000) * 1000 - self._version_seq}"
        return base64.b64encode(raw.encode()).decode().rstrip("=")

    def _shelve(
        self, b: Bucket, key: str, old: Optional[Union[_Object, _Marker]], new_vid: Optional[str]
    ) -> list[Blob]:
        """Versioned: the replaced current version joins the key's history; a new ``null`` version (Suspended)
        replaces any older ``null`` one. Returns the blobs no version holds any more (caller releases)."""
        hist = b.history.setdefault(key, [])
        if old is not None:
            hist.append(old)
        gone = [e for e in hist if new_vid == "null" and _vid(e) == "null"]
        hist[:] = [e for e in hist if not any(e is g for g in gone)]
        if not hist:
            del b.history[key]
        return [e.blob for e in gone if isinstance(e, _Object)]

    def _find_version(self, b: Bucket, key: str, version_id: str) -> Optional[Union[_Object, _Marker]]:
        cur = b.objects.get(key)
        if cur is not None and _vid(cur) == version_id:
            return cur
        return next((e for e in b.history.get(key, []) if _vid(e) == version_id), None)

    def _versioned_object(self, b: Bucket, key: str, version_id: str) -> _Object:
        """The object version ``version_id``: 404 NoSuchVersion if there is none, NoSuchKey for a delete marker."""
        with self._lock:
            entry = self._find_version(b, key, version_id)
        if entry is None:
            raise CosError("NoSuchVersion", 404, "The specified version does not exist.")
        if isinstance(entry, _Marker):
            raise no_such_key()
        return entry

    def remove(
        self,
        bucket: str,
        key: str,
        version_id: Optional[str] = None,
        request_headers: Optional[Mapping[str, str]] = None,
        source_ip: str = "127.0.0.1",
    ) -> Deleted:
        """DELETE Object (436/7743): with ``version_id`` that version (or delete marker) only; without it, on a
        versioned bucket, a delete marker becomes the latest version (``null`` when Suspended); otherwise the object."""
        b = self.get_bucket(bucket)
        if version_id is None and not b.versioning:
            with self._lock:
                obj = b.objects.pop(key, None)
            if obj is None:
                return Deleted(False)
            self.store.release(obj.blob)
            self._emit("cos:ObjectRemove:Delete", b, obj.info, request_headers, source_ip)
            return Deleted(True)
        released: list[Blob] = []
        with self._lock:
            if version_id is None:
                old = b.objects.pop(key, None)
                marker = _Marker(key, self._new_version_id(b) or "null", self.cloud.clock.now())
                released = self._shelve(b, key, old, marker.version_id)
                b.history.setdefault(key, []).append(marker)
                result, event_info = Deleted(True, marker.version_id, True), (old.info if old else None)
                event = "cos:ObjectRemove:DeleteMarkerCreated"
            else:
                entry = self._find_version(b, key, version_id)
                if entry is None:
                    return Deleted(False, version_id)
                if b.objects.get(key) is entry:
                    del b.objects[key]
                else:
                    b.history[key] = [e for e in b.history[key] if e is not entry]
                hist = b.history.get(key, [])
                last = hist[-1] if hist and key not in b.objects else None
                if isinstance(last, _Object):
                    b.objects[key] = last  # the previous version becomes the current one
                    hist.pop()
                if not hist:
                    b.history.pop(key, None)
                if isinstance(entry, _Object):
                    released = [entry.blob]
                result = Deleted(True, version_id, isinstance(entry, _Marker))
                event_info = entry.info if isinstance(entry, _Object) else None
                event = "cos:ObjectRemove:Delete"
        for blob in released:
            self.store.release(blob)
        if event_info is not None:
            self._emit(event, b, event_info, request_headers, source_ip)
        return result

    def list_versions(
        self, bucket: str, prefix: str = "", key_marker: str = "", version_id_marker: str = "", max_keys: int = 1000
    ) -> tuple[list[VersionEntry], bool]:
        """GET Bucket Object versions: keys in order, each key's versions newest first; (page, truncated)."""
        b = self.get_bucket(bucket)
        rows: list[VersionEntry] = []
        with self._lock:
            keys = sorted(k for k in set(b.objects) | set(b.history) if k.startswith(prefix))
            for k in keys:
                entries: list[Union[_Object, _Marker]] = list(b.history.get(k, []))
                if k in b.objects:
                    entries.append(b.objects[k])
                for i, e in enumerate(reversed(entries)):
                    if isinstance(e, _Marker):
                        rows.append(VersionEntry(k, e.version_id, i == 0, e.last_modified))
                    else:
                        rows.append(VersionEntry(k, _vid(e), i == 0, e.info.last_modified, e.info))
        if key_marker:
            at = next(
                (i for i, r in enumerate(rows) if r.key == key_marker and r.version_id == version_id_marker), None
            )
            rows = rows[at + 1 :] if at is not None else [r for r in rows if r.key > key_marker]
        return rows[:max_keys], len(rows) > max_keys

    # -- objects ---------------------------------------------------------------------------
    def put_object(
        self,
        bucket: str,
        key: str,
        data: Body,
        metadata: Optional[dict[str, str]] = None,
        content_type: Optional[str] = None,
        forbid_overwrite: bool = False,
        request_headers: Optional[dict[str, str]] = None,
        *,
        content_md5: Optional[bytes] = None,
        tags: Optional[dict[str, str]] = None,
        source_ip: str = "127.0.0.1",
        event_name: str = "cos:ObjectCreated:Put",
        storage_class: str = "STANDARD",
        encryption: Optional[str] = None,
    ) -> ObjectInfo:
        """Store an object (streamed to disk), then commit it and emit ``cos:ObjectCreated:Put``."""
        b = self.get_bucket(bucket)
        validate_key(key)
        meta = dict(metadata or {})
        validate_metadata(meta)
        validate_tags(tags or {})
        if forbid_overwrite:
            self._check_not_exists(b, key)
        try:
            written = self.store.write(data, max_size=MAX_PUT_SIZE)
        except TooLarge:
            raise CosError("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size.") from None
        if content_md5 is not None and written.md5 != content_md5:
            self.store.release(written.blob)
            raise CosError("BadDigest", 400, "The Content-MD5 you specified did not match what was received.")
        return self._commit(
            b,
            key,
            written.blob,
            f'"{written.md5_hex}"',
            meta,
            content_type or "application/octet-stream",
            forbid_overwrite,
            dict(tags or {}),
            event_name,
            request_headers,
            source_ip,
            storage_class=storage_class,
            encryption=encryption,
        )

    def _check_not_exists(self, b: Bucket, key: str) -> None:
        with self._lock:
            # ⚠ Reportedly (DESIGN.md §4) create-once stops working on a bucket that ever had versioning.
            if key in b.objects and not b.versioning:
                raise CosError("FileAlreadyExists", 409, "The specified file already exists.")

    def _commit(
        self,
        b: Bucket,
        key: str,
        blob: Blob,
        etag: str,
        metadata: dict[str, str],
        content_type: str,
        forbid_overwrite: bool,
        tags: dict[str, str],
        event_name: str,
        request_headers: Optional[Mapping[str, str]],
        source_ip: str,
        parts: int = 0,
        storage_class: str = "STANDARD",
        encryption: Optional[str] = None,
    ) -> ObjectInfo:
        with self._lock:
            if b.name not in self.buckets:
                self.store.release(blob)
                raise no_such_bucket()
            old = b.objects.get(key)
            if old is not None and forbid_overwrite and not b.versioning:
                self.store.release(blob)
                raise CosError("FileAlreadyExists", 409, "The specified file already exists.")
            version = b.versions.get(key, 0) + 1
            b.versions[key] = version
            info = ObjectInfo(
                bucket=b.name,
                key=key,
                size=blob.size,
                etag=etag,
                crc64=blob.crc64,
                metadata=metadata,
                content_type=content_type,
                last_modified=self.cloud.clock.now(),
                version=version,
                parts=parts,
                storage_class=storage_class,
                encryption=encryption,
                version_id=self._new_version_id(b),
            )
            b.objects[key] = _Object(info=info, blob=blob, tags=tags)
            # Versioned: the replaced version is kept (only a replaced ``null`` one goes, when Suspended).
            released = self._shelve(b, key, old, info.version_id) if b.versioning else [old.blob] if old else []
        for gone in released:
            self.store.release(gone)
        self._emit(event_name, b, info, request_headers, source_ip)
        return info

    def _object(self, bucket: str, key: str, version_id: Optional[str] = None) -> _Object:
        b = self.get_bucket(bucket)
        if version_id is not None:
            return self._versioned_object(b, key, version_id)
        with self._lock:
            obj = b.objects.get(key)
        if obj is None:
            raise no_such_key()
        return obj

    def head_object(self, bucket: str, key: str, version_id: Optional[str] = None) -> Optional[ObjectInfo]:
        b = self.get_bucket(bucket)
        if version_id is not None:
            return self._versioned_object(b, key, version_id).info
        with self._lock:
            obj = b.objects.get(key)
        return obj.info if obj else None

    def open_object(
        self, bucket: str, key: str, start: int = 0, end: Optional[int] = None, version_id: Optional[str] = None
    ) -> tuple[ObjectInfo, Iterator[bytes]]:
        """The object's info and a stream of bytes ``start..end`` of that same version."""
        b = self.get_bucket(bucket)
        if version_id is not None:
            with self._lock:  # the iterator takes its reference while no delete can release the blob
                found = self._versioned_object(b, key, version_id)
                return found.info, self.store.iter(found.blob, start, end)
        with self._lock:
            obj = b.objects.get(key)
            if obj is None:
                raise no_such_key()
            return obj.info, self.store.iter(obj.blob, start, end)

    def iter_object(self, bucket: str, key: str, start: int = 0, end: Optional[int] = None) -> Iterator[bytes]:
        """Chunks (about 256 KiB) of bytes ``start..end`` inclusive, like an HTTP Range."""
        return self.open_object(bucket, key, start, end)[1]

    def read_object(self, bucket: str, key: str) -> bytes:
        return b"".join(self.iter_object(bucket, key))

    def delete_object(
        self, bucket: str, key: str, request_headers: Optional[dict[str, str]] = None, source_ip: str = "127.0.0.1"
    ) -> bool:
        """Remove the object (no error when it is missing, as COS answers 204 either way); on a versioned
        bucket, write a delete marker (see :meth:`remove`)."""
        return self.remove(bucket, key, None, request_headers, source_ip).removed

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        *,
        replace_metadata: bool = False,
        metadata: Optional[dict[str, str]] = None,
        content_type: Optional[str] = None,
        forbid_overwrite: bool = False,
        request_headers: Optional[dict[str, str]] = None,
        source_ip: str = "127.0.0.1",
        check: Optional[Callable[[ObjectInfo], None]] = None,
        storage_class: str = "STANDARD",
        encryption: Optional[str] = None,
        tags: Optional[dict[str, str]] = None,
        src_version_id: Optional[str] = None,
    ) -> ObjectInfo:
        """Copy an object: the bytes are shared, not copied. ``check`` tests the copy-source conditions.

        The destination's storage class and encryption are the request's (not the source's); its tags are
        ``tags``, or the source's when None (``x-cos-tagging-directive: Copy``).
        """
        dst = self.get_bucket(bucket)
        validate_key(key)
        src = self.get_bucket(src_bucket)
        with self._lock:
            obj = src.objects.get(src_key)
            if src_version_id is not None:  # x-cos-copy-source: ...?versionId=<id>
                obj = self._object(src_bucket, src_key, src_version_id)
            if obj is None:
                raise no_such_key()
            if check is not None:
                check(obj.info)
            changes_attributes = storage_class != obj.info.storage_class or encryption is not None
            if src_bucket == bucket and src_key == key and not replace_metadata and not changes_attributes:
                raise CosError(
                    "InvalidRequest",
                    400,
                    "This copy request is illegal because it is trying to copy an object to itself without "
                    "changing the object's metadata, storage class, website redirect location or encryption "
                    "attributes.",
                )
            blob = self.store.share(obj.blob)
            info = obj.info
            new_tags = dict(obj.tags) if tags is None else dict(tags)
        validate_tags(new_tags)
        meta = dict(metadata or {}) if replace_metadata else dict(info.metadata)
        ctype = (content_type or info.content_type) if replace_metadata else info.content_type
        validate_metadata(meta)
        if forbid_overwrite:
            self._check_not_exists(dst, key)
        return self._commit(
            dst,
            key,
            blob,
            info.etag,
            meta,
            ctype,
            forbid_overwrite,
            new_tags,
            "cos:ObjectCreated:Copy",
            request_headers,
            source_ip,
            parts=info.parts,
            storage_class=storage_class,
            encryption=encryption,
        )

    # -- tags ------------------------------------------------------------------------------
    def get_tags(self, bucket: str, key: str, version_id: Optional[str] = None) -> dict[str, str]:
        return dict(self._object(bucket, key, version_id).tags)

    def put_tags(self, bucket: str, key: str, tags: dict[str, str], version_id: Optional[str] = None) -> None:
        """PUT Object tagging: the current version, or ``version_id`` only (436/35709)."""
        validate_tags(tags)
        obj = self._object(bucket, key, version_id)
        with self._lock:
            obj.tags = dict(tags)

    def delete_tags(self, bucket: str, key: str, version_id: Optional[str] = None) -> None:
        obj = self._object(bucket, key, version_id)
        with self._lock:
            obj.tags = {}

    # -- listing ---------------------------------------------------------------------------
    def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", marker: str = "", max_keys: int = 1000
    ) -> ListResult:
        """GET Bucket v1: keys after ``marker`` in UTF-8 order; ``max_keys`` counts keys and common prefixes."""
        b = self.get_bucket(bucket)
        with self._lock:
            infos = sorted(
                (o.info for k, o in b.objects.items() if k.startswith(prefix) and k > marker), key=lambda i: i.key
            )
        contents: list[ObjectInfo] = []
        prefixes: list[str] = []
        last: Optional[str] = None
        truncated = False
        for info in infos:
            if delimiter:
                rest = info.key[len(prefix) :]
                cut = rest.find(delimiter)
                if cut >= 0:
                    common = prefix + rest[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        continue
                    if marker and common <= marker:
                        continue
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    prefixes.append(common)
                    last = common
                    continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            contents.append(info)
            last = info.key
        return ListResult(contents, prefixes, truncated, last if truncated else None)

    # -- multipart -------------------------------------------------------------------------
    def initiate_multipart(
        self,
        bucket: str,
        key: str,
        metadata: Optional[dict[str, str]] = None,
        content_type: Optional[str] = None,
        initiator: str = "root",
        tags: Optional[dict[str, str]] = None,
        storage_class: str = "STANDARD",
        encryption: Optional[str] = None,
    ) -> UploadInfo:
        b = self.get_bucket(bucket)
        validate_key(key)
        meta = dict(metadata or {})
        validate_metadata(meta)
        validate_tags(tags or {})
        now = self.cloud.clock.now()
        info = UploadInfo(
            upload_id=f"{int(now)}{secrets.token_hex(31)}",
            key=key,
            initiated=now,
            initiator=initiator,
            storage_class=storage_class,
            encryption=encryption,
        )
        with self._lock:
            b.uploads[info.upload_id] = _Upload(
                info=info,
                metadata=meta,
                content_type=content_type or "application/octet-stream",
                tags=dict(tags or {}),
            )
        return info

    def _upload(self, b: Bucket, key: str, upload_id: str) -> _Upload:
        with self._lock:
            up = b.uploads.get(upload_id)
        if up is None or up.info.key != key:
            raise no_such_upload()
        return up

    @staticmethod
    def _check_part_number(number: int) -> None:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise invalid_argument(f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive.")

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, data: Body, content_md5: Optional[bytes] = None
    ) -> PartInfo:
        """Store one part (streamed); uploading the same number again replaces it."""
        b = self.get_bucket(bucket)
        self._check_part_number(number)
        self._upload(b, key, upload_id)
        try:
            written = self.store.write(data, max_size=MAX_PART_SIZE)
        except TooLarge:
            raise CosError("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size.") from None
        if content_md5 is not None and written.md5 != content_md5:
            self.store.release(written.blob)
            raise CosError("BadDigest", 400, "The Content-MD5 you specified did not match what was received.")
        part = PartInfo(number, f'"{written.md5_hex}"', written.blob.size, written.blob.crc64, self.cloud.clock.now())
        return self._add_part(b, key, upload_id, _Part(part, written.blob), written.md5)

    def _add_part(self, b: Bucket, key: str, upload_id: str, part: _Part, md5: bytes) -> PartInfo:
        with self._lock:
            up = b.uploads.get(upload_id)
            if up is None or up.info.key != key:  # aborted or completed meanwhile
                self.store.release(part.blob)
                raise no_such_upload()
            old = up.parts.get(part.info.number)
            up.parts[part.info.number] = part
        if old is not None:
            self.store.release(old.blob)
        return part.info

    def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        src_bucket: str,
        src_key: str,
        start: Optional[int] = None,
        end: Optional[int] = None,
        check: Optional[Callable[[ObjectInfo], None]] = None,
    ) -> PartInfo:
        """A part made of (a range of) another object; bytes are read once for the part's MD5, not copied."""
        b = self.get_bucket(bucket)
        self._check_part_number(number)
        self._upload(b, key, upload_id)
        src = self.get_bucket(src_bucket)
        with self._lock:
            obj = src.objects.get(src_key)
            if obj is None:
                raise no_such_key()
            if check is not None:
                check(obj.info)
            blob = obj.blob
            self.store.retain(blob)
        try:
            first = 0 if start is None else start
            last = blob.size - 1 if end is None else end
            if start is not None and (first > last or last >= blob.size):
                raise invalid_argument(f"Range specified is not valid for source object of size: {blob.size}")
            if last - first + 1 > MAX_PART_SIZE:
                raise CosError("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size.")
            piece = self.store.slice(blob, first, last) if blob.size else self.store.share(blob)
        finally:
            self.store.release(blob)
        md5 = hashlib.md5()  # noqa: S324
        for chunk in self.store.iter(piece):
            md5.update(chunk)
        part = PartInfo(number, f'"{md5.hexdigest()}"', piece.size, piece.crc64, self.cloud.clock.now())
        return self._add_part(b, key, upload_id, _Part(part, piece), md5.digest())

    def list_parts(
        self, bucket: str, key: str, upload_id: str, marker: int = 0, max_parts: int = 1000
    ) -> tuple[list[PartInfo], bool, Optional[int]]:
        """Parts after ``marker`` in number order: (page, truncated, next marker)."""
        b = self.get_bucket(bucket)
        up = self._upload(b, key, upload_id)
        with self._lock:
            parts = sorted((p.info for n, p in up.parts.items() if n > marker), key=lambda p: p.number)
        page = parts[:max_parts]
        truncated = len(parts) > max_parts
        return page, truncated, (page[-1].number if page else None)

    def upload_info(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        return self._upload(self.get_bucket(bucket), key, upload_id).info

    def list_multipart_uploads(self, bucket: str, prefix: str = "") -> list[UploadInfo]:
        b = self.get_bucket(bucket)
        with self._lock:
            ups = [u.info for u in b.uploads.values() if u.info.key.startswith(prefix)]
        return sorted(ups, key=lambda u: (u.key, u.initiated, u.upload_id))

    def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        *,
        forbid_overwrite: bool = False,
        request_headers: Optional[dict[str, str]] = None,
        source_ip: str = "127.0.0.1",
    ) -> ObjectInfo:
        """Assemble the listed parts (no bytes copied) into the object; unlisted parts are dropped.

        Errors, as the Complete Multipart Upload page gives them: NoSuchUpload (404), InvalidPartOrder
        (part numbers not ascending), InvalidPart (a part missing, an ETag that does not match, or a
        gap in the numbers), EntityTooSmall (a part other than the last under 1 MB).
        """
        b = self.get_bucket(bucket)
        with self._lock:
            up = b.uploads.get(upload_id)
            if up is None or up.info.key != key:
                raise no_such_upload()
            if not parts:
                raise CosError("MalformedXML", 400, "The XML you provided was not well-formed or did not validate.")
            numbers = [n for n, _ in parts]
            if any(a >= c for a, c in zip(numbers, numbers[1:])):
                raise CosError("InvalidPartOrder", 400, "The list of parts was not in ascending order.")
            chosen: list[_Part] = []
            for i, (number, etag) in enumerate(parts):
                part = up.parts.get(number)
                if part is None or _unquote(etag) != _unquote(part.info.etag):
                    raise CosError(
                        "InvalidPart",
                        400,
                        "One or more of the specified parts could not be found or the specified entity tag "
                        "might not have matched the part's entity tag.",
                    )
                if i > 0 and number != numbers[i - 1] + 1:
                    raise CosError("InvalidPart", 400, "The part numbers are not continuous.")
                chosen.append(part)
            for part in chosen[:-1]:
                if part.info.size < MIN_PART_SIZE:
                    raise CosError(
                        "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size."
                    )
            if forbid_overwrite and key in b.objects and not b.versioning:
                raise CosError("FileAlreadyExists", 409, "The specified file already exists.")
            del b.uploads[upload_id]
        blob = self.store.concat([p.blob for p in chosen])
        for part in up.parts.values():
            self.store.release(part.blob)
        etag = multipart_etag([bytes.fromhex(_unquote(p.info.etag)) for p in chosen])
        return self._commit(
            b,
            key,
            blob,
            etag,
            up.metadata,
            up.content_type,
            forbid_overwrite,
            up.tags,
            "cos:ObjectCreated:CompleteMultipartUpload",
            request_headers,
            source_ip,
            parts=len(chosen),
            storage_class=up.info.storage_class,
            encryption=up.info.encryption,
        )

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        b = self.get_bucket(bucket)
        with self._lock:
            up = b.uploads.get(upload_id)
            if up is None or up.info.key != key:
                raise no_such_upload()
            del b.uploads[upload_id]
        for part in up.parts.values():
            self.store.release(part.blob)

    # -- housekeeping ----------------------------------------------------------------------
    def object_count(self, bucket: str) -> int:
        return len(self.get_bucket(bucket).objects)

    def close(self) -> None:
        """Nothing to flush: object files live under the cloud's data dir, which its owner removes."""


def _unquote(etag: str) -> str:
    return etag.strip().strip('"').replace("&quot;", "")
