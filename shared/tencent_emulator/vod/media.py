"""The VOD media host ``<appid>.vod2.myqcloud.com``: GET/HEAD of MediaUrl, CoverUrl and HLS segments.

A MediaUrl is ``http://<appid>.vod2.myqcloud.com`` + the storage path (the CommitUpload sample in
wire-shapes.md §2.2), so a segment stored at ``dirname(MediaStoragePath)/<relative path>`` is served
at ``dirname(MediaUrl)/<relative path>``, as an HLS player resolves it. Only committed, live media
are served; anything else is a CDN-style 404. Single byte ranges are honoured (RFC 7233).
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from email.utils import formatdate
from typing import Any, Optional

from tencent_emulator.core.http import Request, Response

HOST_RE = re.compile(r"^(?P<appid>\d+)\.vod2\.myqcloud\.com$")
RANGE_RE = re.compile(r"^bytes=(?P<start>\d*)-(?P<end>\d*)$")
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
}


class VodMediaFront:
    """Serves stored media bytes the way the VOD CDN does for an account without hotlink protection."""

    service = "vod-media"

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def match(self, req: Request) -> bool:
        m = HOST_RE.match(req.host)
        return bool(m and m.group("appid") == self.cloud.app_id)

    def classify(self, req: Request) -> str:
        return "GetMedia" if req.method in ("GET", "HEAD") else "Unsupported"

    def render_error(
        self, req: Request, action: str, code: str, status: int, message: Optional[str], *, as_200: bool = False
    ) -> Response:
        return self._plain(status or 500, message or code)

    @staticmethod
    def _plain(status: int, text: str, extra: Optional[dict[str, str]] = None) -> Response:
        headers = {"Content-Type": "text/plain", "X-NWS-LOG-UUID": str(uuid.uuid4()), **(extra or {})}
        return Response(status, headers, f"{status} {text}\n".encode())

    def handle(self, req: Request, action: str) -> Response:
        if req.method not in ("GET", "HEAD"):
            return self._plain(405, "Method Not Allowed", {"Allow": "GET, HEAD"})
        target = self.cloud.vod.served_object(req.key_path)
        if target is None:
            return self._plain(404, "Not Found")
        bucket, key = target
        info = self.cloud.cos.head_object(bucket, key)
        if info is None:
            return self._plain(404, "Not Found")
        size = info.size
        headers = {
            "Content-Type": self._content_type(key, info.content_type),
            "ETag": info.etag,
            "Last-Modified": formatdate(info.last_modified, usegmt=True),
            "Accept-Ranges": "bytes",
            "X-NWS-LOG-UUID": str(uuid.uuid4()),
        }
        start, end, status = 0, size - 1, 200
        rng = req.headers.get("Range", "").strip()
        if rng and RANGE_RE.match(rng):  # a Range header of another syntax is ignored (RFC 7233 §3.1)
            parsed = self._range(rng, size)
            if parsed is None:
                return self._plain(416, "Requested Range Not Satisfiable", {"Content-Range": f"bytes */{size}"})
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1 if size else 0
        headers["Content-Length"] = str(length)
        if req.method == "HEAD" or length == 0:
            return Response(status, headers, b"")
        return Response(status, headers, self.cloud.cos.iter_object(bucket, key, start, end))

    @staticmethod
    def _content_type(key: str, stored: str) -> str:
        if stored and stored != "application/octet-stream":
            return stored
        ext = "." + key.rsplit(".", 1)[-1].lower() if "." in key else ""
        return CONTENT_TYPES.get(ext) or mimetypes.types_map.get(ext) or "application/octet-stream"

    @staticmethod
    def _range(header: str, size: int) -> Optional[tuple[int, int]]:
        """A single ``bytes=a-b`` / ``a-`` / ``-n`` range, clipped to the object; None if unsatisfiable."""
        m = RANGE_RE.match(header.strip())
        if not m or (not m.group("start") and not m.group("end")) or size == 0:
            return None
        if not m.group("start"):
            n = int(m.group("end"))
            return (max(0, size - n), size - 1) if n > 0 else None
        start = int(m.group("start"))
        end = int(m.group("end")) if m.group("end") else size - 1
        if start >= size or end < start:
            return None
        return start, min(end, size - 1)
