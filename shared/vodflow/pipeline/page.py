"""The upload page's files (``static/``: plain HTML, CSS and JavaScript, no build step), served by the API.

``GET /`` is ``index.html``; ``GET /static/<name>`` the other files. They ship in the package as package
data and are read once per cold start. The page talks only to its own origin (the function URL) and to
the presigned COS URLs the API hands out: the Content-Security-Policy says so.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
    "media-src blob: http: https:; connect-src 'self' http: https:; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Asset:
    """A page file: bytes as text, its media type and an ETag."""

    name: str
    text: str
    content_type: str

    def reply(self, status: int, request_id: str) -> dict[str, Any]:
        headers = {
            "Content-Type": self.content_type,
            "Cache-Control": "no-cache",
            "ETag": '"' + hashlib.sha256(self.text.encode()).hexdigest()[:32] + '"',
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if self.name.endswith(".html"):
            headers["Content-Security-Policy"] = CSP
        if request_id:
            headers["X-Request-Id"] = request_id
        return {"isBase64Encoded": False, "statusCode": status, "headers": headers, "body": self.text}


@functools.lru_cache(maxsize=16)
def page_asset(name: str) -> Optional[Asset]:
    """The named file of ``static/`` (a plain name with a known type), else None."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    suffix = Path(name).suffix
    path = STATIC / name
    if suffix not in TYPES or not path.is_file():
        return None
    return Asset(name, path.read_text(encoding="utf-8"), TYPES[suffix])
