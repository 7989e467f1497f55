"""Pipeline configuration from environment variables, validated once per cold start.

Each variable is declared once in :data:`VARIABLES` (name, default, meaning); the README's
configuration table and the deploy preflight read the same table, so they cannot drift.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from vodflow.errors import VodValidationError

MIB = 1024 * 1024
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,48}-\d{6,12}$")
REGION_RE = re.compile(r"^[a-z]{2,3}-[a-z]+(-[a-z0-9]+)*$")
POLICIES = ("keep", "tag", "delete")
EVENTS_MODES = ("off", "pull", "push")


@dataclass(frozen=True)
class Variable:
    name: str
    default: Optional[str]
    meaning: str
    required: bool = False
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("VODFLOW_REGION", "ap-guangzhou", "Region of the staging bucket, the functions and the VOD API calls."),
    Variable("VODFLOW_STAGING_BUCKET", None, "Staging bucket, `name-appid`.", required=True),
    Variable("VODFLOW_STAGING_PREFIX", "incoming/", "Only keys under this prefix start jobs (the trigger's filter)."),
    Variable("VODFLOW_STATE_BUCKET", "", "Bucket of the job records; empty: the staging bucket."),
    Variable("VODFLOW_STATE_PREFIX", ".vodflow/", "Prefix of the job records; must lie outside the staging prefix."),
    Variable(
        "VODFLOW_API_TOKEN", "", "Bearer token of the HTTP API (kept only as its SHA-256 in memory).", secret=True
    ),
    Variable("VODFLOW_VOD_SUB_APP_ID", "", "VOD sub-application id; empty: the main application."),
    Variable("VODFLOW_VOD_PROCEDURE", "", "Default task-flow template applied after upload."),
    Variable("VODFLOW_VOD_CLASS_ID", "", "Default VOD category id."),
    Variable("VODFLOW_VOD_STORAGE_REGION", "", "Default VOD storage region; empty: VOD's default."),
    Variable("VODFLOW_INLINE_THRESHOLD", str(64 * MIB), "Objects up to this size (bytes) are copied inline by ingest."),
    Variable("VODFLOW_PART_SIZE", "", "Force a part size in bytes (tests); empty: the planner chooses."),
    Variable("VODFLOW_BATCH_PARTS", "", "Force the parts per part_copy invocation (tests); empty: planned."),
    Variable("VODFLOW_MAX_FANOUT", "32", "Most part_copy invocations in flight for one job (SCF quota is shared)."),
    Variable(
        "VODFLOW_COPY_STREAMS",
        "8",
        "Objects from 16 MiB up to the inline threshold are copied by ingest as parts, this many at once; 1: one PUT.",
    ),
    Variable("VODFLOW_STAGING_POLICY", "keep", "After a verified commit: keep, tag or delete the staging object."),
    Variable(
        "VODFLOW_STAGING_VERSIONED",
        "false",
        "`true`: versioning is enabled on the staging bucket (needed by the tag and delete policies).",
    ),
    Variable("VODFLOW_WEBHOOK_URL", "", "Optional URL that receives the job result, signed with HMAC-SHA256."),
    Variable("VODFLOW_WEBHOOK_SECRET", "", "Key of the webhook signature.", secret=True),
    Variable(
        "VODFLOW_WEBHOOK_MAX_AGE_S",
        "86400",
        "The sweeper redelivers a webhook this long, then records it undeliverable.",
    ),
    Variable(
        "VODFLOW_MAX_UPLOAD_AGE_S",
        "691200",
        "The sweeper aborts staging multipart uploads initiated longer ago than this (their URLs are dead).",
    ),
    Variable("VODFLOW_JOB_DEADLINE_S", "86400", "A job not committed this long after it started fails."),
    Variable(
        "VODFLOW_EVENTS_MODE",
        "off",
        "How vodflow follows VOD's events after the commit: `pull` (the sweeper polls), `push` (VOD calls "
        "`/vod/events` on the function URL) or `off` (jobs end at `committed`).",
    ),
    Variable(
        "VODFLOW_EVENTS_SIGN_KEY",
        "",
        "SignKey of VOD's event callbacks (`push`: required, letters and digits, at most 32).",
        secret=True,
    ),
    Variable("VODFLOW_EVENTS_POLL_S", "40", "`pull`: how long one sweeper pass reads VOD's event queue (seconds)."),
    Variable(
        "VODFLOW_PROCESSING_DEADLINE_S",
        "86400",
        "A committed job whose Procedure has not ended this long after the commit is processing_failed.",
    ),
    Variable("VODFLOW_PACKAGE_WAIT_S", "3600", "How long an HLS/DASH job waits for segments staged after it."),
    Variable("VODFLOW_LEASE_S", "960", "A dispatched batch with no progress this long is dispatched again."),
    Variable(
        "VODFLOW_RECONCILE_WINDOW_S",
        "21600",
        "The sweeper starts jobs for staged objects this recent that have none (a lost event); 0: off.",
    ),
    Variable("VODFLOW_JOB_RETENTION_S", "604800", "Finished job records older than this are removed by the sweeper."),
    Variable("VODFLOW_RETRY_ATTEMPTS", "6", "Attempts per cloud call on throttling, 5xx and network errors."),
    Variable("VODFLOW_RETRY_BASE_DELAY_MS", "250", "First backoff (ms); doubles per attempt, with full jitter."),
    Variable("VODFLOW_INGEST_FUNCTION", "vodflow-ingest", "Name of the ingest function (async Invoke by the API)."),
    Variable("VODFLOW_PART_COPY_FUNCTION", "vodflow-part-copy", "Name of the part_copy function (async Invoke)."),
    Variable("VODFLOW_FINALIZE_FUNCTION", "vodflow-finalize", "Name of the finalize function (async Invoke)."),
)


def _int(name: str, raw: str, *, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise VodValidationError("InvalidParameterValue", name, raw, "not an integer") from None
    if value < minimum:
        raise VodValidationError("InvalidParameterValue", name, raw, f"must be at least {minimum}")
    return value


def _opt_int(name: str, raw: str, *, minimum: int = 0) -> Optional[int]:
    return _int(name, raw, minimum=minimum) if raw.strip() else None


@dataclass(frozen=True)
class Config:
    region: str
    staging_bucket: str
    staging_prefix: str = "incoming/"
    state_bucket: str = ""
    state_prefix: str = ".vodflow/"
    api_token_sha256: Optional[str] = field(default=None, repr=False)
    sub_app_id: Optional[int] = None
    procedure: Optional[str] = None
    class_id: Optional[int] = None
    storage_region: Optional[str] = None
    inline_threshold: int = 64 * MIB
    part_size: Optional[int] = None
    batch_parts: Optional[int] = None
    max_fanout: int = 32
    copy_streams: int = 8
    staging_policy: str = "keep"
    staging_versioned: bool = False
    webhook_url: Optional[str] = None
    webhook_secret: Optional[str] = field(default=None, repr=False)
    webhook_max_age_s: int = 86400
    max_upload_age_s: int = 691200
    job_deadline_s: int = 86400
    events_mode: str = "off"
    events_sign_key: Optional[str] = field(default=None, repr=False)
    events_poll_s: int = 40
    processing_deadline_s: int = 86400
    package_wait_s: int = 3600
    lease_s: int = 960
    job_retention_s: int = 604800
    reconcile_window_s: int = 21600
    retry_attempts: int = 6
    retry_base_delay_ms: int = 250
    ingest_function: str = "vodflow-ingest"
    part_copy_function: str = "vodflow-part-copy"
    finalize_function: str = "vodflow-finalize"

    @property
    def jobs_bucket(self) -> str:
        return self.state_bucket or self.staging_bucket

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> Config:
        """Read and check every variable; the first bad one raises, naming it and its value."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            var = next(v for v in VARIABLES if v.name == name)
            value = env.get(name)
            if value is None or value == "":
                value = var.default or ""
            if var.required and not value:
                raise VodValidationError("MissingParameter", name, "", "must be set")
            return value

        region = get("VODFLOW_REGION")
        if not REGION_RE.match(region):
            raise VodValidationError(
                "InvalidParameterValue", "VODFLOW_REGION", region, "not a region like ap-guangzhou"
            )
        buckets: dict[str, str] = {}
        for name in ("VODFLOW_STAGING_BUCKET", "VODFLOW_STATE_BUCKET"):
            value = get(name)
            if value and not BUCKET_RE.match(value):
                raise VodValidationError("InvalidParameterValue", name, value, "not a bucket name like name-1250000000")
            buckets[name] = value
        staging_prefix = get("VODFLOW_STAGING_PREFIX")
        state_prefix = get("VODFLOW_STATE_PREFIX")
        for name, prefix in (("VODFLOW_STAGING_PREFIX", staging_prefix), ("VODFLOW_STATE_PREFIX", state_prefix)):
            if prefix.startswith("/") or ".." in prefix.split("/"):
                raise VodValidationError("InvalidParameterValue", name, prefix, "must be a relative key prefix")
        if state_prefix and not state_prefix.endswith("/"):
            raise VodValidationError("InvalidParameterValue", "VODFLOW_STATE_PREFIX", state_prefix, "must end with /")
        same_bucket = buckets["VODFLOW_STATE_BUCKET"] in ("", buckets["VODFLOW_STAGING_BUCKET"])
        if same_bucket and (not state_prefix or state_prefix.startswith(staging_prefix)):
            # Job records written under the trigger's prefix would start jobs of their own: a loop.
            raise VodValidationError(
                "InvalidParameterValue",
                "VODFLOW_STATE_PREFIX",
                state_prefix,
                f"must lie outside VODFLOW_STAGING_PREFIX={staging_prefix!r} in the same bucket",
            )
        policy = get("VODFLOW_STAGING_POLICY")
        if policy not in POLICIES:
            raise VodValidationError(
                "InvalidParameterValue", "VODFLOW_STAGING_POLICY", policy, f"not one of {POLICIES}"
            )
        versioned = get("VODFLOW_STAGING_VERSIONED").lower()
        if versioned not in ("true", "false"):
            raise VodValidationError(
                "InvalidParameterValue", "VODFLOW_STAGING_VERSIONED", versioned, "not true or false"
            )
        if policy != "keep" and versioned != "true":
            # COS has no conditional DELETE or PUT tagging: only a pinned versionId cannot hit a newer version.
            raise VodValidationError(
                "InvalidParameterValue",
                "VODFLOW_STAGING_POLICY",
                policy,
                "would touch a newer version staged meanwhile: enable versioning on the staging bucket and set "
                "VODFLOW_STAGING_VERSIONED=true (with a separate VODFLOW_STATE_BUCKET), or use keep",
            )
        if versioned == "true" and same_bucket:
            # x-cos-forbid-overwrite (the job records' create-once) reportedly fails on a versioned bucket.
            raise VodValidationError(
                "InvalidParameterValue",
                "VODFLOW_STATE_BUCKET",
                buckets["VODFLOW_STATE_BUCKET"],
                "must be a separate bucket that never had versioning when VODFLOW_STAGING_VERSIONED=true",
            )
        webhook_url = get("VODFLOW_WEBHOOK_URL") or None
        if webhook_url and not webhook_url.startswith(("https://", "http://")):
            raise VodValidationError("InvalidParameterValue", "VODFLOW_WEBHOOK_URL", webhook_url, "not an http(s) URL")
        token = get("VODFLOW_API_TOKEN")
        storage_region = get("VODFLOW_VOD_STORAGE_REGION") or None
        if storage_region and not REGION_RE.match(storage_region):
            raise VodValidationError(
                "InvalidParameterValue", "VODFLOW_VOD_STORAGE_REGION", storage_region, "not a region"
            )
        events_mode = get("VODFLOW_EVENTS_MODE").lower()
        if events_mode not in EVENTS_MODES:
            raise VodValidationError(
                "InvalidParameterValue", "VODFLOW_EVENTS_MODE", events_mode, f"not one of {EVENTS_MODES}"
            )
        sign_key = get("VODFLOW_EVENTS_SIGN_KEY")
        if sign_key and not (len(sign_key) <= 32 and sign_key.isascii() and sign_key.isalnum()):
            # VOD's SignKey: letters and digits, at most 32 (ModifyEventConfigRequest.SignKey). Never echoed.
            raise VodValidationError(
                "InvalidParameterValue", "VODFLOW_EVENTS_SIGN_KEY", "<hidden>", "letters and digits, at most 32"
            )
        if events_mode == "push" and not sign_key:
            raise VodValidationError(
                "MissingParameter", "VODFLOW_EVENTS_SIGN_KEY", "", "must be set when VODFLOW_EVENTS_MODE=push"
            )
        return cls(
            region=region,
            staging_bucket=buckets["VODFLOW_STAGING_BUCKET"],
            staging_prefix=staging_prefix,
            state_bucket=buckets["VODFLOW_STATE_BUCKET"],
            state_prefix=state_prefix,
            api_token_sha256=_sha256(token) if token else None,
            sub_app_id=_opt_int("VODFLOW_VOD_SUB_APP_ID", get("VODFLOW_VOD_SUB_APP_ID"), minimum=1),
            procedure=get("VODFLOW_VOD_PROCEDURE") or None,
            class_id=_opt_int("VODFLOW_VOD_CLASS_ID", get("VODFLOW_VOD_CLASS_ID")),
            storage_region=storage_region,
            inline_threshold=_int("VODFLOW_INLINE_THRESHOLD", get("VODFLOW_INLINE_THRESHOLD")),
            part_size=_opt_int("VODFLOW_PART_SIZE", get("VODFLOW_PART_SIZE"), minimum=1),
            batch_parts=_opt_int("VODFLOW_BATCH_PARTS", get("VODFLOW_BATCH_PARTS"), minimum=1),
            max_fanout=_int("VODFLOW_MAX_FANOUT", get("VODFLOW_MAX_FANOUT"), minimum=1),
            copy_streams=_int("VODFLOW_COPY_STREAMS", get("VODFLOW_COPY_STREAMS"), minimum=1),
            staging_policy=policy,
            staging_versioned=versioned == "true",
            webhook_url=webhook_url,
            webhook_secret=get("VODFLOW_WEBHOOK_SECRET") or None,
            webhook_max_age_s=_int("VODFLOW_WEBHOOK_MAX_AGE_S", get("VODFLOW_WEBHOOK_MAX_AGE_S")),
            max_upload_age_s=_int("VODFLOW_MAX_UPLOAD_AGE_S", get("VODFLOW_MAX_UPLOAD_AGE_S"), minimum=3600),
            job_deadline_s=_int("VODFLOW_JOB_DEADLINE_S", get("VODFLOW_JOB_DEADLINE_S"), minimum=60),
            events_mode=events_mode,
            events_sign_key=sign_key or None,
            events_poll_s=_int("VODFLOW_EVENTS_POLL_S", get("VODFLOW_EVENTS_POLL_S"), minimum=0),
            processing_deadline_s=_int(
                "VODFLOW_PROCESSING_DEADLINE_S", get("VODFLOW_PROCESSING_DEADLINE_S"), minimum=60
            ),
            package_wait_s=_int("VODFLOW_PACKAGE_WAIT_S", get("VODFLOW_PACKAGE_WAIT_S"), minimum=0),
            lease_s=_int("VODFLOW_LEASE_S", get("VODFLOW_LEASE_S"), minimum=1),
            job_retention_s=_int("VODFLOW_JOB_RETENTION_S", get("VODFLOW_JOB_RETENTION_S"), minimum=0),
            reconcile_window_s=_int("VODFLOW_RECONCILE_WINDOW_S", get("VODFLOW_RECONCILE_WINDOW_S"), minimum=0),
            retry_attempts=_int("VODFLOW_RETRY_ATTEMPTS", get("VODFLOW_RETRY_ATTEMPTS"), minimum=1),
            retry_base_delay_ms=_int("VODFLOW_RETRY_BASE_DELAY_MS", get("VODFLOW_RETRY_BASE_DELAY_MS")),
            ingest_function=get("VODFLOW_INGEST_FUNCTION"),
            part_copy_function=get("VODFLOW_PART_COPY_FUNCTION"),
            finalize_function=get("VODFLOW_FINALIZE_FUNCTION"),
        )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


DEPLOY_VARIABLES: tuple[Variable, ...] = (
    Variable("VODFLOW_STAGE", "dev", "Stage of the deployment (the serverless `stage`)."),
    Variable("VODFLOW_ROLE", "vodflow-scf-role", "Execution role of the functions (see deploy/role-policy.json)."),
    Variable("VODFLOW_CORS_ORIGINS", "*", "Origins browsers may call the function URL from (comma-separated)."),
)


def deploy_defaults(variables: Mapping[str, str]) -> dict[str, str]:
    """Every variable serverless.yml uses, from ``variables`` or its default, as ``make deploy`` fills them.

    Declared as the ``tencent_emulator.deploy_defaults`` entry point, so the emulator's
    ``deploy_app("serverless.yml", variables={...})`` fills defaults the same way without importing vodflow.
    """
    return deployment_variables(variables)


def deployment_variables(environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """Every ``${env:...}`` that serverless.yml uses, with the defaults filled in for the unset ones."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for var in (*VARIABLES, *DEPLOY_VARIABLES):
        value = env.get(var.name)
        out[var.name] = value if value not in (None, "") else (var.default or "")
    return out
