"""Walk every public method of the installed ``qcloud_cos.CosS3Client`` against the emulator's HTTP server.

For each method (found by introspection, so a new SDK method fails this test until it is classified):
a modelled reply (the call succeeds, every request it made was answered below 400), or a refusal that
changed nothing (``CosServiceError`` 501 ``NotImplemented``, every request it made answered 501, and the
buckets, their objects, bytes, tags, metadata and multipart uploads identical before and after).

The client reaches the server as an HTTP proxy, so every request keeps its real hostname: COS requests go
to ``<bucket>.cos.<region>.myqcloud.com``, CI requests to ``<bucket>.ci.<region>.myqcloud.com``, async fetch
to ``<region>.migration.myqcloud.com``, as they would against the real cloud.
"""

from __future__ import annotations

import inspect
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosServiceError

from tencent_emulator.cos.models import CorsRule, LifecycleRule
from tests.emulator.conftest import Endpoint, open_endpoint

SEED_KEY = "walk/object.bin"
SEED_BYTES = b"walk object bytes\n" * 64
SCRATCH_KEY = "walk/scratch.bin"

# What the emulator models: these calls must get a modelled reply.
MODELLED = frozenset(
    {
        "abort_multipart_upload",
        "bucket_exists",
        "change_object_storage_class",
        "complete_multipart_upload",
        "copy",
        "copy_object",
        "create_bucket",
        "create_multipart_upload",
        "delete_bucket",
        "delete_bucket_cors",
        "delete_bucket_lifecycle",
        "delete_object",
        "delete_object_tagging",
        "delete_objects",
        "download_file",
        "get_bucket_cors",
        "get_bucket_lifecycle",
        "get_bucket_versioning",
        "get_object",
        "get_object_tagging",
        "head_bucket",
        "head_object",
        "list_buckets",
        "list_multipart_uploads",
        "list_objects",
        "list_objects_versions",
        "list_parts",
        "object_exists",
        "put_bucket_cors",
        "put_bucket_lifecycle",
        "put_bucket_versioning",
        "put_object",
        "put_object_from_local_file",
        "put_object_tagging",
        "update_object_meta",
        "upload_file",
        "upload_file_from_buffer",
        "upload_part",
        "upload_part_copy",
    }
)

# Methods that send nothing of their own, with the reason.
SKIPPED = {
    "get_auth": "local helper: computes a signature (checked in test_cos_signature_kat.py)",
    "get_presigned_url": "local helper: builds a URL (presigned requests: test_cos_auth.py)",
    "get_presigned_download_url": "local helper: builds a URL",
    "get_object_url": "local helper: builds a URL",
    "get_rtmp_signed_url": "local helper: builds an rtmp:// URL (live channels are refused)",
    "get_conf": "local helper: returns the CosConfig",
    "get_retry_exe_times": "local helper: a counter",
    "inc_retry_exe_times": "local helper: a counter",
    "generate_built_in_connection_pool": "local helper: builds a requests session",
    "handle_built_in_connection_pool_by_pid": "local helper: rebuilds the session after fork",
    "should_switch_domain": "local helper: decides a retry's hostname",
    "send_request": "the raw transport every other method goes through",
}

# Methods that compose modelled and refused requests and swallow the refusals: every request they make must be a
# modelled reply or a 501, and together they must change nothing.
COMPOSITE = {
    "get_bucket_meta": "head_bucket and list_objects (modelled) plus ten bucket sub-resource GETs (refused, "
    "errors swallowed by the SDK)",
}

WALK_BUCKET_SHORT = "walk"


