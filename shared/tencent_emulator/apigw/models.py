"""API Gateway: services (one per apigw trigger in serverless.yml) and their routes to SCF functions.

Route priority (tencentcloud.com/document/product/628/11939): exact paths first, then path
templates, the longest first. No HTTP here; ``front.py`` turns requests into events.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class Route:
    path: str  # the template, e.g. /jobs/{id}
    method: str  # GET ... or ANY
    function: str  # deployed function name
    integrated: bool
    service_timeout_s: float
    regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pattern = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if PARAM.fullmatch(part) else re.escape(part)
            for part in re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", self.path)
        )
        self.regex = re.compile(f"^{pattern}/?$")

    @property
    def is_template(self) -> bool:
        return bool(PARAM.search(self.path))

    def match(self, method: str, path: str) -> Optional[dict[str, str]]:
        if self.method not in ("ANY", method):
            return None
        m = self.regex.match(path)
        return dict(m.groupdict()) if m else None


@dataclass
class ApiService:
    service_id: str
    name: str
    stage: str
    protocols: list[str]
    host: str
    routes: list[Route] = field(default_factory=list)

    @property
    def url(self) -> str:
        scheme = "https" if "https" in self.protocols else "http"
        return f"{scheme}://{self.host}/{self.stage}"

    def route(self, method: str, path: str) -> Optional[tuple[Route, dict[str, str]]]:
        ordered = sorted(self.routes, key=lambda r: (r.is_template, -len(r.path)))
        for r in ordered:
            params = r.match(method, path)
            if params is not None:
                return r, params
        return None


class ApigwModel:
    """The account's API Gateway services; ``url`` is the base URL of the (first) deployed one."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.services: list[ApiService] = []
        self.max_body = 6 * 1024 * 1024
        self._lock = threading.Lock()

    def deploy_service(self, spec: Any, function_names: dict[str, str]) -> ApiService:
        """Create (or replace, by name) a service from an ``ApigwSpec``; ``function_names`` maps yml keys."""
        service_id = spec.service_id or "service-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
        host = f"{service_id}-{self.cloud.app_id}.{self.cloud.region_short}.apigw.tencentcs.com"
        svc = ApiService(service_id, spec.service_name, spec.stage, list(spec.protocols), host)
        for api in spec.apis:
            svc.routes.append(
                Route(api.path, api.method, function_names[api.function_key], api.integrated, api.service_timeout_s)
            )
        with self._lock:
            self.services = [s for s in self.services if s.name != svc.name] + [svc]
        return svc

    @property
    def url(self) -> Optional[str]:
        with self._lock:
            return self.services[0].url if self.services else None

    @property
    def local_url(self) -> Optional[str]:
        """Server mode: ``http://127.0.0.1:PORT/<stage>`` reaches the first service without a Host header."""
        with self._lock:
            if not self.services or not self.cloud.base_url:
                return None
            return f"{self.cloud.base_url}/{self.services[0].stage}"

    def service_for_host(self, host: str) -> Optional[ApiService]:
        with self._lock:
            return next((s for s in self.services if s.host == host), None)

    def service_for_stage_path(self, path: str) -> Optional[ApiService]:
        with self._lock:
            return next((s for s in self.services if path == f"/{s.stage}" or path.startswith(f"/{s.stage}/")), None)

    def close(self) -> None:
        return None
