"""The COS XML API front: hosts, action names, signature and permission checks, Tencent-shaped replies.

Every reply carries ``x-cos-request-id`` and ``Server: tencent-cos``; errors are the ``<Error>``
XML of wire-shapes.md §1.1 with all of Code, Message, Resource, RequestId, TraceId (the SDK's
``digest_xml`` needs each). Object bodies stream in and out in chunks (see storage.py).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, quote, unquote

from tencent_emulator.core.http import Request, Response
from tencent_emulator.core.iam import KeyRecord
from tencent_emulator.cos import auth, xmlbody
from tencent_emulator.cos.errors import CosError, access_denied, invalid_argument, no_such_bucket, not_implemented
from tencent_emulator.cos.models import STORED_HEADERS, Bucket, CorsRule, CosModel, LifecycleRule, ObjectInfo
from tencent_emulator.cos.xmlbody import Node

BUCKET_HOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9-]*-\d+)\.cos\.(?P<region>[a-z0-9-]+)\.myqcloud\.com$")
SERVICE_HOST = re.compile(r"^(?:cos\.(?P<region>[a-z0-9-]+)|service\.cos)\.myqcloud\.com$")
# Hosts the COS SDK also talks to, for services the emulator does not model: 数据万象 CI (``<bucket>.ci.<region>``,
# ``ci.<region>``, ``<bucket>.pic.<region>``) and the async-fetch migration service (``<region>.migration``).
OTHER_HOST = re.compile(
    r"^(?:[a-z0-9-]+\.)?(?:ci|pic)\.[a-z0-9-]+\.myqcloud\.com$|^[a-z0-9-]+\.migration\.myqcloud\.com$"
)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
BUCKET_ACTIONS = frozenset(
    {
        "GetBucket",
        "PutBucket",
        "HeadBucket",
        "DeleteBucket",
        "ListMultipartUploads",
        "PostObject",
        "DeleteMultipleObjects",
        "PutBucketVersioning",
        "GetBucketVersioning",
        "GetBucketObjectVersions",
        "PutBucketCors",
        "GetBucketCors",
        "DeleteBucketCors",
        "PutBucketLifecycle",
        "GetBucketLifecycle",
        "DeleteBucketLifecycle",
    }
)
CORS_FORBIDDEN = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request "
    "method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the "
    "resource's CORS spec."
)


def _request_id() -> str:
    return base64.b64encode(secrets.token_bytes(27)).decode()


@dataclass
class Target:
    """What a request addresses: a bucket (by host) and maybe a key, or the service."""

    bucket: Optional[str]
    region: Optional[str]
    key: str


class CosFront:
    """Serves ``<bucket>-<appid>.cos.<region>.myqcloud.com`` and ``cos.<region>.myqcloud.com``."""

    service = "cos"

    def __init__(self, cloud: Any, model: CosModel) -> None:
        self.cloud = cloud
        self.model = model

    # -- routing ---------------------------------------------------------------------------
    def match(self, req: Request) -> bool:
        host = req.host.lower()
        return bool(BUCKET_HOST.match(host) or SERVICE_HOST.match(host) or OTHER_HOST.match(host))

    def target(self, req: Request) -> Target:
        host = req.host.lower()
        m = BUCKET_HOST.match(host)
        if m:
            return Target(m.group("bucket"), m.group("region"), req.key_path[1:])
        s = SERVICE_HOST.match(host)
        return Target(None, s.group("region") if s else None, req.key_path[1:])

    def classify(self, req: Request) -> str:
        """The action a request names. Unmodelled sub-resources get their own names (``PutBucketOrigin``,
        ``GetObjectAcl``...) so that they are refused, never mistaken for a plain object or bucket request."""
        if OTHER_HOST.match(req.host.lower()):
            return "OtherService"
        t = self.target(req)
        params = {k.lower() for k, _ in req.query}
        method = req.method
        sub = next((p for p in sorted(params) if p in SUBRESOURCES), None)
        if t.bucket is None:
            return "GetService" if method == "GET" and not sub else "Unknown"
        if method == "OPTIONS":
            return "OptionsObject" if t.key else "OptionsBucket"
        if not t.key:
            if sub == "uploads" and method == "GET":
                return "ListMultipartUploads"
            if sub == "delete" and method == "POST":
                return "DeleteMultipleObjects"
            if sub is not None:
                return f"{method.capitalize()}Bucket{SUBRESOURCES[sub]}"
            return {
                "GET": "GetBucket",
                "PUT": "PutBucket",
                "HEAD": "HeadBucket",
                "DELETE": "DeleteBucket",
                "POST": "PostObject",
            }.get(method, "Unknown")
        copy = "x-cos-copy-source" in req.headers
        if sub == "tagging":
            return {"PUT": "PutObjectTagging", "GET": "GetObjectTagging", "DELETE": "DeleteObjectTagging"}.get(
                method, "Unknown"
            )
        if sub == "uploads":
            return "InitiateMultipartUpload" if method == "POST" else f"{method.capitalize()}ObjectUploads"
        if sub is not None and sub not in ("uploadid", "partnumber"):
            return f"{method.capitalize()}Object{SUBRESOURCES[sub]}"
        if method == "PUT":
            if "partnumber" in params and "uploadid" in params:
                return "UploadPartCopy" if copy else "UploadPart"
            if "partnumber" in params or "uploadid" in params:
                return "Unknown"
            return "CopyObject" if copy else "PutObject"
        if method == "POST":
            if "uploadid" in params:
                return "CompleteMultipartUpload"
            return "PostObjectUnknown"
        if method == "GET":
            return "ListParts" if "uploadid" in params else "GetObject"
        if method == "HEAD":
            return "HeadObject"
        if method == "DELETE":
            return "AbortMultipartUpload" if "uploadid" in params else "DeleteObject"
        return "Unknown"

    # -- handling --------------------------------------------------------------------------
    def handle(self, req: Request, action: str) -> Response:
        rid = _request_id()
        try:
            handler: Optional[Callable[[Request, Target, Optional[Bucket], KeyRecord, str], Response]] = getattr(
                self, f"do_{action}", None
            )
            if action == "OtherService":  # CI, async fetch: another product, nothing read or changed
                raise not_implemented(f"{req.host} is not emulated.")
            if action in ("OptionsObject", "OptionsBucket"):  # a CORS preflight: anonymous, by the bucket's rules
                return self._finish(req, self._preflight(req), rid)
            key = auth.verify(req, self.cloud)
            # What is not modelled is refused before any state is read or changed (FIDELITY.md, COS table),
            # signed or not: the refusal tells nothing about the bucket.
            refusal = not_implemented() if handler is None else self._refusal(req, action)
            if refusal is not None or handler is None:
                raise refusal or not_implemented()
            t = self.target(req)
            bucket: Optional[Bucket] = None
            if t.bucket is not None and action != "PutBucket":
                bucket = self._bucket(t.bucket, t.region)
            if key is None:
                raise access_denied()
            self._authorize(key, action, t, bucket, req)
            resp = handler(req, t, bucket, key, rid)
        except CosError as exc:
            resp = self.error_response(req, exc, rid)
            if action == "OtherService" and req.host.lower().endswith(".migration.myqcloud.com"):
                body = json.dumps({"code": exc.code, "message": exc.message, "request_id": rid}).encode()
                resp = Response(exc.status, {"Content-Type": "application/json"}, body)  # that service speaks JSON
        if action != "OtherService":
            self._cors_headers(req, resp)
        return self._finish(req, resp, rid)

    def _finish(self, req: Request, resp: Response, rid: str) -> Response:
        resp.headers.setdefault("x-cos-request-id", rid)
        resp.headers.setdefault("Server", "tencent-cos")
        resp.headers.setdefault("Date", xmlbody.http_date(self.cloud.clock.wall()))
        return resp

    # -- CORS ------------------------------------------------------------------------------------
    def _preflight(self, req: Request) -> Response:
        """OPTIONS Object: 200 with the matching rule's ``Access-Control-*``, else 403 (no CORS headers)."""
        origin = req.headers.get("Origin", "")
        method = req.headers.get("Access-Control-Request-Method", "")
        if not origin or not method:
            raise CosError("InvalidRequest", 400, "Insufficient information. Origin request header needed.")
        t = self.target(req)
        bucket = self._bucket(t.bucket or "", t.region)
        if not bucket.cors:
            raise CosError("AccessForbidden", 403, "CORSResponse: CORS is not enabled for this bucket.")
        raw = req.headers.get("Access-Control-Request-Headers", "")
        wanted = [h.strip() for h in raw.split(",") if h.strip()]
        rule = self.model.cors_rule(bucket.name, origin, method, wanted)
        if rule is None:
            raise CosError("AccessForbidden", 403, CORS_FORBIDDEN)
        headers = {
            "Access-Control-Allow-Origin": "*" if rule.origins == ("*",) else origin,
            "Access-Control-Allow-Methods": ",".join(rule.methods),
            "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
            "Content-Length": "0",
        }
        if wanted:
            headers["Access-Control-Allow-Headers"] = ",".join(wanted)
        if rule.expose:
            headers["Access-Control-Expose-Headers"] = ",".join(rule.expose)
        if rule.max_age is not None:
            headers["Access-Control-Max-Age"] = str(rule.max_age)
        return Response(200, headers, b"")

    def _cors_headers(self, req: Request, resp: Response) -> None:
        """On an actual request with ``Origin``: the first matching rule's allow and expose headers (errors too)."""
        origin = req.headers.get("Origin")
        t = self.target(req)
        if not origin or t.bucket is None:
            return
        try:
            bucket = self.model.get_bucket(t.bucket)
        except CosError:
            return
        if not bucket.cors:
            return
        rule = self.model.cors_rule(bucket.name, origin, req.method)
        if rule is None:
            return
        resp.headers["Access-Control-Allow-Origin"] = "*" if rule.origins == ("*",) else origin
        resp.headers["Access-Control-Allow-Methods"] = ",".join(rule.methods)
        if rule.expose:
            resp.headers["Access-Control-Expose-Headers"] = ",".join(rule.expose)
        if rule.max_age is not None:
            resp.headers["Access-Control-Max-Age"] = str(rule.max_age)
        resp.headers["Vary"] = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

    def _config_body(self, req: Request, root: str) -> Any:
        """A bucket configuration body: Content-MD5 required (COS: 400 without it) and checked."""
        if "Content-MD5" not in req.headers:
            raise CosError("InvalidRequest", 400, "Missing required header for this request: Content-MD5.")
        body = req.read_body()
        digest = self._content_md5(req)
        if digest is not None and hashlib.md5(body, usedforsecurity=False).digest() != digest:
            raise CosError("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
        return xmlbody.parse(body, root)

    def do_PutBucketCors(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        root = self._config_body(req, "CORSConfiguration")
        rules: list[CorsRule] = []
        for el in root.findall("CORSRule"):

            def texts(tag: str, el: Any = el) -> tuple[str, ...]:
                return tuple((c.text or "").strip() for c in el.findall(tag) if (c.text or "").strip())

            methods = tuple(m.upper() for m in texts("AllowedMethod"))
            origins = texts("AllowedOrigin")
            if not origins or not methods:
                raise xmlbody.malformed()
            if any(m not in CORS_METHODS for m in methods):
                raise invalid_argument(f"Found unsupported HTTP method in CORS config: {methods}")
            max_age = _opt_text(el, "MaxAgeSeconds")
            if max_age and not max_age.isdigit():
                raise xmlbody.malformed()
            rules.append(
                CorsRule(
                    origins=origins,
                    methods=methods,
                    headers=texts("AllowedHeader"),
                    expose=texts("ExposeHeader"),
                    max_age=int(max_age) if max_age else None,
                    rule_id=_opt_text(el, "ID"),
                )
            )
        if not rules or len(rules) > 100:
            raise xmlbody.malformed()
        self.model.put_cors(b.name, rules)
        return Response(200, {"Content-Length": "0"}, b"")

    def do_GetBucketCors(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        if not b.cors:
            raise CosError("NoSuchCORSConfiguration", 404, "The CORS configuration does not exist.")
        rules: list[Node] = []
        for r in b.cors:
            children: list[Node] = [("ID", r.rule_id or None)]
            children += [("AllowedOrigin", o) for o in r.origins]
            children += [("AllowedMethod", m) for m in r.methods]
            children += [("AllowedHeader", h) for h in r.headers]
            children += [("ExposeHeader", h) for h in r.expose]
            children.append(("MaxAgeSeconds", r.max_age))
            rules.append(("CORSRule", children))
        return self._xml("CORSConfiguration", rules)

    def do_DeleteBucketCors(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        self.model.delete_cors(self._bucket_required(bucket).name)
        return Response(204, {}, b"")

    def do_PutBucketLifecycle(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        root = self._config_body(req, "LifecycleConfiguration")
        rules: list[LifecycleRule] = []
        for el in root.findall("Rule"):
            for child in el:
                if child.tag not in LIFECYCLE_MODELLED:
                    raise not_implemented(f"The lifecycle action {child.tag} is not supported.")
            abort = el.find("AbortIncompleteMultipartUpload")
            days = _opt_text(abort, "DaysAfterInitiation") if abort is not None else ""
            if not days.isdigit() or int(days) < 1:
                raise invalid_argument("DaysAfterInitiation must be a positive integer.")
            status = _opt_text(el, "Status")
            if status not in ("Enabled", "Disabled"):
                raise xmlbody.malformed()
            filt = el.find("Filter")
            prefix = _opt_text(filt, "Prefix") if filt is not None else _opt_text(el, "Prefix")
            if filt is not None and any(c.tag != "Prefix" for c in filt):
                raise not_implemented("Lifecycle filters other than Prefix are not supported.")
            rules.append(LifecycleRule(_opt_text(el, "ID"), prefix, status == "Enabled", int(days)))
        if not rules or len(rules) > 1000:
            raise xmlbody.malformed()
        self.model.put_lifecycle(b.name, rules)
        return Response(200, {"Content-Length": "0"}, b"")

    def do_GetBucketLifecycle(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        if not b.lifecycle:
            raise CosError("NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist.")
        rules: list[Node] = [
            (
                "Rule",
                [
                    ("ID", r.rule_id or None),
                    ("Filter", [("Prefix", r.prefix)]),
                    ("Status", "Enabled" if r.enabled else "Disabled"),
                    ("AbortIncompleteMultipartUpload", [("DaysAfterInitiation", r.abort_days)]),
                ],
            )
            for r in b.lifecycle
        ]
        return self._xml("LifecycleConfiguration", rules)

    def do_DeleteBucketLifecycle(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        self.model.delete_lifecycle(self._bucket_required(bucket).name)
        return Response(204, {}, b"")

    def _bucket(self, name: str, region: Optional[str]) -> Bucket:
        bucket = self.model.get_bucket(name)
        if region is not None and bucket.region != region:
            raise no_such_bucket()  # a bucket lives in one region; another region's endpoint does not know it
        return bucket

    def _authorize(self, key: KeyRecord, action: str, t: Target, bucket: Optional[Bucket], req: Request) -> None:
        if t.bucket is None:
            resource = "*"
        elif action in ("GetBucket", "ListMultipartUploads"):
            resource = f"{t.bucket}/{req.params.get('prefix', '')}"
        elif action in BUCKET_ACTIONS or not t.key:
            resource = f"{t.bucket}/"
        else:
            resource = f"{t.bucket}/{t.key}"
        if bucket is not None and bucket.appid != self.cloud.app_id and key.scope is None:
            raise access_denied()  # another account's bucket (VOD's): only a key scoped to it may enter
        if not key.allows("cos", action, resource):
            raise access_denied()

    def error_response(self, req: Request, exc: CosError, rid: str, status: Optional[int] = None) -> Response:
        trace = _request_id() + _request_id()
        children: list[Node] = [("Code", exc.code), ("Message", exc.message)]
        children += [(k, v) for k, v in exc.extra.items() if k != "ServerTime"]
        children += [("Resource", f"{req.host}{req.path}"), ("RequestId", rid), ("TraceId", trace)]
        if "ServerTime" in exc.extra:
            children.append(("ServerTime", exc.extra["ServerTime"]))
        headers = {"Content-Type": "application/xml", "x-cos-request-id": rid, "x-cos-trace-id": trace}
        return Response(exc.status if status is None else status, headers, xmlbody.render("Error", children))

    def render_error(
        self, req: Request, action: str, code: str, status: int, message: Optional[str], *, as_200: bool = False
    ) -> Response:
        exc = CosError(code, status, message or _DEFAULT_MESSAGES.get(code, f"Injected fault: {code}."))
        resp = self.error_response(req, exc, _request_id(), status=200 if as_200 else status)
        if action != "OtherService":
            self._cors_headers(req, resp)  # an injected error is answered like a real one: CORS headers too
        resp.headers["Server"] = "tencent-cos"
        resp.headers["Date"] = xmlbody.http_date(self.cloud.clock.wall())
        return resp

    # -- strictness ------------------------------------------------------------------------
    def _refusal(self, req: Request, action: str) -> Optional[CosError]:
        """Why a request for a modelled action is still refused: a query parameter or a header whose
        meaning the emulator does not model (501 NotImplemented), or a value COS rejects (400)."""
        allowed = ACTION_PARAMS.get(action, frozenset())
        for name, value in req.query:
            low = name.lower()
            if low in AUTH_PARAMS or low in allowed:
                continue
            if low in EMPTY_ONLY_PARAMS.get(action, frozenset()) and value == "":
                continue  # sent empty by the SDK: the same as absent
            return not_implemented(f"The query parameter {name!r} is not supported here.")
        conditional = action in CONDITIONAL_ACTIONS
        for name, value in req.headers.lower_items():
            err = _header_refusal(name, value.strip(), conditional)
            if err is not None:
                return err
        return None

    # -- helpers ---------------------------------------------------------------------------
    def _xml(self, root: str, children: list[Node], status: int = 200, xmlns: str = "") -> Response:
        return Response(status, {"Content-Type": "application/xml"}, xmlbody.render(root, children, xmlns))

    @staticmethod
    def _bucket_required(bucket: Optional[Bucket]) -> Bucket:
        if bucket is None:
            raise no_such_bucket()
        return bucket

    @staticmethod
    def _content_md5(req: Request) -> Optional[bytes]:
        raw = req.headers.get("Content-MD5")
        if raw is None:
            return None
        try:
            digest = base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != 16:
            raise CosError("InvalidDigest", 400, "The Content-MD5 you specified is not valid.")
        return digest

    @staticmethod
    def _require_length(req: Request) -> None:
        if "Content-Length" not in req.headers and "chunked" not in req.headers.get("Transfer-Encoding", "").lower():
            raise CosError("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")

    @staticmethod
    def _metadata(req: Request) -> dict[str, str]:
        meta: dict[str, str] = {}
        for k, v in req.headers.lower_items():
            if k.startswith("x-cos-meta-"):
                meta[k] = _utf8(v)
        for name in STORED_HEADERS:
            if name in req.headers:
                meta[name] = _utf8(req.headers[name])
        return meta

    @staticmethod
    def _tags_header(req: Request) -> dict[str, str]:
        raw = req.headers.get("x-cos-tagging")
        return dict(parse_qsl(raw, keep_blank_values=True)) if raw else {}

    @staticmethod
    def _storage_class(req: Request) -> str:
        """``x-cos-storage-class`` (already checked to be a modelled class by ``_refusal``)."""
        return req.headers.get("x-cos-storage-class", "").strip().upper() or "STANDARD"

    @staticmethod
    def _encryption(req: Request) -> Optional[str]:
        """SSE-COS (``x-cos-server-side-encryption: AES256``); other values were refused by ``_refusal``."""
        return SSE_COS if req.headers.get("x-cos-server-side-encryption", "").strip() == SSE_COS else None

    @staticmethod
    def _echo_encryption(resp: Response, encryption: Optional[str]) -> Response:
        if encryption:
            resp.headers["x-cos-server-side-encryption"] = encryption
        return resp

    @staticmethod
    def _echo_version(resp: Response, info: ObjectInfo) -> Response:
        """``x-cos-version-id`` of the version a write created, on a bucket that ever had versioning."""
        if info.version_id:
            resp.headers["x-cos-version-id"] = info.version_id
        return resp

    @staticmethod
    def _forbid_overwrite(req: Request) -> bool:
        return req.headers.get("x-cos-forbid-overwrite", "").strip().lower() == "true"

    def _object_headers(self, info: ObjectInfo) -> dict[str, str]:
        headers = {
            "Content-Type": info.content_type,
            "ETag": info.etag,
            "Last-Modified": xmlbody.http_date(info.last_modified),
            "x-cos-hash-crc64ecma": str(info.crc64),
            "Accept-Ranges": "bytes",
        }
        for k, v in info.metadata.items():
            headers[k] = _wire(v)
        if info.storage_class != "STANDARD":
            headers["x-cos-storage-class"] = info.storage_class
        if info.encryption:
            headers["x-cos-server-side-encryption"] = info.encryption
        if info.version_id:
            headers["x-cos-version-id"] = info.version_id
        return headers

    def _check_conditions(self, req: Request, info: ObjectInfo, prefix: str = "") -> Optional[int]:
        """HTTP preconditions: 412 for If-Match/If-Unmodified-Since, 304 for If-None-Match/If-Modified-Since.

        With ``prefix`` (``x-cos-copy-source-``) every failure is a 412, as PUT Object - Copy documents.
        """
        etag = info.etag.strip('"')
        if_match = req.headers.get(prefix + "If-Match")
        if if_match is not None and etag not in _etags(if_match):
            return 412
        if_none = req.headers.get(prefix + "If-None-Match")
        if if_none is not None and (etag in _etags(if_none) or if_none.strip() == "*"):
            return 412 if prefix else 304
        unmodified = _parse_date(req.headers.get(prefix + "If-Unmodified-Since"))
        if if_match is None and unmodified is not None and int(info.last_modified) > unmodified:
            return 412
        modified = _parse_date(req.headers.get(prefix + "If-Modified-Since"))
        if if_none is None and modified is not None and int(info.last_modified) <= modified:
            return 412 if prefix else 304
        return None

    def _copy_source(self, req: Request, key: KeyRecord) -> tuple[str, str]:
        """``x-cos-copy-source: <bucket>-<appid>.cos.<region>.myqcloud.com/<urlencoded key>``; read must be allowed."""
        raw = req.headers.get("x-cos-copy-source", "")
        host, sep, path = raw.partition("/")
        path = path.split("?versionId=", 1)[0]
        m = BUCKET_HOST.match(host.lower())
        if not sep or not m or not path:
            raise invalid_argument("The x-cos-copy-source header is invalid.")
        src_key = unquote(path)
        self._bucket(m.group("bucket"), m.group("region"))
        src = Target(m.group("bucket"), m.group("region"), src_key)
        self._authorize(key, "GetObject", src, self.model.get_bucket(m.group("bucket")), req)
        return m.group("bucket"), src_key

    def _copy_check(self, req: Request) -> Callable[[ObjectInfo], None]:
        def check(info: ObjectInfo) -> None:
            if self._check_conditions(req, info, prefix="x-cos-copy-source-") is not None:
                raise CosError("PreconditionFailed", 412, "Precondition not match.")

        return check

    def _location(self, bucket: Bucket, key: str) -> str:
        return f"http://{bucket.name}.cos.{bucket.region}.myqcloud.com/{quote(key)}"

    # -- service and buckets ---------------------------------------------------------------
    def do_GetService(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        owner = f"qcs::cam::uin/{self.cloud.uin}:uin/{self.cloud.uin}"
        p = req.params
        region = t.region or p.get("region") or None
        marker = p.get("marker", "")
        max_keys = _int_param(p.get("max-keys"), 2000, "max-keys") or 2000
        mine = sorted(
            (
                b
                for b in self.model.list_buckets()
                if b.appid == self.cloud.app_id and (region is None or b.region == region) and b.name > marker
            ),
            key=lambda b: b.name,
        )
        buckets: list[Node] = [
            (
                "Bucket",
                [
                    ("Name", b.name),
                    ("Location", b.region),
                    ("CreationDate", xmlbody.iso_seconds(b.created)),
                    ("BucketType", "cos"),
                ],
            )
            for b in mine[:max_keys]
        ]
        children: list[Node] = [("Owner", [("ID", owner), ("DisplayName", self.cloud.uin)]), ("Buckets", buckets)]
        if len(mine) > max_keys:
            children += [("IsTruncated", "true"), ("NextMarker", mine[max_keys - 1].name)]
        return self._xml("ListAllMyBucketsResult", children)

    def do_PutBucket(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        name = t.bucket or ""
        if not name.endswith(f"-{self.cloud.app_id}"):
            raise access_denied()
        if name in {b.name for b in self.model.list_buckets()}:
            raise CosError("BucketAlreadyExists", 409, "The requested bucket name is not available.")
        self.model.create_bucket(name, t.region)
        return Response(200, {"Content-Length": "0"}, b"")

    def do_HeadBucket(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        return Response(200, {"x-cos-bucket-region": b.region, "Content-Length": "0"}, b"")

    def do_DeleteBucket(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        self.model.delete_bucket(self._bucket_required(bucket).name)
        return Response(204, {}, b"")

    # -- versioning (436/19889 PUT, 436/19888 GET Bucket versioning) -------------------------
    def do_PutBucketVersioning(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        body = req.read_body()
        digest = self._content_md5(req)
        if digest is not None and hashlib.md5(body, usedforsecurity=False).digest() != digest:
            raise CosError("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
        root = xmlbody.parse(body, "VersioningConfiguration")
        self.model.put_versioning(b.name, xmlbody.child_text(root, "Status"))
        return Response(200, {"Content-Length": "0"}, b"")

    def do_GetBucketVersioning(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        # A bucket that never had versioning: no Status (436/19888: <VersioningConfiguration/>).
        return self._xml("VersioningConfiguration", [("Status", b.versioning)] if b.versioning else [])

    def do_GetBucketObjectVersions(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        """GET Bucket Object versions (436/35521): element names as cos-python-sdk-v5's list_objects_versions reads."""
        b = self._bucket_required(bucket)
        p = req.params
        max_keys = min(_int_param(p.get("max-keys"), 1000, "max-keys"), 1000)
        url = p.get("encoding-type", "")
        if url and url != "url":
            raise invalid_argument("Invalid Encoding Method specified in Request")
        enc: Callable[[str], str] = (lambda s: quote(s, safe="/-_.~")) if url else (lambda s: s)
        prefix, key_marker, vid_marker = p.get("prefix", ""), p.get("key-marker", ""), p.get("version-id-marker", "")
        rows, truncated = self.model.list_versions(b.name, prefix, key_marker, vid_marker, max_keys)
        owner = [("ID", self.cloud.app_id), ("DisplayName", self.cloud.app_id)]
        children: list[Node] = [("Name", b.name)]
        if url:
            children.append(("EncodingType", "url"))
        children += [
            ("Prefix", enc(prefix)),
            ("KeyMarker", enc(key_marker)),
            ("VersionIdMarker", vid_marker),
            ("MaxKeys", max_keys),
            ("IsTruncated", "true" if truncated else "false"),
        ]
        if truncated and rows:
            children += [("NextKeyMarker", enc(rows[-1].key)), ("NextVersionIdMarker", rows[-1].version_id)]
        for row in rows:
            common: list[Node] = [
                ("Key", enc(row.key)),
                ("VersionId", row.version_id),
                ("IsLatest", "true" if row.latest else "false"),
                ("LastModified", xmlbody.iso(row.last_modified)),
                ("Owner", owner),
            ]
            if row.info is None:
                children.append(("DeleteMarker", common))
            else:
                extra: list[Node] = [("ETag", row.info.etag), ("Size", row.info.size)]
                children.append(("Version", [*common, *extra, ("StorageClass", row.info.storage_class)]))
        return self._xml("ListVersionsResult", children)

    def do_GetBucket(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        p = req.params
        max_keys = _int_param(p.get("max-keys"), 1000, "max-keys")
        url = p.get("encoding-type", "")
        if url and url != "url":
            raise invalid_argument("Invalid Encoding Method specified in Request")
        enc: Callable[[str], str] = (lambda s: quote(s, safe="/-_.~")) if url else (lambda s: s)
        prefix, delimiter, marker = p.get("prefix", ""), p.get("delimiter", ""), p.get("marker", "")
        result = self.model.list_objects(b.name, prefix, delimiter, marker, min(max_keys, 1000))
        owner = [("ID", self.cloud.app_id), ("DisplayName", self.cloud.app_id)]
        children: list[Node] = [("Name", b.name)]
        if url:
            children.append(("EncodingType", "url"))
        children += [("Prefix", enc(prefix)), ("Marker", enc(marker)), ("MaxKeys", min(max_keys, 1000))]
        if delimiter:
            children.append(("Delimiter", enc(delimiter)))
        children.append(("IsTruncated", "true" if result.truncated else "false"))
        if result.truncated and result.next_marker is not None:
            children.append(("NextMarker", enc(result.next_marker)))
        for info in result.contents:
            children.append(
                (
                    "Contents",
                    [
                        ("Key", enc(info.key)),
                        ("LastModified", xmlbody.iso(info.last_modified)),
                        ("ETag", info.etag),
                        ("Size", info.size),
                        ("Owner", owner),
                        ("StorageClass", info.storage_class),
                    ],
                )
            )
        for cp in result.common_prefixes:
            children.append(("CommonPrefixes", [("Prefix", enc(cp))]))
        resp = self._xml("ListBucketResult", children)
        resp.headers["x-cos-bucket-region"] = b.region
        return resp

    def do_ListMultipartUploads(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        p = req.params
        max_uploads = min(_int_param(p.get("max-uploads"), 1000, "max-uploads"), 1000)
        url = p.get("encoding-type", "") == "url"
        enc: Callable[[str], str] = (lambda s: quote(s, safe="/-_.~")) if url else (lambda s: s)
        prefix, key_marker, id_marker = p.get("prefix", ""), p.get("key-marker", ""), p.get("upload-id-marker", "")
        ups = self.model.list_multipart_uploads(b.name, prefix)
        if key_marker:
            ups = [
                u for u in ups if u.key > key_marker or (id_marker and u.key == key_marker and u.upload_id > id_marker)
            ]
        page, truncated = ups[:max_uploads], len(ups) > max_uploads
        initiator = [("ID", f"qcs::cam::uin/{self.cloud.uin}:uin/{self.cloud.uin}"), ("DisplayName", self.cloud.uin)]
        children: list[Node] = [
            ("Bucket", b.name),
            ("Encoding-Type", "url" if url else None),
            ("KeyMarker", enc(key_marker)),
            ("UploadIdMarker", id_marker),
            ("MaxUploads", max_uploads),
            ("Prefix", enc(prefix)),
            ("IsTruncated", "true" if truncated else "false"),
        ]
        if truncated and page:
            children += [("NextKeyMarker", enc(page[-1].key)), ("NextUploadIdMarker", page[-1].upload_id)]
        for u in page:
            children.append(
                (
                    "Upload",
                    [
                        ("Key", enc(u.key)),
                        ("UploadId", u.upload_id),
                        ("StorageClass", _list_class(u.storage_class)),
                        ("Initiator", initiator),
                        ("Owner", initiator),
                        ("Initiated", xmlbody.ctime(u.initiated)),
                    ],
                )
            )
        return self._xml("ListMultipartUploadsResult", children)

    def do_DeleteMultipleObjects(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        root = xmlbody.parse(req.read_body(), "Delete")
        quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
        deleted: list[Node] = []
        errors: list[Node] = []
        headers = dict(req.headers)
        for el in root.findall("Object"):
            k = xmlbody.child_text(el, "Key")
            if not key.allows("cos", "DeleteObject", f"{b.name}/{k}"):
                errors.append(("Error", [("Key", k), ("Code", "AccessDenied"), ("Message", "Access Denied.")]))
                continue
            vid = (el.findtext("VersionId") or "").strip() or None
            done = self.model.remove(b.name, k, vid, headers, req.client)
            if not quiet:
                row: list[Node] = [("Key", k)]
                if vid is not None:
                    row.append(("VersionId", vid))
                if done.delete_marker:
                    row.append(("DeleteMarker", "true"))
                    if vid is None:
                        row.append(("DeleteMarkerVersionId", done.version_id))
                deleted.append(("Deleted", row))
        return self._xml("DeleteResult", deleted + errors)

    # -- objects ---------------------------------------------------------------------------
    def do_PutObject(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        self._require_length(req)
        info = self.model.put_object(
            b.name,
            t.key,
            req.body,
            self._metadata(req),
            _utf8(req.headers["Content-Type"]) if "Content-Type" in req.headers else None,
            self._forbid_overwrite(req),
            dict(req.headers),
            content_md5=self._content_md5(req),
            tags=self._tags_header(req),
            source_ip=req.client,
            storage_class=self._storage_class(req),
            encryption=self._encryption(req),
        )
        resp = Response(200, {"ETag": info.etag, "x-cos-hash-crc64ecma": str(info.crc64), "Content-Length": "0"}, b"")
        return self._echo_version(self._echo_encryption(resp, info.encryption), info)

    def _get(self, req: Request, t: Target, bucket: Optional[Bucket], head: bool) -> Response:
        b = self._bucket_required(bucket)
        version_id = _version_param(req)
        info = self.model.head_object(b.name, t.key, version_id)
        if info is None:
            raise CosError("NoSuchKey", 404, "The specified key does not exist.")
        cond = self._check_conditions(req, info)
        if cond == 412:
            raise CosError("PreconditionFailed", 412, "Precondition not match.")
        headers = self._object_headers(info)
        if cond == 304:
            # Content-Length: 0 so the SDK's StreamBody accepts the reply; x-cos-trace-id as in the HEAD 304 sample.
            not_modified = {"ETag": info.etag, "Last-Modified": headers["Last-Modified"], "Content-Length": "0"}
            not_modified["x-cos-trace-id"] = _request_id() + _request_id()
            return Response(304, not_modified, b"")
        for param, header in RESPONSE_OVERRIDES.items():
            if param in req.params:
                headers[header] = req.params[param]
        status, start, end = 200, 0, info.size - 1
        rng = _parse_range(req.headers.get("Range"), info.size)
        if rng is not None:
            status, (start, end) = 206, rng
            headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        length = max(0, end - start + 1)
        headers["Content-Length"] = str(length)
        if head:
            return Response(status, headers, b"")
        if length == 0:
            return Response(status, headers, b"")
        opened, chunks = self.model.open_object(b.name, t.key, start, end, version_id)
        if opened.version != info.version:  # overwritten between HEAD and open: serve the new one whole
            return self._get(req, t, bucket, head)
        return Response(status, headers, chunks)

    def do_GetObject(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        return self._get(req, t, bucket, head=False)

    def do_HeadObject(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        return self._get(req, t, bucket, head=True)

    def do_DeleteObject(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        done = self.model.remove(b.name, t.key, _version_param(req), dict(req.headers), req.client)
        headers: dict[str, str] = {}
        if done.version_id is not None and (b.versioning or done.removed):
            headers["x-cos-version-id"] = done.version_id  # the version removed, or the delete marker written
        if done.delete_marker:
            headers["x-cos-delete-marker"] = "true"
        return Response(204, headers, b"")

    def do_CopyObject(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        src_bucket, src_key = self._copy_source(req, key)
        directive = req.headers.get("x-cos-metadata-directive", "Copy")
        if directive not in ("Copy", "Replaced"):
            raise invalid_argument("Unknown metadata directive.")
        tagging = req.headers.get("x-cos-tagging-directive", "Copy")
        if tagging not in ("Copy", "Replaced"):
            raise invalid_argument("Unknown tagging directive.")
        info = self.model.copy_object(
            src_bucket,
            src_key,
            b.name,
            t.key,
            replace_metadata=directive == "Replaced",
            metadata=self._metadata(req),
            content_type=req.headers.get("Content-Type"),
            forbid_overwrite=self._forbid_overwrite(req),
            request_headers=dict(req.headers),
            source_ip=req.client,
            check=self._copy_check(req),
            storage_class=self._storage_class(req),
            encryption=self._encryption(req),
            tags=self._tags_header(req) if tagging == "Replaced" else None,
            src_version_id=_copy_source_version(req),
        )
        resp = self._xml(
            "CopyObjectResult",
            [
                ("ETag", info.etag),
                ("CRC64", str(info.crc64)),
                ("LastModified", xmlbody.iso_seconds(info.last_modified)),
            ],
        )
        return self._echo_version(self._echo_encryption(resp, info.encryption), info)

    # -- tagging ---------------------------------------------------------------------------
    def do_PutObjectTagging(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        root = xmlbody.parse(req.read_body(), "Tagging")
        tags: dict[str, str] = {}
        tagset = root.find("TagSet")
        for el in tagset.findall("Tag") if tagset is not None else []:
            k = xmlbody.child_text(el, "Key")
            if k in tags:
                raise CosError("InvalidTag", 400, "Cannot provide multiple Tags with the same key.")
            tags[k] = (el.findtext("Value") or "").strip()
        version_id = _version_param(req)
        self.model.put_tags(b.name, t.key, tags, version_id)
        resp = Response(200, {"Content-Length": "0"}, b"")
        if version_id is not None:
            resp.headers["x-cos-version-id"] = version_id
        return resp

    def do_GetObjectTagging(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        tags = self.model.get_tags(self._bucket_required(bucket).name, t.key, _version_param(req))
        tagset: list[Node] = [("Tag", [("Key", k), ("Value", v)]) for k, v in tags.items()]
        return self._xml("Tagging", [("TagSet", tagset)])

    def do_DeleteObjectTagging(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        self.model.delete_tags(self._bucket_required(bucket).name, t.key, _version_param(req))
        return Response(204, {}, b"")

    # -- multipart -------------------------------------------------------------------------
    def do_InitiateMultipartUpload(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        up = self.model.initiate_multipart(
            b.name,
            t.key,
            self._metadata(req),
            req.headers.get("Content-Type"),
            key.principal,
            self._tags_header(req),
            storage_class=self._storage_class(req),
            encryption=self._encryption(req),
        )
        resp = self._xml(
            "InitiateMultipartUploadResult", [("Bucket", b.name), ("Key", t.key), ("UploadId", up.upload_id)]
        )
        return self._echo_encryption(resp, up.encryption)

    def _part_args(self, req: Request) -> tuple[str, int]:
        p = {k.lower(): v for k, v in req.query}
        number = p.get("partnumber", "")
        if not number.isdigit():
            raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive.")
        return p.get("uploadid", ""), int(number)

    def do_UploadPart(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        self._require_length(req)
        upload_id, number = self._part_args(req)
        part = self.model.upload_part(b.name, t.key, upload_id, number, req.body, self._content_md5(req))
        resp = Response(200, {"ETag": part.etag, "x-cos-hash-crc64ecma": str(part.crc64), "Content-Length": "0"}, b"")
        return self._echo_encryption(resp, self.model.upload_info(b.name, t.key, upload_id).encryption)

    def do_UploadPartCopy(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        upload_id, number = self._part_args(req)
        src_bucket, src_key = self._copy_source(req, key)
        start = end = None
        raw = req.headers.get("x-cos-copy-source-range", "").strip()
        if raw:  # absent or empty (what the SDK sends without CopySourceRange): the whole source
            m = re.match(r"^bytes=(\d+)-(\d+)$", raw.strip())
            if not m:
                raise invalid_argument("The x-cos-copy-source-range value must be of the form bytes=first-last.")
            start, end = int(m.group(1)), int(m.group(2))
        part = self.model.upload_part_copy(
            b.name, t.key, upload_id, number, src_bucket, src_key, start, end, check=self._copy_check(req)
        )
        resp = self._xml(
            "CopyPartResult", [("ETag", part.etag), ("LastModified", xmlbody.iso_seconds(part.last_modified))]
        )
        resp.headers["x-cos-hash-crc64ecma"] = str(part.crc64)
        return self._echo_encryption(resp, self.model.upload_info(b.name, t.key, upload_id).encryption)

    def do_ListParts(self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str) -> Response:
        b = self._bucket_required(bucket)
        p = {k.lower(): v for k, v in req.query}
        max_parts = min(_int_param(p.get("max-parts"), 1000, "max-parts"), 1000)
        marker = _int_param(p.get("part-number-marker"), 0, "part-number-marker")
        url = p.get("encoding-type", "") == "url"
        upload_id = p.get("uploadid", "")
        parts, truncated, next_marker = self.model.list_parts(b.name, t.key, upload_id, marker, max_parts)
        up = self.model.upload_info(b.name, t.key, upload_id)
        owner = [("ID", self.cloud.app_id), ("DisplayName", self.cloud.app_id)]
        initiator = [("ID", f"qcs::cam::uin/{self.cloud.uin}:uin/{self.cloud.uin}"), ("DisplayName", self.cloud.uin)]
        children: list[Node] = [
            ("Bucket", b.name),
            ("Encoding-type", "url" if url else None),
            ("Key", quote(t.key, safe="/-_.~") if url else t.key),
            ("UploadId", up.upload_id),
            ("Owner", owner),
            ("PartNumberMarker", marker),
            ("Initiator", initiator),
            ("StorageClass", _list_class(up.storage_class)),
        ]
        if next_marker is not None:
            children.append(("NextPartNumberMarker", next_marker))
        children += [("MaxParts", max_parts), ("IsTruncated", "true" if truncated else "false")]
        for part in parts:
            children.append(
                (
                    "Part",
                    [
                        ("PartNumber", part.number),
                        ("LastModified", xmlbody.iso(part.last_modified)),
                        ("ETag", part.etag),
                        ("Size", part.size),
                    ],
                )
            )
        return self._xml("ListPartsResult", children)

    def do_CompleteMultipartUpload(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        b = self._bucket_required(bucket)
        upload_id = {k.lower(): v for k, v in req.query}.get("uploadid", "")
        self.model.upload_info(b.name, t.key, upload_id)  # NoSuchUpload before looking at the body
        root = xmlbody.parse(req.read_body(), "CompleteMultipartUpload")
        parts: list[tuple[int, str]] = []
        for el in root.findall("Part"):
            number = xmlbody.child_text(el, "PartNumber")
            if not number.isdigit():
                raise xmlbody.malformed()
            parts.append((int(number), xmlbody.child_text(el, "ETag")))
        info = self.model.complete_multipart(
            b.name,
            t.key,
            upload_id,
            parts,
            forbid_overwrite=self._forbid_overwrite(req),
            request_headers=dict(req.headers),
            source_ip=req.client,
        )
        resp = self._xml(
            "CompleteMultipartUploadResult",
            [("Location", self._location(b, t.key)), ("Bucket", b.name), ("Key", t.key), ("ETag", info.etag)],
            xmlns=xmlbody.COMPLETE_NS,
        )
        resp.headers["x-cos-hash-crc64ecma"] = str(info.crc64)
        return self._echo_version(self._echo_encryption(resp, info.encryption), info)

    def do_AbortMultipartUpload(
        self, req: Request, t: Target, bucket: Optional[Bucket], key: KeyRecord, rid: str
    ) -> Response:
        upload_id = {k.lower(): v for k, v in req.query}.get("uploadid", "")
        self.model.abort_multipart(self._bucket_required(bucket).name, t.key, upload_id)
        return Response(204, {}, b"")


# Every sub-resource (a query parameter that selects an operation) the SDKs or the API reference know, with the
# name it gives the action (``<Method>Bucket<Name>`` / ``<Method>Object<Name>``). Only ``uploads``, ``delete``,
# ``uploadid``/``partnumber`` (multipart) and object ``tagging`` are modelled; every other one is refused with 501.
SUBRESOURCES = {
    "accelerate": "Accelerate",
    "acl": "Acl",
    "append": "Append",
    "ci-process": "CiProcess",
    "comp": "LiveChannelComp",
    "cors": "Cors",
    "delete": "Delete",
    "domain": "Domain",
    "domaincertificate": "DomainCertificate",
    "encryption": "Encryption",
    "imageave": "ImageAve",
    "imageinfo": "ImageInfo",
    "imageinspect": "ImageInspect",
    "image_process": "ImageProcess",
    "intelligenttiering": "IntelligentTiering",
    "intelligent-tiering": "IntelligentTiering",
    "inventory": "Inventory",
    "live": "LiveChannel",
    "location": "Location",
    "lifecycle": "Lifecycle",
    "logging": "Logging",
    "metaquery": "MetaQuery",
    "notification": "Notification",
    "object-lock": "ObjectLock",
    "origin": "Origin",
    "policy": "Policy",
    "publicaccessblock": "PublicAccessBlock",
    "referer": "Referer",
    "rename": "Rename",
    "replication": "Replication",
    "requestpayment": "RequestPayment",
    "response-control": "ResponseControl",
    "restore": "Restore",
    "retention": "Retention",
    "select": "SelectContent",
    "style": "ImageStyle",
    "symlink": "Symlink",
    "tagging": "Tagging",
    "torrent": "Torrent",
    "uploadid": "UploadId",
    "partnumber": "PartNumber",
    "uploads": "Uploads",
    "versioning": "Versioning",
    "versions": "ObjectVersions",
    "vod": "VodPlaylist",
    "website": "Website",
    "watermark": "Watermark",
}

# The signature's own query parameters (presigned URLs) and the token.
AUTH_PARAMS = frozenset(auth.AUTH_FIELDS) | {auth.TOKEN}

# The query parameters each modelled action understands. Any other parameter is refused (501): the emulator cannot
# tell an ignorable one from a feature it does not model (image processing ``imageMogr2/...``, ``versionId``...).
ACTION_PARAMS: dict[str, frozenset[str]] = {
    "GetService": frozenset({"marker", "max-keys", "region"}),
    "GetBucket": frozenset({"prefix", "delimiter", "marker", "max-keys", "encoding-type"}),
    "ListMultipartUploads": frozenset(
        {"uploads", "prefix", "key-marker", "upload-id-marker", "max-uploads", "encoding-type"}
    ),
    "DeleteMultipleObjects": frozenset({"delete"}),
    "PutBucketCors": frozenset({"cors"}),
    "GetBucketCors": frozenset({"cors"}),
    "DeleteBucketCors": frozenset({"cors"}),
    "PutBucketLifecycle": frozenset({"lifecycle"}),
    "GetBucketLifecycle": frozenset({"lifecycle"}),
    "DeleteBucketLifecycle": frozenset({"lifecycle"}),
    "PutBucketVersioning": frozenset({"versioning"}),
    "GetBucketVersioning": frozenset({"versioning"}),
    "GetBucketObjectVersions": frozenset(
        {"versions", "prefix", "key-marker", "version-id-marker", "max-keys", "encoding-type"}
    ),
    "GetObject": frozenset(RESPONSE_OVERRIDES) | {"versionid"},
    "HeadObject": frozenset(RESPONSE_OVERRIDES) | {"versionid"},
    "DeleteObject": frozenset({"versionid"}),
    "PutObjectTagging": frozenset({"tagging", "versionid"}),
    "GetObjectTagging": frozenset({"tagging", "versionid"}),
    "DeleteObjectTagging": frozenset({"tagging", "versionid"}),
    "InitiateMultipartUpload": frozenset({"uploads"}),
    "UploadPart": frozenset({"partnumber", "uploadid"}),
    "UploadPartCopy": frozenset({"partnumber", "uploadid"}),
    "CompleteMultipartUpload": frozenset({"uploadid"}),
    "ListParts": frozenset({"uploadid", "max-parts", "part-number-marker", "encoding-type"}),
    "AbortMultipartUpload": frozenset({"uploadid"}),
}
# Parameters the SDK always sends, accepted only when empty (a value would ask for what is not modelled).
EMPTY_ONLY_PARAMS: dict[str, frozenset[str]] = {
    "ListMultipartUploads": frozenset({"delimiter"}),
    "GetBucketObjectVersions": frozenset({"delimiter"}),
}
# Object writes and deletes: the emulator models no conditional write, so If-* headers there are refused.
CONDITIONAL_ACTIONS = frozenset(
    {
        "PutObject",
        "CopyObject",
        "InitiateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "DeleteObject",
        "DeleteMultipleObjects",
        "PutObjectTagging",
        "DeleteObjectTagging",
    }
)
# ``x-cos-*`` request headers the emulator models (values checked where they are used).
MODELLED_HEADERS = frozenset(
    {
        "x-cos-security-token",
        "x-cos-sdk-retry",
        "x-cos-copy-source",
        "x-cos-copy-source-if-match",
        "x-cos-copy-source-if-none-match",
        "x-cos-copy-source-if-modified-since",
        "x-cos-copy-source-if-unmodified-since",
        "x-cos-copy-source-range",
        "x-cos-metadata-directive",
        "x-cos-forbid-overwrite",
        "x-cos-tagging",
        "x-cos-tagging-directive",
    }
)
MODELLED_STORAGE_CLASSES = ("STANDARD", "STANDARD_IA")
# Classes COS has that the emulator does not model: archive classes are unreadable until restored (restore is not
# modelled), intelligent tiering needs a bucket configuration, MAZ classes a multi-AZ bucket.
UNMODELLED_STORAGE_CLASSES = frozenset(
    {
        "ARCHIVE",
        "DEEP_ARCHIVE",
        "INTELLIGENT_TIERING",
        "MAZ_STANDARD",
        "MAZ_STANDARD_IA",
        "MAZ_INTELLIGENT_TIERING",
        "MAZ_ARCHIVE",
    }
)
SSE_COS = "AES256"
CORS_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})
# Lifecycle rule elements the emulator models; Expiration, Transition, NoncurrentVersion* are refused (501).
LIFECYCLE_MODELLED = frozenset({"ID", "Filter", "Prefix", "Status", "AbortIncompleteMultipartUpload"})


def _header_refusal(name: str, value: str, conditional: bool) -> Optional[CosError]:
    """A request header whose meaning is not modelled (501), or a value COS rejects (400); None if fine."""
    if name in ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since") and conditional:
        return not_implemented(f"Conditional writes ({name}) are not supported.")
    if name == "pic-operations" or name.startswith("x-ci-"):
        return not_implemented(f"The header {name} (Cloud Infinite processing) is not supported.")
    if not name.startswith("x-cos-") or name in MODELLED_HEADERS or name.startswith("x-cos-meta-"):
        return None
    if name == "x-cos-storage-class":
        upper = value.upper()
        if upper in MODELLED_STORAGE_CLASSES:
            return None
        if upper in UNMODELLED_STORAGE_CLASSES:
            return not_implemented(f"The storage class {value} is not supported.")
        return invalid_argument("The storage class you specified is not valid.")
    if name == "x-cos-server-side-encryption":
        if value == SSE_COS:
            return None
        if value.lower() == "cos/kms":
            return not_implemented("SSE-KMS is not supported.")
        return invalid_argument("The encryption method specified is not supported.")
    if name == "x-cos-acl":
        # Every bucket and object is private; the values that ask for exactly that are modelled.
        return None if value.lower() in ("private", "default") else not_implemented(f"x-cos-acl: {value}")
    return not_implemented(f"The header {name} is not supported.")


_DEFAULT_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "NoSuchUpload": "The specified upload does not exist.",
    "AccessDenied": "Access Denied.",
}


def _list_class(storage_class: str) -> str:
    """Multipart listings spell the class as in their samples (``Standard``, ``Standard_IA``)."""
    return "_".join(w if w == "IA" else w.capitalize() for w in storage_class.split("_"))


def _utf8(value: str) -> str:
    """Header text arrives as latin-1 of the raw bytes; clients send UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _wire(value: str) -> str:
    """Header text for the transports: UTF-8 bytes as latin-1 text, as COS sends raw UTF-8 in headers."""
    return value.encode("utf-8").decode("latin-1")


def _opt_text(el: Any, tag: str) -> str:
    found = el.find(tag)
    return "" if found is None or found.text is None else str(found.text).strip()


def _version_param(req: Request) -> Optional[str]:
    """The ``versionId`` query parameter (any spelling the SDKs use), None when absent or empty."""
    return next((v for k, v in req.query if k.lower() == "versionid" and v), None)


def _copy_source_version(req: Request) -> Optional[str]:
    """``x-cos-copy-source: <host>/<key>?versionId=<id>``: copy that version, not the current one."""
    _, sep, vid = req.headers.get("x-cos-copy-source", "").partition("?versionId=")
    return unquote(vid) if sep and vid else None


def _etags(value: str) -> set[str]:
    return {v.strip().strip('"') for v in value.split(",") if v.strip()}


def _parse_date(value: Optional[str]) -> Optional[int]:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return int(parsed.timestamp())


def _int_param(value: Optional[str], default: int, name: str) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise invalid_argument(f"Argument {name} must be a non-negative integer.")
    return int(value)


def _parse_range(value: Optional[str], size: int) -> Optional[tuple[int, int]]:
    """``bytes=a-b``, ``bytes=a-``, ``bytes=-n``; unparsable ranges are ignored (whole object), as HTTP says."""
    if not value:
        return None
    m = RANGE.match(value.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        n = int(last)
        if n == 0:
            raise CosError("InvalidRange", 416, "The requested range is not satisfiable.")
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise CosError("InvalidRange", 416, "The requested range is not satisfiable.")
    return start, min(end, size - 1)
