"""One emulated Tencent Cloud account: the service models, the router, the request log, faults.

Both fronts call :meth:`Cloud.dispatch`; nothing here knows whether a request came through
``responses`` or over a socket.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from tencent_emulator.core.clock import Clock
from tencent_emulator.core.faults import FaultRegistry, FunctionKilled
from tencent_emulator.core.front import Front
from tencent_emulator.core.http import ClientTimeout, CorruptingStream, DropConnection, Request, Response
from tencent_emulator.core.iam import Iam
from tencent_emulator.core.identity import carries_token, function_of, signing_secret_id

REGION_SHORT = {
    "ap-guangzhou": "gz",
    "ap-shanghai": "sh",
    "ap-beijing": "bj",
    "ap-chengdu": "cd",
    "ap-chongqing": "cq",
    "ap-nanjing": "nj",
    "ap-hongkong": "hk",
    "ap-singapore": "sg",
    "ap-tokyo": "jp",
    "ap-seoul": "kr",
    "ap-mumbai": "in",
    "ap-bangkok": "th",
    "na-siliconvalley": "usw",
    "na-ashburn": "use",
    "eu-frankfurt": "de",
    "sa-saopaulo": "sao",
}

# Service packages, each exposing ``install(cloud)`` that creates its model and registers its fronts.
SERVICE_PACKAGES = ("cos", "vod", "sts", "scf", "cam")


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator saw: for tests (what happened) and benchmarks (how many)."""

    service: str
    action: str
    status: int
    method: str
    host: str
    path: str
    started: float
    duration: float
    function: Optional[str]
    fault: Optional[str]
    bytes_in: int
    request_id: str
    principal: Optional[str] = None
    token: bool = False


class _CallerContext(threading.local):
    function: Optional[str] = None
    invocation_id: Optional[str] = None


