"""``VodUploadClient``: the official ``qcloud_vod`` client's surface, running vodflow's flow steps.

``upload(region, request)`` validates locally, parses a manifest package locally, applies, uploads
media, cover and segments in parallel (``ConcurrentUploadNumber`` threads; parts sized from the
object size), verifies CRC64 per part and per object, commits, and aborts every multipart upload it
opened if anything fails. Every call is retried with backoff for throttling and 5xx; the temporary
certificate's expiry is checked before each part.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Optional

from .clients import vod_client
from .credentials import Credentials
from .endpoints import Endpoints
from .errors import VodClientException
from .flow import (
    DEFAULT_CERT_MARGIN_S,
    ObjectResult,
    PartResult,
    Progress,
    Session,
    abort,
    apply_upload,
    check_certificate,
    commit,
    complete,
    copy_part,
    initiate_multipart,
    put_small,
    storage_client,
)
from .model import ResolvedRequest, VodUploadRequest, VodUploadResponse, check_region, resolve_request
from .planner import MiB, Plan, PlanConfig, plan_upload
from .retry import RetryPolicy
from .sources import LocalFileSource, MediaSource

__all__ = ["LIBRARY_PLAN", "VodUploadClient"]

logger = logging.getLogger("vodflow.upload")

# The library streams from local disk: multipart above 16 MiB, parts of at least 8 MiB (more when
# the file needs it to stay within 10,000 parts), instead of the official fixed 1 MiB parts.
LIBRARY_PLAN = PlanConfig(inline_threshold=16 * MiB, preferred_part_size=8 * MiB)


@dataclass
class _Item:
    """One object to put into VOD's bucket."""

    what: str
    source: MediaSource
    key: str
    plan: Plan
    upload_id: Optional[str] = None
    parts: dict[int, PartResult] = field(default_factory=dict)
    result: Optional[ObjectResult] = None


