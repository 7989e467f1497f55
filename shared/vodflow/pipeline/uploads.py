"""Upload sessions of ``POST /uploads``: what the API issued (the grant), fresh URLs, abort, and what ingest applies.

An upload the API hands out is a key ``<staging prefix><upload id>/<file name>`` (the upload id is 128
random bits, so one caller cannot guess another's upload) and a *grant*, a create-once record under the
state prefix (:func:`records.upload_grant`) that says which key, which ``x-cos-meta-vod-*`` options,
which size and part plan the API signed. COS signs only the headers listed in a presigned URL's
``q-header-list``: every option the API issues is signed (a changed value is refused by COS with 403),
but whoever holds the URL may still *add* unsigned headers. So for a key that has a grant, ingest applies
the issued options only, and logs (never applies) any other ``vod-*`` metadata
(:func:`options_for`). Objects staged by bucket writers without a grant keep their metadata (the staging
convention), with every option checked as before (the cover must lie in the staging prefix).

URLs are signed with the api function's temporary role keys. SCF documents those as valid for up to
6 h (reference/tencent-scf.md §3.1) and the function cannot see when they expire, so a URL's life is
capped at :data:`URL_TTL_MAX_S`, and the reply says so; ``GET /uploads/{id}`` signs fresh ones for
what is still missing, ``DELETE /uploads/{id}`` aborts.
"""

from __future__ import annotations

import logging
import posixpath
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import quote

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from vodflow.errors import VodClientException, VodServiceError, VodValidationError
from vodflow.flow import abort, list_parts
from vodflow.model import COVER_TYPES
from vodflow.pipeline import records
from vodflow.pipeline.config import Config
from vodflow.pipeline.jobs import job_id_for
from vodflow.pipeline.options import FIELDS, META_PREFIX, IngestOptions, parse_options, vod_metadata
from vodflow.pipeline.runtime import Runtime
from vodflow.planner import MiB, PlanConfig, plan_upload

UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
FILENAME_RE = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,200}$")
CONTENT_TYPE_RE = re.compile(r"^[!-~][ -~]{0,254}$")  # printable ASCII: it becomes a header
OPTION_NAMES = {s.replace("-", "_"): s for s in [*FIELDS, "cover"]}
MULTIPART_THRESHOLD = 64 * MiB  # above this, presigned parts (a single PUT works up to 5 GiB, parts resume)
MIN_PART = 16 * MiB  # fewer, larger parts: fewer URLs and requests for the uploader
TARGET_URL_PARTS = 1000  # the part size grows so that most uploads need at most this many parts
URLS_PER_REPLY = 1000  # part URLs in one reply (a reply stays far below the function URL's 6 MB)
REQUESTED_TTL_RANGE = (60, 7 * 24 * 3600)  # what a caller may ask for (the old contract)
URL_TTL_MAX_S = 3600  # what the role keys are trusted to outlive (they last up to 6 h; the emulator's 2 h)
UPLOAD_MAX_AGE_S = 7 * 24 * 3600  # an unfinished multipart upload is aborted by the sweeper after this
MAX_SESSION_FILES = 1000  # files of one package (the 64 KB body bounds the list too)
PACKAGE_NAME_RE = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,200}\.(hls|dash)$", re.IGNORECASE)
PACKAGE_INDEX = {"hls": "index.m3u8", "dash": "index.mpd"}
TTL_NOTE = (
    "URLs are signed with the api function's temporary role keys and live at most {cap} s; "
    "GET /uploads/{{id}} signs fresh ones for what is still missing"
)
log = logging.getLogger("vodflow.api")