class Cloud:
    """The emulated account. Service models hang off it as ``cos``, ``vod``, ``sts``, ``scf``, ``cam``.

    API Gateway is not emulated: Tencent retired it on 2025-06-30; the HTTP entry of a function is its
    function URL (an SCF ``http`` trigger, ``cloud.scf.function_url(name)``)."""

    cam: Any
    cos: Any
    vod: Any
    sts: Any
    scf: Any

    def __init__(
        self,
        app_id: str = "1250000000",
        region: str = "ap-guangzhou",
        uin: str = "100000000001",
        data_dir: Optional[Path] = None,
        mode: str = "in-process",
    ) -> None:
        self.app_id = app_id
        self.region = region
        self.uin = uin
        self.data_dir = Path(data_dir) if data_dir else None
        self.mode = mode
        self.base_url: Optional[str] = None  # the server's own URL in server mode
        self.clock = Clock()
        self.iam = Iam(app_id, uin, self.clock)
        self.faults = FaultRegistry()
        self.requests: list[RequestRecord] = []
        self.request_log: Optional[Path] = None  # server mode: every RequestRecord also as a JSON line here
        self.caller = _CallerContext()
        self._fronts: list[Front] = []
        self._lock = threading.Lock()
        for name in SERVICE_PACKAGES:
            try:
                module = importlib.import_module(f"tencent_emulator.{name}")
            except ModuleNotFoundError as exc:  # a service package not written yet
                if exc.name != f"tencent_emulator.{name}":
                    raise
                continue
            module.install(self)

    # -- keys ------------------------------------------------------------------------------
    @property
    def secret_id(self) -> str:
        return self.iam.root_secret_id

    @property
    def secret_key(self) -> str:
        return self.iam.root_secret_key

    @property
    def region_short(self) -> str:
        return REGION_SHORT.get(self.region, self.region)

    # -- routing ---------------------------------------------------------------------------
    def register_front(self, front: Front) -> None:
        self._fronts.append(front)

    def front_for(self, req: Request) -> Optional[Front]:
        for front in self._fronts:
            if front.match(req):
                return front
        return None

    def dispatch(self, req: Request) -> Response:
        """Route, apply faults, handle, log. Raises DropConnection / ClientTimeout / FunctionKilled."""
        front = self.front_for(req)
        started = time.time()
        request_id = str(uuid.uuid4())
        if front is None:
            resp = Response(404, {"Content-Type": "text/plain"}, f"no emulated service at {req.host}".encode())
            self._record("unknown", "Unknown", resp.status, req, started, None, request_id)
            return resp
        action = front.classify(req)
        sid = signing_secret_id(req)
        key = self.iam.get(sid) if sid else None
        principal = key.principal if key else None
        function = self.caller.function or function_of(principal)
        fired = self.faults.take(front.service, action, function)
        fault_names: list[str] = []
        for f in fired:
            if f.latency:
                time.sleep(f.latency)
            if f.hook is not None:
                f.hook()
        for f in fired:
            if f.kill == "before":
                self._record(front.service, action, 0, req, started, f"kill:{f.point}", request_id)
                raise FunctionKilled(f.point)
            if f.drop:
                self._record(front.service, action, 0, req, started, "drop", request_id)
                raise DropConnection(f"{front.service}:{action}")
            if f.timeout:
                self._record(front.service, action, 0, req, started, "timeout", request_id)
                raise ClientTimeout(f"{front.service}:{action}")
        if any(f.corrupt for f in fired):
            req.body = io.BufferedReader(CorruptingStream(req.body))  # type: ignore[type-var]
            fault_names.append("corrupt")
        error = next((f for f in fired if f.code or f.status or f.error_body), None)
        if error is not None:
            status = 200 if error.error_body else (error.status or 500)
            resp = front.render_error(
                req, action, error.code or "InternalError", status, error.message, as_200=error.error_body
            )
            fault_names.append(f"error:{error.code or error.status}")
        else:
            resp = front.handle(req, action)
        self._record(front.service, action, resp.status, req, started, ",".join(fault_names) or None, request_id)
        killer = next((f for f in fired if f.kill == "after"), None)
        if killer is not None:
            raise FunctionKilled(killer.point)
        return resp

    def _record(
        self,
        service: str,
        action: str,
        status: int,
        req: Request,
        started: float,
        fault: Optional[str],
        request_id: str,
    ) -> None:
        length = req.headers.get("Content-Length", "0")
        sid = signing_secret_id(req)
        key = self.iam.get(sid) if sid else None
        rec = RequestRecord(
            service=service,
            action=action,
            status=status,
            method=req.method,
            host=req.host,
            path=req.path,
            started=started,
            duration=time.time() - started,
            function=self.caller.function or function_of(key.principal if key else None),
            fault=fault,
            bytes_in=int(length) if length.isdigit() else 0,
            request_id=request_id,
            principal=key.principal if key else None,
            token=carries_token(req),
        )
        with self._lock:
            self.requests.append(rec)
            if self.request_log is not None:  # for tools in other processes (a deploy rehearsal counts calls)
                with self.request_log.open("a") as fh:
                    fh.write(json.dumps(dataclasses.asdict(rec)) + "\n")

    def request_counts(self, service: Optional[str] = None) -> Mapping[str, int]:
        """How many requests of each ``service:Action`` were seen (for benchmarks and request budgets)."""
        counts: dict[str, int] = {}
        with self._lock:
            for r in self.requests:
                if service is None or r.service == service:
                    key = f"{r.service}:{r.action}"
                    counts[key] = counts.get(key, 0) + 1
        return counts

    # -- app deployment (delegates to the SCF model) ---------------------------------------
    def deploy_app(
        self, path: str = "serverless.yml", variables: Optional[Mapping[str, str]] = None, **options: Any
    ) -> Any:
        """Deploy a serverless.yml; ``options`` (``role_policy``, ``run_mode``) go to ``scf.deploy_app``."""
        return self.scf.deploy_app(path, variables=dict(variables or {}), **options)

    def close(self) -> None:
        for name in SERVICE_PACKAGES:
            model = getattr(self, name, None)
            closer = getattr(model, "close", None)
            if callable(closer):
                closer()