class Walk:
    """The cloud, the client, and per-run fixtures the argument builders use."""

    def __init__(self, ep: Endpoint, tmp: Path) -> None:
        self.ep = ep
        self.cloud = ep.cloud
        self.tmp = tmp
        self.region = ep.cloud.region
        self.bucket = f"{WALK_BUCKET_SHORT}-{ep.cloud.app_id}"
        assert ep.server is not None
        conf = CosConfig(
            Region=self.region,
            SecretId=ep.cloud.secret_id,
            SecretKey=ep.cloud.secret_key,
            Scheme="http",
            Proxies={"http": ep.server.url, "https": ep.server.url},
        )
        self.client = CosS3Client(conf, retry=0)

    # -- state -------------------------------------------------------------------------------
    def seed(self) -> None:
        """The walk bucket with its one object, as every call starts from."""
        cos = self.cloud.cos
        if self.bucket not in {b.name for b in cos.list_buckets()}:
            cos.create_bucket(self.bucket, self.region)
        info = cos.head_object(self.bucket, SEED_KEY)
        if info is None or cos.read_object(self.bucket, SEED_KEY) != SEED_BYTES:
            cos.put_object(self.bucket, SEED_KEY, SEED_BYTES, {"x-cos-meta-walk": "1"}, "text/plain")
            cos.put_tags(self.bucket, SEED_KEY, {"walk": "seed"})
        b = cos.get_bucket(self.bucket)
        if not b.cors:
            cos.put_cors(self.bucket, [CorsRule(origins=("*",), methods=("PUT",), expose=("ETag",))])
        if not b.lifecycle:
            cos.put_lifecycle(self.bucket, [LifecycleRule("walk", "walk-stale/", True, 7)])

    def snapshot(self) -> Any:
        """Everything a request could change: buckets, objects (bytes, attributes, tags), uploads and parts."""
        cos = self.cloud.cos
        state = []
        for b in sorted(cos.list_buckets(), key=lambda b: b.name):
            objects = []
            for key in sorted(b.objects):
                info = cos.head_object(b.name, key)
                assert info is not None
                objects.append(
                    (
                        key,
                        info.etag,
                        info.size,
                        info.storage_class,
                        info.encryption,
                        info.content_type,
                        sorted(info.metadata.items()),
                        info.version,
                        sorted(cos.get_tags(b.name, key).items()),
                        cos.read_object(b.name, key),
                    )
                )
            uploads = sorted(
                (uid, up.info.key, sorted((n, p.info.etag) for n, p in up.parts.items()))
                for uid, up in b.uploads.items()
            )
            state.append((b.name, b.region, objects, uploads))
        return state

    # -- argument builders -----------------------------------------------------------------------
    def upload_id(self, key: str = SCRATCH_KEY) -> str:
        return str(self.cloud.cos.initiate_multipart(self.bucket, key).upload_id)

    def uploaded_part(self) -> tuple[str, str]:
        uid = self.upload_id()
        part = self.cloud.cos.upload_part(self.bucket, SCRATCH_KEY, uid, 1, b"one part")
        return uid, str(part.etag)

    def local_file(self, name: str = "local.bin") -> str:
        path = self.tmp / name
        path.write_bytes(SEED_BYTES)
        return str(path)

    def scratch_bucket(self) -> str:
        name = f"walk-scratch-{self.cloud.app_id}"
        if name not in {b.name for b in self.cloud.cos.list_buckets()}:
            self.cloud.cos.create_bucket(name, self.region)
        return name


def _copy_source(w: Walk) -> dict[str, str]:
    return {"Bucket": w.bucket, "Key": SEED_KEY, "Region": w.region}


# Values by parameter name (a method's required parameters without a default).
BY_NAME: dict[str, Callable[[Walk], Any]] = {
    "Bucket": lambda w: w.bucket,
    "Key": lambda w: SCRATCH_KEY,
    "Body": lambda w: b"walk body",
    "Data": lambda w: b"appended",
    "Position": lambda w: 0,
    "PartNumber": lambda w: 1,
    "UploadId": lambda w: w.upload_id(),
    "CopySource": _copy_source,
    "LocalFilePath": lambda w: w.local_file(),
    "DestFilePath": lambda w: str(w.tmp / "dest.bin"),
    "DestImagePath": lambda w: str(w.tmp / "dest.img"),
    "Policy": lambda w: {"Statement": [], "version": "2.0"},
    "Status": lambda w: "Enabled",
    "StorageClass": lambda w: "STANDARD_IA",
    "Id": lambda w: "walkid",
    "ChannelName": lambda w: "walkchannel",
    "PlaylistName": lambda w: "walk.m3u8",
    "Switch": lambda w: "enabled",
    "DomainName": lambda w: "walk.example.com",
    "DomainCertificateConfiguration": lambda w: {"CertificateInfo": {"CertType": "CustomCert"}},
    "SymlinkName": lambda w: "walk/link",
    "SymlinkTarget": lambda w: SEED_KEY,
    "Expression": lambda w: "Select * from COSObject",
    "ExpressionType": lambda w: "SQL",
    "InputSerialization": lambda w: {"CSV": {}},
    "OutputSerialization": lambda w: {"CSV": {}},
    "Expires": lambda w: 3600,
    "Time": lambda w: 1,
    "Type": lambda w: "md5",
    "Rule": lambda w: "imageMogr2/thumbnail/!50p",
    "CompressType": lambda w: "avif",
    "Cover": lambda w: 0,
    "Request": lambda w: {"StyleName": "walk"},
    "Template": lambda w: {"Tag": "Animation", "Name": "walk"},
    "Body_xml": lambda w: {},
    "JobBody": lambda w: {},
    "CiProcess": lambda w: "videoinfo",
    "QrcodeContent": lambda w: "walk",
    "Width": lambda w: 100,
    "Input": lambda w: [{"Object": SEED_KEY}],
    "Url": lambda w: "http://example.com/a.jpg",
    "Label": lambda w: "Porn",
    "SuggestedLabel": lambda w: "Normal",
    "ContentType": lambda w: 1,
    "BizType": lambda w: "walk",
    "DetectType": lambda w: 1,
    "UpdateState": lambda w: "Active",
    "InputObject": lambda w: SEED_KEY,
    "OutputBucket": lambda w: w.bucket,
    "OutputRegion": lambda w: w.region,
    "OutputObject": lambda w: "walk/out",
    "FileCompressConfig": lambda w: {"Flatten": "0", "Format": "zip"},
    "FileUncompressConfig": lambda w: {"Prefix": "walk/"},
    "FileHashCodeConfig": lambda w: {"Type": "MD5"},
    "Name": lambda w: "walk",
    "EngineModelType": lambda w: "16k_zh",
    "ChannelNum": lambda w: 1,
    "ResTextFormat": lambda w: 0,
    "Tag": lambda w: "Transcode",
    "MultipartUpload": lambda w: {},
}
for _id in ("JobID", "JobId", "JobIDs", "TaskId", "TemplateId", "WorkflowId", "QueueId", "RunId"):
    BY_NAME[_id] = lambda w: "walk0000"