class UploadRefused(Exception):
    """A request about an upload that its state refuses (HTTP ``status``, Tencent-style ``code``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# -- checking a request ----------------------------------------------------------------------------
def text_field(name: str, value: Any, *, max_len: int = 1024, header: bool = False) -> str:
    """A string that can go into a key, a header or a log: UTF-8 (no lone surrogate), no control character."""
    if not isinstance(value, str):
        raise VodValidationError("InvalidParameter", name, value, "expected a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise VodValidationError(
            "InvalidParameterValue", name, value, "is not valid Unicode (lone surrogate)"
        ) from None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise VodValidationError("InvalidParameterValue", name, value, "contains a control character")
    if header and not value.isascii():
        raise VodValidationError("InvalidParameterValue", name, value, "must be ASCII (it is sent as a header)")
    if len(value) > max_len:
        raise VodValidationError("InvalidParameterValue", name, value, f"is over {max_len} characters")
    return value


def int_field(body: Mapping[str, Any], name: str, *, required: bool = True) -> Optional[int]:
    value = body.get(name)
    if value is None:
        if required:
            raise VodValidationError("MissingParameter", name, None, "is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise VodValidationError("InvalidParameter", name, value, "expected an integer")
    return value


@dataclass(frozen=True)
class UploadRequest:
    """A checked ``POST /uploads`` body: nothing in it can fail later in COS."""

    filename: str
    size: int
    expires_in: int  # granted (capped)
    expires_in_requested: int
    metadata: Mapping[str, str]  # x-cos-meta-vod-* → percent-encoded value, exactly what is signed
    content_type: Optional[str] = None
    role: str = "video"  # "video" | "index" (a package's index manifest)
    package: Optional[str] = None  # the package folder name (``show.hls``) for a package session
    extra: tuple[SessionFile, ...] = ()  # the other files of the session: a cover, a package's files


@dataclass(frozen=True)
class SessionFile:
    """A file staged with the upload's main file: its cover, or a file of its package (path inside it)."""

    role: str  # "cover" | "file"
    path: str
    size: int
    content_type: Optional[str] = None


def _file_name(field_name: str, value: Any) -> str:
    name = text_field(field_name, value if value is not None else _missing(field_name))
    if not FILENAME_RE.match(name) or name.strip(".") == "":
        raise VodValidationError("InvalidParameterValue", field_name, name, "not a plain file name")
    return name


def _file_size(body: Mapping[str, Any], field_name: str, config: Config) -> int:
    size = body.get("size")
    if size is None:
        raise VodValidationError("MissingParameter", field_name, None, "is required")
    if not isinstance(size, int) or isinstance(size, bool):
        raise VodValidationError("InvalidParameter", field_name, size, "expected an integer")
    if size <= 0:
        raise VodValidationError("InvalidParameterValue.MediaSize", field_name, size, "must be > 0")
    try:
        plan_for(size, config)  # refuses sizes over what COS allows (10,000 parts of 5 GiB)
    except VodValidationError as exc:
        raise VodValidationError(exc.code, field_name, size, "is over what COS can hold") from None
    return size


def _content_type(value: Any, field_name: str) -> Optional[str]:
    if value is None:
        return None
    content_type = text_field(field_name, value, max_len=255, header=True)
    if not CONTENT_TYPE_RE.match(content_type):
        raise VodValidationError("InvalidParameterValue", field_name, content_type, "not a media type")
    return content_type


def _parse_cover(raw: Any, filename: str, config: Config) -> SessionFile:
    if not isinstance(raw, Mapping):
        raise VodValidationError("InvalidParameter", "cover", raw, "expected an object {filename, size}")
    name = _file_name("cover.filename", raw.get("filename"))
    ext = posixpath.splitext(name)[1].lstrip(".").lower()
    if ext not in COVER_TYPES:
        raise VodValidationError(
            "InvalidParameterValue.CoverType", "cover.filename", name, f"is not a cover image ({sorted(COVER_TYPES)})"
        )
    if name == filename:
        raise VodValidationError("InvalidParameterValue", "cover.filename", name, "must differ from filename")
    return SessionFile(
        "cover",
        name,
        _file_size(raw, "cover.size", config),
        _content_type(raw.get("content_type"), "cover.content_type"),
    )


