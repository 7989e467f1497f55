"""What every service front provides to the router."""

from __future__ import annotations

from typing import Optional, Protocol

from tencent_emulator.core.http import Request, Response


class Front(Protocol):
    """A front parses requests for one service, verifies them and renders that service's replies."""

    service: str

    def match(self, req: Request) -> bool:
        """Whether this front serves the request (by host, or by the Authorization scope on loopback)."""
        ...

    def classify(self, req: Request) -> str:
        """The action name (``ApplyUpload``, ``UploadPart``...) used by the request log and faults."""
        ...

    def handle(self, req: Request, action: str) -> Response: ...

    def render_error(
        self, req: Request, action: str, code: str, status: int, message: Optional[str], *, as_200: bool = False
    ) -> Response:
        """An injected error in this service's shape; ``as_200`` renders COS's "200 with an error body"."""
        ...