PIC_OPERATIONS = '{"is_pic_info": 1, "rules": [{"fileid": "walk.png", "rule": "imageMogr2/format/png"}]}'


def _complete_args(w: Walk) -> dict[str, Any]:
    uid, etag = w.uploaded_part()
    return {"UploadId": uid, "MultipartUpload": {"Part": [{"PartNumber": 1, "ETag": etag}]}}


# Per-method overrides, merged over the by-name values.
OVERRIDES: dict[str, Callable[[Walk], dict[str, Any]]] = {
    "get_object": lambda w: {"Key": SEED_KEY},
    "head_object": lambda w: {"Key": SEED_KEY},
    "object_exists": lambda w: {"Key": SEED_KEY},
    "get_object_tagging": lambda w: {"Key": SEED_KEY},
    "put_object_tagging": lambda w: {"Key": SEED_KEY, "Tagging": {"TagSet": {"Tag": [{"Key": "k", "Value": "v"}]}}},
    "delete_object_tagging": lambda w: {"Key": SEED_KEY},
    "download_file": lambda w: {"Key": SEED_KEY},
    "change_object_storage_class": lambda w: {"Key": SEED_KEY},
    "update_object_meta": lambda w: {"Key": SEED_KEY, "Metadata": {"x-cos-meta-walk": "2"}},
    "create_bucket": lambda w: {"Bucket": f"walk-created-{w.cloud.app_id}"},
    "delete_bucket": lambda w: {"Bucket": w.scratch_bucket()},
    "delete_objects": lambda w: {"Delete": {"Object": [{"Key": SCRATCH_KEY}], "Quiet": "true"}},
    "complete_multipart_upload": _complete_args,
    "upload_part_copy": lambda w: {"UploadId": w.upload_id()},
    "list_parts": lambda w: {"UploadId": w.upload_id()},
    "abort_multipart_upload": lambda w: {"UploadId": w.upload_id()},
    "upload_file": lambda w: {"LocalFilePath": w.local_file("upload.bin")},
    "upload_file_from_buffer": lambda w: {"Body": io.BytesIO(SEED_BYTES)},
    "ci_put_object": lambda w: {"PicOperations": PIC_OPERATIONS},
    "ci_put_object_from_local_file": lambda w: {"PicOperations": PIC_OPERATIONS},
    "ci_put_object_from_local_file_and_get_qrcode": lambda w: {"PicOperations": PIC_OPERATIONS},
    "get_vod_playlist": lambda w: {"StartTime": int(time.time()) - 3600, "EndTime": int(time.time())},
    "post_vod_playlist": lambda w: {"StartTime": int(time.time()) - 3600, "EndTime": int(time.time())},
    "put_bucket_intelligenttiering_v2": lambda w: {"Id": "walkid"},
    "put_bucket_versioning": lambda w: {"Status": "Enabled"},
    "put_bucket_cors": lambda w: {
        "CORSConfiguration": {"CORSRule": [{"AllowedOrigin": ["*"], "AllowedMethod": ["PUT"], "ExposeHeader": "ETag"}]}
    },
    "put_bucket_lifecycle": lambda w: {
        "LifecycleConfiguration": {
            "Rule": [
                {
                    "ID": "walk",
                    "Filter": {"Prefix": "walk-stale/"},
                    "Status": "Enabled",
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                }
            ]
        }
    },
}