def _parse_package(raw: Any, config: Config) -> tuple[str, SessionFile, list[SessionFile]]:
    """``{"name": "show.hls", "files": [{"path", "size", "content_type"?}]}``: the index and the other files."""
    if not isinstance(raw, Mapping):
        raise VodValidationError("InvalidParameter", "package", raw, "expected an object {name, files}")
    name = text_field("package.name", raw.get("name") if raw.get("name") is not None else _missing("package.name"))
    m = PACKAGE_NAME_RE.match(name)
    if not m or name.strip(".") == "":
        raise VodValidationError(
            "InvalidParameterValue", "package.name", name, "must be a folder name ending in .hls or .dash"
        )
    index_name = PACKAGE_INDEX[m.group(1).lower()]
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        raise VodValidationError("InvalidParameter", "package.files", files, "expected a non-empty list")
    if len(files) > MAX_SESSION_FILES:
        raise VodValidationError(
            "InvalidParameterValue", "package.files", len(files), f"over {MAX_SESSION_FILES} files"
        )
    seen: set[str] = set()
    out: list[SessionFile] = []
    for n, entry in enumerate(files):
        where = f"package.files[{n}]"
        if not isinstance(entry, Mapping):
            raise VodValidationError("InvalidParameter", where, entry, "expected an object {path, size}")
        path = text_field(
            f"{where}.path",
            entry.get("path") if entry.get("path") is not None else _missing(f"{where}.path"),
            max_len=600,
        )
        segments = path.split("/")
        if "\\" in path or any(seg in ("", ".", "..") for seg in segments):
            raise VodValidationError(
                "InvalidParameterValue", f"{where}.path", path, "not a relative path inside the package"
            )
        if path in seen:
            raise VodValidationError("InvalidParameterValue", f"{where}.path", path, "listed twice")
        seen.add(path)
        out.append(
            SessionFile(
                "file",
                path,
                _file_size(entry, f"{where}.size", config),
                _content_type(entry.get("content_type"), f"{where}.content_type"),
            )
        )
    index = next((f for f in out if f.path.lower() == index_name), None)
    if index is None:
        raise VodValidationError(
            "InvalidParameterValue.Manifest",
            "package.files",
            name,
            f"has no top-level {index_name} (the index that starts the job)",
        )
    return name, index, [f for f in out if f is not index]


