"""The staging bucket: conventions for what starts a job, sources pinned to their ETag, and the
policy applied to a staged object once its media is committed and verified.

Staging convention (documented in the README):

- Any object under ``VODFLOW_STAGING_PREFIX`` with a media extension starts a job (``.MOV`` is a
  video: extensions are matched case-insensitively).
- Cover images (``.jpg``, ``.png``, ...) never start a job: they are named by a media object's
  ``x-cos-meta-vod-cover`` metadata.
- An HLS or DASH package is staged as a folder whose name ends with ``.hls`` or ``.dash``; its
  top-level ``index.m3u8`` / ``index.mpd`` starts the job, and nothing else inside the folder
  does (segments and nested playlists are parts of the package, never media of their own).
"""

from __future__ import annotations

import posixpath
from typing import Any, Optional

from qcloud_cos.cos_exception import CosServiceError

from vodflow.model import COVER_TYPES
from vodflow.pipeline import records
from vodflow.pipeline.config import Config
from vodflow.sources import CosObjectSource

PACKAGE_SUFFIXES = (".hls", ".dash")
PACKAGE_INDEXES = ("index.m3u8", "index.mpd")


def package_root(key: str) -> Optional[str]:
    """The package folder (``incoming/show.hls/``) that contains ``key``, if any."""
    parts = key.split("/")
    for i in range(len(parts) - 1):
        if parts[i].lower().endswith(PACKAGE_SUFFIXES):
            return "/".join(parts[: i + 1]) + "/"
    return None


def ignore_reason(config: Config, key: str) -> Optional[str]:
    """Why an object never starts a job (None: it does)."""
    if config.jobs_bucket == config.staging_bucket and key.startswith(config.state_prefix):
        return "under the job-state prefix"
    if not key.startswith(config.staging_prefix):
        return f"outside the staging prefix {config.staging_prefix!r}"
    root = package_root(key)
    if root is not None:
        rest = key[len(root) :]
        if rest.lower() not in PACKAGE_INDEXES:
            return f"part of the package {root!r} (only its index manifest starts a job)"
        return None
    ext = posixpath.splitext(key)[1].lstrip(".").lower()
    if ext in COVER_TYPES:
        return "a cover image (named by a media object's x-cos-meta-vod-cover)"
    return None


def staging_source(
    job: Any,
    key: Optional[str] = None,
    etag: Optional[str] = None,
    size: Optional[int] = None,
    crc64: Optional[int] = None,
) -> CosObjectSource:
    """A staging object read with the role's keys, every range pinned to the job's ETag."""
    src = job.spec.source
    return CosObjectSource(
        bucket=src.bucket,
        region=src.region,
        key=key or src.key,
        credentials=job.rt.credentials,
        etag=etag or (src.etag if key is None else None),
        size_hint=size if key is not None else src.size,
        crc64_hint=crc64 if key is not None else src.crc64,
        endpoints=job.rt.endpoints,
        retry=job.rt.retry,
        client=job.rt.cos(src.region),
    )


def cover_source(job: Any) -> Optional[CosObjectSource]:
    cover = job.spec.options.get("cover") or {}
    if not cover.get("key"):
        return None
    return staging_source(job, cover["key"], cover.get("etag"), cover.get("size"), cover.get("crc64"))


def apply_staging_policy(job: Any, result: dict[str, Any]) -> None:
    """keep (default), tag, or delete the staged object, only after the media is committed and verified.

    Safe to repeat: tagging sets the same tags; deleting a deleted object is a no-op. A newer
    version staged under the same key is never touched: the ETag is checked first.
    """
    policy = job.rt.config.staging_policy
    if policy == "keep" or job.listing.has(records.STAGING):
        return
    src = job.spec.source
    cos = job.rt.cos(src.region)
    try:
        head = cos.head_object(Bucket=src.bucket, Key=src.key)
    except CosServiceError as exc:
        if exc.get_status_code() == 404:
            return
        raise
    if str(head.get("ETag", "")).strip('"') != src.etag.strip('"'):
        job.rt.log("staging object replaced since; policy not applied", job.job_id, policy=policy)
        return
    if policy == "tag":
        tags = {
            "Tag": [
                {"Key": "vodflow-file-id", "Value": str(result.get("file_id"))},
                {"Key": "vodflow-job-id", "Value": job.job_id},
            ]
        }
        job.rt.retry.call(
            lambda: cos.put_object_tagging(Bucket=src.bucket, Key=src.key, Tagging={"TagSet": tags}),
            service="cos",
            action="PutObjectTagging",
        )
    elif policy == "delete":
        job.rt.retry.call(
            lambda: cos.delete_object(Bucket=src.bucket, Key=src.key), service="cos", action="DeleteObject"
        )
    job.store.create_once(job.job_id, records.STAGING, {"policy": policy, "at": job.rt.clock()})
