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

    Only the job's own version is ever touched: the action names the COS version pinned at the job's
    HEAD (``versionId``), so a newer version staged under the same key meanwhile cannot be tagged or
    deleted, whenever it lands. COS has no conditional DELETE Object or PUT Object tagging (both take
    only ``versionId``; API reference 436/7743 and 436/35709), so checking the ETag first and acting
    after leaves a window: without a pinned version the policy is not applied, and that is recorded.
    ``tag`` and ``delete`` therefore need versioning enabled on the staging bucket (config and the
    deploy preflight refuse them otherwise).

    Safe to repeat: tagging a version sets the same tags; deleting a deleted version is a no-op (404
    is done); ``staging.json`` (create-once) records that the policy ran.
    """
    policy = job.rt.config.staging_policy
    if policy == "keep" or job.listing.has(records.STAGING):
        return
    src = job.spec.source
    if not src.version_id:
        reason = "the staged object has no COS version id (versioning is not enabled on the staging bucket)"
        job.rt.log("staging policy not applied", job.job_id, policy=policy, reason=reason)
        job.store.create_once(
            job.job_id, records.STAGING, {"policy": policy, "applied": False, "reason": reason, "at": job.rt.clock()}
        )
        return
    cos = job.rt.cos(src.region)
    version = src.version_id
    if policy == "tag":
        tags = {
            "Tag": [
                {"Key": "vodflow-file-id", "Value": str(result.get("file_id"))},
                {"Key": "vodflow-job-id", "Value": job.job_id},
            ]
        }

        def tag() -> None:
            cos.put_object_tagging(Bucket=src.bucket, Key=src.key, VersionId=version, Tagging={"TagSet": tags})

        _gone_is_done(job, tag, "PutObjectTagging")
    elif policy == "delete":
        _gone_is_done(job, lambda: cos.delete_object(Bucket=src.bucket, Key=src.key, VersionId=version), "DeleteObject")
    job.store.create_once(
        job.job_id, records.STAGING, {"policy": policy, "applied": True, "version_id": version, "at": job.rt.clock()}
    )


def _gone_is_done(job: Any, call: Any, action: str) -> None:
    """The pinned version deleted already (by a repeat of this step, or by the user): nothing to do."""

    def attempt() -> None:
        try:
            call()
        except CosServiceError as exc:
            if exc.get_status_code() != 404:
                raise

    job.rt.retry.call(attempt, service="cos", action=action)