def parse_upload_request(body: Mapping[str, Any], config: Config) -> UploadRequest:
    """Every check of ``POST /uploads`` before anything is opened in COS; errors name the field.

    One file (``filename``, ``size``), a video with its cover (``cover: {filename, size}``), or a
    package folder (``package: {name: "show.hls", files: [{path, size}]}``, instead of filename/size).
    """
    package: Optional[str] = None
    extra: list[SessionFile] = []
    role = "video"
    if body.get("package") is not None:
        if body.get("filename") is not None or body.get("cover") is not None:
            raise VodValidationError("InvalidParameter", "package", None, "give either package or filename (and cover)")
        package, index, extra = _parse_package(body["package"], config)
        filename, size, role = f"{package}/{index.path}", index.size, "index"
    else:
        filename = _file_name("filename", body.get("filename") if "filename" in body else _missing("filename"))
        size = _file_size(body, "size", config)
        if body.get("cover") is not None:
            extra = [_parse_cover(body["cover"], filename, config)]
    requested = int_field(body, "expires_in", required=False)
    requested = 3600 if requested is None else requested
    low, high = REQUESTED_TTL_RANGE
    if not low <= requested <= high:
        raise VodValidationError("InvalidParameterValue", "expires_in", requested, f"must be in {low}..{high} s")
    content_type = _content_type(body.get("content_type"), "content_type")
    options = body.get("options")
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise VodValidationError("InvalidParameter", "options", options, "expected an object")
    metadata: dict[str, str] = {}
    for name, value in options.items():
        suffix = OPTION_NAMES.get(str(name))
        if suffix is None:
            raise VodValidationError("UnknownParameter", f"options.{name}", value, f"not one of {sorted(OPTION_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise VodValidationError("InvalidParameter", f"options.{name}", value, "expected a string or integer")
        text = text_field(f"options.{name}", str(value), max_len=4096)
        metadata[META_PREFIX + suffix] = quote(text, safe="")
    if extra and extra[0].role == "cover":
        if META_PREFIX + "cover" in metadata:
            raise VodValidationError(
                "InvalidParameter", "options.cover", None, "give the cover either here or as cover"
            )
        metadata[META_PREFIX + "cover"] = quote(extra[0].path, safe="")  # beside the video: a relative name
    key = f"{config.staging_prefix}{'0' * 32}/{filename}"
    parse_options(key, metadata, config, package=package is not None)  # refuse bad options now, not after
    return UploadRequest(
        filename, size, min(requested, URL_TTL_MAX_S), requested, metadata, content_type, role, package, tuple(extra)
    )


def _missing(name: str) -> Any:
    raise VodValidationError("MissingParameter", name, None, "is required")


def plan_for(size: int, config: Config) -> Any:
    """The upload's part plan, from the one planner the pipeline uses (≤ 10,000 parts, ≤ 5 GiB a part)."""
    wanted = max(MIN_PART, -(-size // TARGET_URL_PARTS))
    return plan_upload(
        size,
        PlanConfig(
            inline_threshold=MULTIPART_THRESHOLD,
            preferred_part_size=-(-wanted // MiB) * MiB,
            part_size=config.part_size,
        ),
    )


# -- the grant -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    """What the API issued for one upload. Create-once: the first writer's grant is the upload's."""

    upload_id: str
    bucket: str
    key: str
    mode: str  # "put" | "multipart"
    size: int
    metadata: Mapping[str, str]
    created: float
    part_size: int = 0
    part_count: int = 0
    content_type: Optional[str] = None
    cos_upload_id: Optional[str] = field(default=None, repr=False)
    role: str = "video"  # "video" | "index" | "cover" | "file"
    name: str = ""  # the file's name in the session (its path inside a package)
    files: tuple[Grant, ...] = ()  # the session's other files (on the main file's grant only)

    @property
    def all_files(self) -> tuple[Grant, ...]:
        """The main file first, then the cover or the package's other files."""
        return (self, *self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "files": [f.to_dict() for f in self.files],
            "upload_id": self.upload_id,
            "bucket": self.bucket,
            "key": self.key,
            "mode": self.mode,
            "size": self.size,
            "metadata": dict(self.metadata),
            "created": self.created,
            "part_size": self.part_size,
            "part_count": self.part_count,
            "content_type": self.content_type,
            "cos_upload_id": self.cos_upload_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Grant:
        return cls(
            upload_id=str(d["upload_id"]),
            bucket=str(d["bucket"]),
            key=str(d["key"]),
            mode=str(d["mode"]),
            size=int(d["size"]),
            metadata={str(k): str(v) for k, v in dict(d.get("metadata") or {}).items()},
            created=float(d["created"]),
            part_size=int(d.get("part_size") or 0),
            part_count=int(d.get("part_count") or 0),
            content_type=d.get("content_type"),
            cos_upload_id=d.get("cos_upload_id"),
            role=str(d.get("role") or "video"),
            name=str(d.get("name") or ""),
            files=tuple(cls.from_dict(f) for f in d.get("files") or ()),
        )


def upload_id_of(config: Config, key: str) -> Optional[str]:
    """The upload id in a key the API would have issued (``<staging prefix><32 hex>/<name>``), else None."""
    if not key.startswith(config.staging_prefix):
        return None
    folder, sep, name = key[len(config.staging_prefix) :].partition("/")
    return folder if sep and name and UPLOAD_ID_RE.match(folder) else None  # name: a file, or <pkg>.hls/<path>


def load_grant(rt: Runtime, upload_id: str) -> Optional[Grant]:
    store = rt.store()
    doc = store.read_key(store.prefix + records.upload_grant(upload_id))
    return None if doc is None else Grant.from_dict(doc)


def is_cancelled(rt: Runtime, upload_id: str) -> bool:
    store = rt.store()
    return store.read_key(store.prefix + records.upload_cancelled(upload_id)) is not None


# -- what ingest applies ---------------------------------------------------------------------------
def options_for(
    rt: Runtime, bucket: str, key: str, head: Mapping[str, Any], job_id: str, package: bool = False
) -> IngestOptions:
    """The options a staged object gets: for a key the API issued, only what its grant says.

    Safe to repeat: a read of the grant and a pure parse. Metadata that the grant does not carry (a
    header the URL holder added, or changed on a multipart object) is logged with the job id and
    never applied; an object without a grant (a bucket writer's) keeps its metadata.
    """
    cfg = rt.config
    upload_id = upload_id_of(cfg, key)
    grant = load_grant(rt, upload_id) if upload_id and bucket == cfg.staging_bucket else None
    if grant is None or grant.key != key or grant.bucket != bucket:
        return parse_options(key, head, cfg, package=package)
    if is_cancelled(rt, grant.upload_id):
        raise VodValidationError(
            "FailedOperation.UploadCancelled", "upload_id", grant.upload_id, "the upload was cancelled (DELETE)"
        )
    staged, issued = vod_metadata(head), vod_metadata(grant.metadata)
    ignored = sorted(META_PREFIX + s for s, v in staged.items() if issued.get(s) != v)
    if ignored:
        rt.log(
            "options not issued by the API ignored", job_id, level=logging.WARNING, upload_id=grant.upload_id,
            ignored=ignored,
        )  # fmt: skip
    return parse_options(key, grant.metadata, cfg, package=package)


# -- the routes' work ------------------------------------------------------------------------------
def _presigner(rt: Runtime) -> CosS3Client:
    """A COS client for presigning: URLs always name the bucket's own host, which is what COS signs.

    With the endpoint overridden (the local emulator) they are ``http://`` and reached through the
    emulator as an HTTP proxy (the CLI does so when ``VODFLOW_TENCENT_ENDPOINT`` is set).
    """
    creds = rt.credentials
    config = CosConfig(
        Region=rt.config.region,
        SecretId=creds.secret_id,
        SecretKey=creds.secret_key,
        Token=creds.token,
        Scheme=rt.endpoints.scheme,
    )
    return CosS3Client(config)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Urls:
    """Presigned URLs of one grant, all living ``ttl`` seconds (the SDK's presigner, role keys)."""

    def __init__(self, rt: Runtime, grant: Grant, ttl: int) -> None:
        self.signer = _presigner(rt)
        self.grant = grant
        self.ttl = ttl
        token = rt.credentials.token
        self.token_params = {"x-cos-security-token": token} if token else {}

    def sign(self, method: str, params: Mapping[str, str], headers: Mapping[str, str]) -> str:
        # The SDK writes its Authorization into the dicts it is given: hand it copies.
        return str(
            self.signer.get_presigned_url(
                Bucket=self.grant.bucket,
                Key=self.grant.key,
                Method=method,
                Expired=self.ttl,
                Params={**params, **self.token_params},
                Headers=dict(headers),
            )
        )

    def put_headers(self) -> dict[str, str]:
        """Every header the single PUT must send, each one signed (COS refuses a changed value)."""
        out = dict(self.grant.metadata)
        if self.grant.content_type:
            out["Content-Type"] = self.grant.content_type
        return out

    def put(self) -> dict[str, Any]:
        headers = self.put_headers()
        return {"url": self.sign("PUT", {}, headers), "headers": headers}

    def parts(self, numbers: list[int]) -> list[dict[str, Any]]:
        uid = str(self.grant.cos_upload_id)
        return [{"number": n, "url": self.sign("PUT", {"partNumber": str(n), "uploadId": uid}, {})} for n in numbers]

    def complete(self) -> str:
        return self.sign("POST", {"uploadId": str(self.grant.cos_upload_id)}, {})


def _expiry(rt: Runtime, ttl: int, requested: Optional[int] = None) -> dict[str, Any]:
    out: dict[str, Any] = {"expires_in": ttl, "expires_at": _iso(rt.clock() + ttl)}
    if requested is not None and requested > ttl:
        out["expires_in_requested"] = requested
        out["note"] = TTL_NOTE.format(cap=URL_TTL_MAX_S)
    return out


def _file_grant(
    rt: Runtime, upload_id: str, key: str, size: int, role: str, name: str, metadata: Mapping[str, str],
    content_type: Optional[str],
) -> Grant:  # fmt: skip
    plan = plan_for(size, rt.config)
    return Grant(
        upload_id=upload_id,
        bucket=rt.config.staging_bucket,
        key=key,
        mode="put" if plan.inline else "multipart",
        size=size,
        metadata=dict(metadata),
        created=rt.clock(),
        part_size=0 if plan.inline else plan.part_size,
        part_count=1 if plan.inline else plan.part_count,
        content_type=content_type,
        role=role,
        name=name,
    )


def _initiate(rt: Runtime, grant: Grant) -> Grant:
    """InitiateMultipartUpload with the issued metadata (part and complete URLs cannot set it)."""
    if grant.mode != "multipart":
        return grant
    cos = rt.cos()
    extra = {"ContentType": grant.content_type} if grant.content_type else {}
    init = rt.retry.call(
        lambda: cos.create_multipart_upload(Bucket=grant.bucket, Key=grant.key, Metadata=dict(grant.metadata), **extra),
        service="cos",
        action="InitiateMultipartUpload",
    )
    return replace(grant, cos_upload_id=str(init["UploadId"]))


def file_urls(rt: Runtime, grant: Grant, ttl: int) -> dict[str, Any]:
    """One file's first URLs: a single PUT's url and headers, or its first part URLs and the complete URL."""
    urls = _Urls(rt, grant, ttl)
    if grant.mode == "put":
        return urls.put()
    first = list(range(1, min(grant.part_count, URLS_PER_REPLY) + 1))
    return {
        "part_size": grant.part_size,
        "parts_total": grant.part_count,
        "parts": urls.parts(first),
        "complete_url": urls.complete(),
    }


def _file_head(grant: Grant) -> dict[str, Any]:
    return {"role": grant.role, "name": grant.name, "key": grant.key, "size": grant.size, "mode": grant.mode}


def create_upload(rt: Runtime, req: UploadRequest) -> dict[str, Any]:
    """``POST /uploads``: a grant and its URLs. Not idempotent by design: each call is a new upload id.

    For multipart, the API itself initiates the upload with the issued metadata (the uploader's part
    and complete URLs cannot set metadata), then writes the grant; if the grant cannot be written the
    uploads are aborted, so nothing is left open for a refused request. A session's other files (a
    cover, a package's segments and playlists) are staged beside the main file under the same upload id:
    ``<prefix><id>/<cover>``, ``<prefix><id>/<name>.hls/<path>``; only the main file carries options.
    """
    cfg = rt.config
    upload_id = secrets.token_hex(16)
    folder = f"{cfg.staging_prefix}{upload_id}/"
    main = _file_grant(
        rt, upload_id, folder + req.filename, req.size, req.role, req.filename, req.metadata, req.content_type
    )
    others = [
        _file_grant(
            rt, upload_id, folder + (f"{req.package}/{f.path}" if req.package else f.path), f.size, f.role,
            f"{req.package}/{f.path}" if req.package else f.path, {}, f.content_type,
        )
        for f in req.extra
    ]  # fmt: skip
    store = rt.store()
    opened: list[Grant] = []
    try:
        for g in [main, *others]:
            opened.append(_initiate(rt, g))
        grant = replace(opened[0], files=tuple(opened[1:]))
        store.create_key_once(store.prefix + records.upload_grant(upload_id), grant.to_dict())
    except Exception:
        for g in opened:
            if g.cos_upload_id:
                abort(rt.cos(), g.bucket, g.key, str(g.cos_upload_id), rt.retry)
        raise
    rt.log(
        "upload granted", None, upload_id=upload_id, key=grant.key, mode=grant.mode, size=req.size, files=len(opened)
    )
    out: dict[str, Any] = {
        "upload_id": upload_id,
        "mode": grant.mode,
        "bucket": grant.bucket,
        "key": grant.key,
        "size": grant.size,
    }
    out.update(file_urls(rt, grant, req.expires_in))
    if grant.files:
        # The main file last: its arrival starts the job, which then finds the cover / the package complete.
        out["files"] = [{**_file_head(g), **file_urls(rt, g, req.expires_in)} for g in grant.files]
        out["files"].append({**_file_head(grant), **file_urls(rt, grant, req.expires_in)})
    out["job_id"] = None  # known once the main file is staged: GET /uploads/{id}
    out.update(_expiry(rt, req.expires_in, req.expires_in_requested))
    return out


def _grant_or_404(rt: Runtime, upload_id: str) -> Grant:
    grant = load_grant(rt, upload_id) if UPLOAD_ID_RE.match(upload_id) else None
    if grant is None:
        raise VodValidationError("ResourceNotFound.Upload", "upload_id", upload_id, "no such upload")
    return grant


def _staged_etag(rt: Runtime, grant: Grant) -> Optional[str]:
    """The ETag of the upload's object once staged, else None (a HEAD with the role's keys)."""
    cos = rt.cos()

    def head() -> Optional[str]:
        try:
            reply = cos.head_object(Bucket=grant.bucket, Key=grant.key)
        except CosServiceError as exc:
            if exc.get_status_code() == 404:
                return None
            raise
        return str({str(k).lower(): v for k, v in reply.items()}.get("etag", "")).strip('"')

    result: Optional[str] = rt.retry.call(head, service="cos", action="HeadObject")
    return result


def _file_status(rt: Runtime, grant: Grant, cancelled: bool) -> dict[str, Any]:
    """One file's state: staged (its ETag), cancelled, aborted, or pending with fresh URLs for what is missing."""
    out: dict[str, Any] = {"mode": grant.mode, "bucket": grant.bucket, "key": grant.key, "size": grant.size}
    etag = _staged_etag(rt, grant)
    if etag is not None:
        out.update(state="staged", etag=etag)
        return out
    if cancelled:
        out["state"] = "cancelled"
        return out
    urls = _Urls(rt, grant, URL_TTL_MAX_S)
    if grant.mode == "put":
        out.update(state="pending", **urls.put(), **_expiry(rt, URL_TTL_MAX_S))
        return out
    try:
        have = list_parts(rt.cos(), grant.bucket, grant.key, str(grant.cos_upload_id), rt.retry)
    except VodServiceError as exc:
        if exc.code != "NoSuchUpload":
            raise
        out["state"] = "aborted"  # from outside (a lifecycle rule, the sweeper, another client)
        return out
    done = {p.number for p in have}
    missing = [n for n in range(1, grant.part_count + 1) if n not in done]
    out.update(
        state="pending",
        part_size=grant.part_size,
        parts_total=grant.part_count,
        parts_uploaded=[{"number": p.number, "size": p.size, "etag": p.etag} for p in have],
        parts_missing=len(missing),
        parts=urls.parts(missing[:URLS_PER_REPLY]),
        complete_url=urls.complete(),
        **_expiry(rt, URL_TTL_MAX_S),
    )
    return out


def upload_status(rt: Runtime, upload_id: str) -> dict[str, Any]:
    """``GET /uploads/{id}``: staged (with its job id), pending with fresh URLs, cancelled or aborted.

    The top level is the main file (the video, or the package's index); a session with more files also
    lists each one (``files``, the main file last) with its own state and URLs. Safe to repeat: reads
    (the grant, HEADs, ListParts) and fresh signatures.
    """
    grant = _grant_or_404(rt, upload_id)
    cancelled = is_cancelled(rt, upload_id)
    main = _file_status(rt, grant, cancelled)
    out: dict[str, Any] = {"upload_id": upload_id, **main}
    if main["state"] == "staged":
        out["job_id"] = job_id_for(grant.bucket, grant.key, main["etag"])
    if grant.files:
        out["files"] = [{**_file_head(g), **_file_status(rt, g, cancelled)} for g in grant.files]
        out["files"].append({**_file_head(grant), **main})
    return out


def cancel_upload(rt: Runtime, upload_id: str) -> dict[str, Any]:
    """``DELETE /uploads/{id}``: abort every multipart upload of the session and mark the grant cancelled.

    Safe to repeat: NoSuchUpload means already aborted; the cancel mark is create-once. A staged
    main file is not cancelled (its job runs): that is a 409 naming the job.
    """
    grant = _grant_or_404(rt, upload_id)
    etag = _staged_etag(rt, grant)
    if etag is not None:
        job_id = job_id_for(grant.bucket, grant.key, etag)
        raise UploadRefused(409, "FailedOperation.UploadStaged", f"the upload is already staged: job {job_id}")
    store = rt.store()
    store.create_key_once(store.prefix + records.upload_cancelled(upload_id), {"cancelled": rt.clock()})
    for g in grant.all_files:
        if g.mode == "multipart":
            abort(rt.cos(), g.bucket, g.key, str(g.cos_upload_id), rt.retry)
    rt.log("upload cancelled", None, upload_id=upload_id, key=grant.key)
    return {"upload_id": upload_id, "state": "cancelled", "key": grant.key}


# -- the sweeper's part ----------------------------------------------------------------------------
def sweep_uploads(rt: Runtime, now: float) -> dict[str, int]:
    """Abort multipart uploads unfinished ``UPLOAD_MAX_AGE_S`` after their grant; drop old grants.

    Safe to repeat: abort accepts NoSuchUpload, deletes of records already gone are no-ops.
    """
    store = rt.store()
    counts = {"uploads_aborted": 0, "grants_removed": 0}
    base = store.prefix + records.UPLOADS_DIR
    for key in list(store.list_keys(base)):
        upload_id = key[len(base) :].removesuffix(".json")
        if not UPLOAD_ID_RE.match(upload_id):
            continue
        try:
            grant = load_grant(rt, upload_id)
            if grant is None or now - grant.created <= UPLOAD_MAX_AGE_S:
                continue
            for g in grant.all_files:
                if g.mode == "multipart" and _staged_etag(rt, g) is None:
                    abort(rt.cos(), g.bucket, g.key, str(g.cos_upload_id), rt.retry)
                    counts["uploads_aborted"] += 1
            if now - grant.created > UPLOAD_MAX_AGE_S + rt.config.job_retention_s:
                for rel in (records.upload_cancelled(upload_id), records.upload_grant(upload_id)):

                    def delete(k: str = store.prefix + rel) -> None:
                        store.cos.delete_object(Bucket=store.bucket, Key=k)

                    rt.retry.call(delete, service="cos", action="DeleteObject")
                counts["grants_removed"] += 1
        except (VodClientException, KeyError, ValueError, TypeError) as exc:
            rt.log("upload sweep failed", None, level=logging.WARNING, upload_id=upload_id, error=type(exc).__name__)
    return counts