# Methods whose own local work fails before any request with these arguments (e.g. they parse a reply the
# refusal does not give): allowed to raise CosClientError instead of CosServiceError, still changing nothing.


def _arguments(w: Walk, name: str, fn: Callable[..., Any]) -> dict[str, Any]:
    extra = OVERRIDES.get(name, lambda w: {})(w)
    args: dict[str, Any] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if pname == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        if pname in extra:
            args[pname] = extra[pname]
        elif param.default is inspect.Parameter.empty:
            if pname not in BY_NAME:
                raise AssertionError(f"{name}: no argument builder for required parameter {pname!r}")
            args[pname] = BY_NAME[pname](w)
    for k, v in extra.items():
        args.setdefault(k, v)
    return args


def public_methods() -> list[str]:
    return sorted(n for n, _ in inspect.getmembers(CosS3Client, inspect.isfunction) if not n.startswith("_"))


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    for ep in open_endpoint("server", tmp_path_factory.mktemp("cloud")):
        yield Walk(ep, tmp_path_factory.mktemp("walkfiles"))


def _consume(result: Any) -> None:
    """Read streamed bodies so that the request is complete."""
    if isinstance(result, dict) and "Body" in result and hasattr(result["Body"], "get_raw_stream"):
        result["Body"].get_raw_stream().read()


def test_every_sdk_method_is_modelled_refused_or_a_local_helper(walk: Walk) -> None:
    started = time.monotonic()
    methods = public_methods()
    problems: list[str] = []
    outcomes: dict[str, str] = {}
    for name in methods:
        if name in SKIPPED:
            outcomes[name] = "skipped"
            continue
        walk.seed()
        fn = getattr(walk.client, name)
        try:
            args = _arguments(walk, name, getattr(CosS3Client, name))
        except AssertionError as exc:
            problems.append(str(exc))
            continue
        before = walk.snapshot()
        first = len(walk.cloud.requests)
        error: BaseException | None = None
        try:
            _consume(fn(**args))
        except Exception as exc:
            error = exc
        records = walk.cloud.requests[first:]
        statuses = [r.status for r in records]
        detail = f"{name}: statuses {statuses}, actions {[r.action for r in records]}, error {error!r}"[:600]
        if not records:
            outcomes[name] = "other"
            problems.append(f"no request was sent: {detail}")
        elif all(s == 501 for s in statuses):
            outcomes[name] = "refused"
            if isinstance(error, CosServiceError) and error.get_error_code() != "NotImplemented":
                problems.append(f"refusal not shaped as NotImplemented: {detail}")
            if walk.snapshot() != before:
                problems.append(f"a refused call changed state: {detail}")
        elif error is None and all(s < 400 for s in statuses):
            outcomes[name] = "modelled"
        elif name in COMPOSITE and all(s < 400 or s == 501 for s in statuses):
            outcomes[name] = "composite"
            if walk.snapshot() != before:
                problems.append(f"a composite call changed state: {detail}")
        else:
            outcomes[name] = "other"
            problems.append(f"neither a modelled reply nor a refusal: {detail}")
        expected = "modelled" if name in MODELLED else "composite" if name in COMPOSITE else "refused"
        if outcomes[name] not in (expected, "other"):
            problems.append(f"{name}: expected {expected}, got {outcomes[name]}")
    elapsed = time.monotonic() - started
    counts = {k: sum(1 for v in outcomes.values() if v == k) for k in ("modelled", "refused", "composite", "skipped")}
    print(f"\nCOS SDK walk: {len(methods)} public methods; {counts}; {elapsed:.1f} s")
    assert not problems, "\n".join(problems)
    assert counts["modelled"] == len(MODELLED)
    assert counts["skipped"] == len(SKIPPED)
    known = set(SKIPPED) | set(MODELLED) | set(COMPOSITE)
    assert known <= set(methods), "the tables name methods the SDK no longer has"
