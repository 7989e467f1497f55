"""What one invocation works with: config, the role's keys, clients, the job store, the invoker.

Built fresh for every invocation (``Runtime.from_environment``): the execution role's keys rotate
and a warm container outlives them, so nothing credential-bearing is cached across invocations.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from qcloud_cos import CosS3Client
from tencentcloud.common import credential
from tencentcloud.scf.v20180416 import models as scf_models
from tencentcloud.scf.v20180416.scf_client import ScfClient

from vodflow.clients import cos_client, vod_client
from vodflow.credentials import Credentials, from_scf_environment
from vodflow.endpoints import Endpoints
from vodflow.errors import VodValidationError
from vodflow.flow import Session
from vodflow.logs import bind as bind_log_context
from vodflow.logs import configure as configure_logging
from vodflow.logs import start_invocation
from vodflow.pipeline.config import Config
from vodflow.pipeline.jobs import JobStore
from vodflow.retry import RetryPolicy

ASYNC_PAYLOAD_LIMIT = 128 * 1024
logger = logging.getLogger("vodflow.pipeline")


class Invoker(Protocol):
    """Starts another function asynchronously (SCF ``Invoke`` with ``InvocationType=Event``)."""

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> str: ...


class ScfInvoker:
    """SCF Invoke through tencentcloud-sdk-python, with the role's keys.

    Payloads carry ids only (job id, generation, batch): never a certificate or a key, because
    payloads show up in consoles and logs.
    """

    def __init__(self, creds: Credentials, region: str, endpoints: Endpoints, retry: RetryPolicy) -> None:
        cred = credential.Credential(creds.secret_id, creds.secret_key, creds.token)
        self.client = ScfClient(cred, region, endpoints.client_profile())
        self.retry = retry

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> str:
        body = json.dumps(dict(payload), separators=(",", ":"))
        if len(body.encode("utf-8")) > ASYNC_PAYLOAD_LIMIT:
            raise VodValidationError(
                "InvalidParameterValue.ClientContext", "payload", f"{len(body)} bytes", "over the 128 KB async limit"
            )
        request = scf_models.InvokeRequest()
        request.FunctionName = function
        request.InvocationType = "Event"
        request.ClientContext = body
        # Safe to repeat: every function started this way is idempotent (see its module).
        response = self.retry.call(lambda: self.client.Invoke(request), service="scf", action="Invoke")
        result = response.Result
        return str(getattr(result, "FunctionRequestId", "") or response.RequestId or "")


@dataclass
class Runtime:
    config: Config
    credentials: Credentials = field(repr=False)
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function: str = ""
    endpoints: Endpoints = field(default_factory=Endpoints)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.time
    invoker: Optional[Invoker] = None
    _cos: dict[str, CosS3Client] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environment(
        cls, context: Any = None, environ: Optional[Mapping[str, str]] = None, config: Optional[Config] = None
    ) -> Runtime:
        """Config, role keys and endpoint override from the environment, request id from SCF's context."""
        configure_logging()
        # The COS SDK logs every 4xx (expected 404s of the job store) and, at DEBUG, request headers
        # with the Authorization signature: keep it quiet.
        logging.getLogger("qcloud_cos").setLevel(logging.CRITICAL)
        cfg = config or Config.from_environment(environ)
        creds = from_scf_environment(environ)
        endpoints = Endpoints.from_environment(environ)
        ctx = context if isinstance(context, Mapping) else {}
        request_id = str(ctx.get("request_id") or getattr(context, "request_id", "") or uuid.uuid4())
        function = str(ctx.get("function_name") or getattr(context, "function_name", "") or "")
        retry = RetryPolicy(max_attempts=cfg.retry_attempts, base_delay=cfg.retry_base_delay_ms / 1000)
        # Every line of this invocation, the flow's and the retry's too, carries the function and request id.
        start_invocation(function, request_id)
        rt = cls(cfg, creds, request_id=request_id, function=function, endpoints=endpoints, retry=retry)
        rt.invoker = ScfInvoker(creds, cfg.region, endpoints, rt.retry)
        return rt

    def cos(self, region: Optional[str] = None) -> CosS3Client:
        """COS with the role's keys (staging reads, job store)."""
        region = region or self.config.region
        if region not in self._cos:
            self._cos[region] = cos_client(self.credentials, region, self.endpoints)
        return self._cos[region]

    def cert_cos(self, session: Session, pool_size: int = 10) -> CosS3Client:
        """COS with VOD's temporary certificate: writes into the session's storage paths only."""
        if session.certificate is None:
            return cos_client(self.credentials, session.storage_region, self.endpoints, pool_size=pool_size)
        return cos_client(
            session.certificate.credentials(), session.storage_region, self.endpoints, pool_size=pool_size
        )

    def vod(self) -> Any:
        return vod_client(self.credentials, self.config.region, self.endpoints)

    def store(self) -> JobStore:
        return JobStore(self.cos(), self.config.jobs_bucket, self.config.state_prefix, self.retry, self.clock)

    def invoke(self, function: str, payload: Mapping[str, Any]) -> str:
        if self.invoker is None:
            raise RuntimeError("this runtime has no invoker")
        return self.invoker.invoke_async(function, payload)

    def bind_job(self, job_id: Optional[str]) -> None:
        """Name this job on every later line of the invocation, also those of modules that know no job."""
        if job_id:
            bind_log_context(job_id=job_id)

    def log(self, msg: str, job_id: Optional[str] = None, level: int = logging.INFO, **fields: Any) -> None:
        """One JSON line with the function, the invocation's request id and the job id (secrets are dropped by
        the formatter). A job id is also bound to the lines that follow (the flow's, the retry's), which
        know no job. A request id of the cloud goes in ``cloud_request_id``, never ``request_id``."""
        if job_id:
            bind_log_context(job_id=job_id)
        if "request_id" in fields:
            fields["cloud_request_id"] = fields.pop("request_id")
        logger.log(
            level, msg, extra={"job_id": job_id, "request_id": self.request_id, "function": self.function, **fields}
        )