class VodUploadClient:
    """``VodUploadClient(secret_id, secret_key, token=None)``; ``upload(region, request)``.

    ``ignore_check`` and ``retry_time`` are kept for compatibility: ``retry_time`` is the attempt
    count of the retry policy (default 3 in the official SDK; here ``retry`` gives full control).
    """

    def __init__(self, secret_id: str, secret_key: str, token: Optional[str] = None) -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token
        self.ignore_check = False
        self.retry_time = 6
        self.retry: Optional[RetryPolicy] = None
        self.plan_config: PlanConfig = LIBRARY_PLAN
        self.endpoints: Optional[Endpoints] = None
        self.cert_margin_s: float = DEFAULT_CERT_MARGIN_S
        self.require_crc = True
        self.clock: Callable[[], float] = time.time

    def __repr__(self) -> str:
        return (
            f"VodUploadClient({self._credentials()!r})" if self.secret_id and self.secret_key else "VodUploadClient()"
        )

    def _credentials(self) -> Credentials:
        return Credentials(self.secret_id, self.secret_key, self.token)

    def _retry_policy(self) -> RetryPolicy:
        if self.retry is not None:
            return self.retry
        return RetryPolicy(max_attempts=max(1, int(self.retry_time)))

    def upload(
        self,
        region: str,
        request: VodUploadRequest,
        progress_callback: Optional[Callable[[int, int], Any]] = None,
    ) -> VodUploadResponse:
        """Upload media (and cover, and a manifest's segments) to VOD; returns FileId, MediaUrl, CoverUrl."""
        check_region(region, known=not self.ignore_check)  # the pipeline's own calls name no region
        resolved = resolve_request(region, request, self.ignore_check)
        creds = self._credentials()
        endpoints = self.endpoints or Endpoints.from_environment()
        retry = self._retry_policy()
        vod = vod_client(creds, region, endpoints)
        logger.info(
            "upload start",
            extra={
                "region": region,
                "media": resolved.media.describe(),
                "media_type": resolved.media_type,
                "size": resolved.media.size,
                "segments": len(resolved.package.files) if resolved.package else 0,
            },
        )
        session = apply_upload(vod, resolved.apply_fields, retry)
        # COS gets VOD's temporary certificate, or (no certificate) the caller's keys *with* the token.
        # Default DEFAULT_CONCURRENCY (8, ConcurrentUploadNumber unset), chosen by measurement: see model.py.
        concurrency = resolved.concurrency
        cos = storage_client(session, creds, endpoints, pool_size=concurrency + 2)
        items = self._items(resolved, session)
        progress = Progress(sum(item.source.size for item in items), progress_callback)
        try:
            self._transfer(items, cos, session, retry, progress, concurrency)
        except BaseException:
            self._abort_all(items, cos, session, retry)
            raise
        result = commit(vod, session, retry)
        response = VodUploadResponse()
        response.FileId = result.file_id
        response.MediaUrl = result.media_url
        response.CoverUrl = result.cover_url
        response.RequestId = result.request_id
        return response

    def _items(self, resolved: ResolvedRequest, session: Session) -> list[_Item]:
        config = self.plan_config
        items: list[_Item] = []
        if session.media_storage_path:
            items.append(_Item("media", resolved.media, session.media_key, plan_upload(resolved.media.size, config)))
        if resolved.cover is not None and session.cover_storage_path:
            items.append(_Item("cover", resolved.cover, session.cover_key, plan_upload(resolved.cover.size, config)))
        if resolved.package is not None:
            for relative in resolved.package.files:
                source = LocalFileSource(str(resolved.package.local_path(relative)))
                items.append(_Item("segment", source, session.segment_key(relative), plan_upload(source.size, config)))
        return items

    def _transfer(
        self,
        items: list[_Item],
        cos: Any,
        session: Session,
        retry: RetryPolicy,
        progress: Progress,
        concurrency: int,
    ) -> None:
        bucket = session.storage_bucket
        cert = session.certificate
        stop = threading.Event()
        common: dict[str, Any] = {
            "retry": retry,
            "certificate": cert,
            "cert_margin_s": self.cert_margin_s,
            "clock": self.clock,
            "progress": progress,
            "require_crc": self.require_crc,
        }
        for item in items:
            if not item.plan.inline:
                check_certificate(cert, self.cert_margin_s, self.clock)
                item.upload_id = initiate_multipart(cos, bucket, item.key, retry)

        def run(fn: Callable[[], None]) -> Callable[[], None]:
            def task() -> None:
                if not stop.is_set():  # fail fast: parts queued after a failure do not start
                    fn()

            return task

        tasks: list[Callable[[], None]] = []
        for item in items:
            if item.plan.inline:

                def put(item: _Item = item) -> None:
                    item.result = put_small(item.source, cos, bucket, item.key, **common)

                tasks.append(run(put))
            else:
                for part in item.plan.parts:

                    def send(item: _Item = item, part: Any = part) -> None:
                        assert item.upload_id is not None
                        item.parts[part.number] = copy_part(
                            item.source, cos, bucket, item.key, item.upload_id, part, **common
                        )

                    tasks.append(run(send))

        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="vodflow") as pool:
            futures: list[Future[None]] = [pool.submit(task) for task in tasks]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                stop.set()
                for future in pending:
                    future.cancel()
                wait(pending)
                error = failed.exception()
                assert error is not None
                raise error

        for item in items:
            if item.plan.inline:
                continue
            assert item.upload_id is not None
            parts = [item.parts[n] for n in sorted(item.parts)]
            expected = item.source.expected_crc64
            item.result = complete(
                cos,
                bucket,
                item.key,
                item.upload_id,
                parts,
                retry=retry,
                expected_crc64=expected,
                require_crc=self.require_crc,
            )
            item.upload_id = None  # completed: nothing left to abort

    @staticmethod
    def _abort_all(items: list[_Item], cos: Any, session: Session, retry: RetryPolicy) -> None:
        for item in items:
            if item.upload_id is None:
                continue
            try:
                abort(cos, session.storage_bucket, item.key, item.upload_id, retry)
            except VodClientException as exc:
                logger.error(
                    "abort failed; multipart upload left open",
                    extra={"key": item.key, "upload_id": item.upload_id, "code": exc.code},
                )
