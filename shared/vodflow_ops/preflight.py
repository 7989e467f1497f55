"""`make deploy`'s preflight: prove the account can run vodflow before anything is deployed.

Each check returns a :class:`Check` whose message says what is wrong and how to fix it. The
credentials check needs only the standard library, so ``python shared/vodflow/preflight.py
--credentials-only`` answers in well under a second on a machine without the venv; the other
checks import the cloud SDKs lazily. Every cloud call honours ``VODFLOW_TENCENT_ENDPOINT``, so
the same checks run against the emulator.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[2]
ROLE_POLICY = ROOT / "deploy" / "role-policy.json"
CREDENTIAL_VARS = ("TENCENT_SECRET_ID", "TENCENT_SECRET_KEY")
VOD_CONSOLE = "https://console.cloud.tencent.com/vod"
EXIT_PREFLIGHT = 3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.message}"


class PreflightFailed(Exception):
    def __init__(self, check: Check) -> None:
        super().__init__(check.message)
        self.check = check


def check_credentials(env: Mapping[str, str]) -> Check:
    """The serverless tooling and the checks below use TENCENT_SECRET_ID / TENCENT_SECRET_KEY."""
    missing = [name for name in CREDENTIAL_VARS if not env.get(name, "").strip()]
    if missing:
        return Check(
            "credentials",
            False,
            f"{' and '.join(missing)} not set. Fix: export TENCENT_SECRET_ID=... TENCENT_SECRET_KEY=... "
            "(and TENCENT_TOKEN for temporary keys) with the keys of an account or sub-account allowed to deploy "
            "(CAM: QcloudSLSFullAccess and cam:PassRole on SLS_QcsRole); keys never go in files under version control.",
        )
    return Check("credentials", True, f"TENCENT_SECRET_ID {_mask(env['TENCENT_SECRET_ID'])}")


def _mask(secret_id: str) -> str:
    return secret_id[:4] + "****" if len(secret_id) > 8 else "****"


# -- the cloud checks (lazy imports: only after the credentials are there) --------------------
@dataclass
class Account:
    """Clients for the checks, built from the deployer's keys and the endpoint override if any."""

    env: Mapping[str, str]
    region: str

    def credentials(self) -> Any:
        from vodflow.credentials import Credentials  # noqa: PLC0415

        return Credentials(
            self.env["TENCENT_SECRET_ID"], self.env["TENCENT_SECRET_KEY"], self.env.get("TENCENT_TOKEN") or None
        )

    def endpoints(self) -> Any:
        from vodflow.endpoints import Endpoints  # noqa: PLC0415

        return Endpoints.from_environment(self.env)

    def cos(self, region: Optional[str] = None) -> Any:
        from qcloud_cos import CosConfig, CosS3Client  # noqa: PLC0415

        creds = self.credentials()
        return CosS3Client(
            CosConfig(
                Region=region or self.region,
                SecretId=creds.secret_id,
                SecretKey=creds.secret_key,
                Token=creds.token,
                Timeout=30,
                **self.endpoints().cos_config_kwargs(),
            ),
            retry=1,
        )

    def api(self, module: str, cls: str) -> Any:
        import importlib  # noqa: PLC0415

        from tencentcloud.common.credential import Credential  # noqa: PLC0415

        creds = self.credentials()
        client_cls = getattr(importlib.import_module(f"tencentcloud.{module}"), cls)
        region = "" if module.startswith("cam.") else self.region
        return client_cls(
            Credential(creds.secret_id, creds.secret_key, creds.token), region, self.endpoints().client_profile(30)
        )


def check_config(env: Mapping[str, str]) -> Check:
    from vodflow.errors import VodClientException  # noqa: PLC0415
    from vodflow.pipeline.config import Config, deployment_variables  # noqa: PLC0415

    try:
        config = Config.from_environment(deployment_variables(env))
    except VodClientException as exc:
        return Check("configuration", False, f"{exc}. Fix: set it in the environment (see README, Configuration).")
    return Check("configuration", True, f"region {config.region}, staging {config.staging_bucket}")


def _cos_error(exc: Exception) -> tuple[int, str]:
    status = int(getattr(exc, "get_status_code", lambda: 0)() or 0)
    code = str(getattr(exc, "get_error_code", lambda: "")() or "")
    return status, code


def check_bucket(account: Account, bucket: str, role: str) -> Check:
    """The bucket exists in VODFLOW_REGION (a bucket in another region would never fire the trigger)."""
    from qcloud_cos.cos_exception import CosClientError, CosServiceError  # noqa: PLC0415

    name = f"{role} bucket {bucket}"
    try:
        account.cos().head_bucket(Bucket=bucket)
        return Check(name, True, f"exists in {account.region}")
    except CosServiceError as exc:
        status, code = _cos_error(exc)
        if status in (401, 403):
            return Check(name, False, f"access denied ({code}). Fix: give the deploying keys read access to {bucket}.")
        if status != 404:
            return Check(name, False, f"HEAD bucket failed: HTTP {status} {code}")
    except CosClientError as exc:
        return Check(name, False, f"COS could not be reached: {type(exc).__name__}")
    actual = _bucket_region(account, bucket)
    if actual:
        return Check(
            name,
            False,
            f"is in {actual}, not VODFLOW_REGION={account.region}. Fix: export VODFLOW_REGION={actual} "
            f"(functions must run in the bucket's region), or use a bucket in {account.region}.",
        )
    return Check(
        name,
        False,
        f"does not exist in {account.region}. Fix: create it (COS console, or "
        f"`coscmd -b {bucket} -r {account.region} createbucket`) or set the right name.",
    )


def _bucket_region(account: Account, bucket: str) -> Optional[str]:
    try:
        listing = account.cos().list_buckets()
    except Exception:  # (only a hint for the message: any failure means "unknown")
        return None
    buckets = (listing.get("Buckets") or {}).get("Bucket") or []
    if isinstance(buckets, dict):
        buckets = [buckets]
    for b in buckets:
        if b.get("Name") == bucket:
            return str(b.get("Location") or "") or None
    return None


def check_create_once(account: Account, bucket: str, prefix: str) -> Check:
    """Job records rely on ``x-cos-forbid-overwrite``: write a probe twice and expect 409 the second time."""
    from qcloud_cos.cos_exception import CosServiceError  # noqa: PLC0415

    name = f"create-once writes on {bucket}"
    key = f"{prefix}preflight/{uuid.uuid4().hex}"
    cos = account.cos()
    headers = {"x-cos-forbid-overwrite": "true"}
    try:
        cos.put_object(Bucket=bucket, Key=key, Body=b"1", Metadata=headers)
        try:
            cos.put_object(Bucket=bucket, Key=key, Body=b"2", Metadata=headers)
        except CosServiceError as exc:
            status, code = _cos_error(exc)
            if status == 409:
                return Check(name, True, f"a second create of one key is refused ({code})")
            return Check(name, False, f"the second write failed with HTTP {status} {code}, expected 409")
        return Check(
            name,
            False,
            f"the bucket accepted an overwrite despite {headers}: it had versioning enabled at some point. "
            "Fix: create a separate job-state bucket that never had versioning and export "
            "VODFLOW_STATE_BUCKET=<name-appid>.",
        )
    except CosServiceError as exc:
        status, code = _cos_error(exc)
        return Check(name, False, f"writing {key} failed: HTTP {status} {code}. Fix: allow the keys cos:PutObject.")
    finally:
        try:
            cos.delete_object(Bucket=bucket, Key=key)
        except Exception:  # noqa: S110  (the probe is tiny; a leftover is harmless)
            pass


def required_actions(policy_path: Path = ROLE_POLICY) -> list[str]:
    """The actions deploy/role-policy.json grants: exactly what the functions call."""
    doc = json.loads(policy_path.read_text())
    out: list[str] = []
    for st in doc["statement"]:
        actions = st["action"] if isinstance(st["action"], list) else [st["action"]]
        out += [a.split("/", 1)[1] if a.startswith("name/") else a for a in actions]
    return out


def granted_actions(documents: Iterable[str]) -> list[str]:
    out: list[str] = []
    for text in documents:
        doc = json.loads(text)
        for st in doc.get("statement") or []:
            if str(st.get("effect", "")).lower() != "allow":
                continue
            actions = st.get("action") or []
            for a in [actions] if isinstance(actions, str) else actions:
                out.append(a.split("/", 1)[1] if a.startswith("name/") else a)
    return out


def missing_actions(needed: Iterable[str], granted: Iterable[str]) -> list[str]:
    patterns = list(granted)
    # scf:Invoke is the API's name and scf:InvokeFunction the CAM action's name: either grants it.
    alternatives = {"scf:Invoke": ("scf:Invoke", "scf:InvokeFunction"), "scf:InvokeFunction": ()}
    missing = []
    for action in needed:
        names = alternatives.get(action, (action,))
        if names and not any(fnmatchcase(n, p) for n in names for p in patterns):
            missing.append(action)
    return missing


def check_role(account: Account, role_name: str) -> Check:
    """The execution role exists, SCF may assume it, and its policies grant every action the functions use."""
    from tencentcloud.cam.v20190116 import models  # noqa: PLC0415
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
        TencentCloudSDKException,
    )

    name = f"execution role {role_name}"
    fix = (
        f"Fix: create the role {role_name} (CAM console, role entity: SCF / service scf.qcloud.com) and attach "
        "the policy `make deploy` wrote to build/deploy/role-policy.json (from deploy/role-policy.json)."
    )
    cam = account.api("cam.v20190116.cam_client", "CamClient")
    try:
        req = models.GetRoleRequest()
        req.RoleName = role_name
        info = cam.GetRole(req).RoleInfo
        if "scf.qcloud.com" not in (info.PolicyDocument or ""):
            return Check(name, False, f"SCF (scf.qcloud.com) is not trusted to assume it. {fix}")
        documents: list[str] = []
        page = 1
        while True:
            lreq = models.ListAttachedRolePoliciesRequest()
            lreq.RoleName, lreq.Page, lreq.Rp = role_name, page, 200
            listing = cam.ListAttachedRolePolicies(lreq)
            for item in listing.List or []:
                preq = models.GetPolicyRequest()
                preq.PolicyId = item.PolicyId
                documents.append(cam.GetPolicy(preq).PolicyDocument or "{}")
            if page * 200 >= (listing.TotalNum or 0):
                break
            page += 1
    except TencentCloudSDKException as exc:
        if exc.code in ("InvalidParameter.RoleNotExist", "ResourceNotFound.NotFound"):
            return Check(name, False, f"does not exist. {fix}")
        return Check(name, False, f"could not be read: [{exc.code}] {exc.message}. Fix: allow the keys cam:GetRole.")
    missing = missing_actions(required_actions(), granted_actions(documents))
    if missing:
        return Check(name, False, f"its policies do not allow {', '.join(missing)}. {fix}")
    return Check(name, True, f"trusted by SCF, grants the {len(required_actions())} actions the functions use")


def check_vod(account: Account, sub_app_id: Optional[int]) -> Check:
    """VOD answers a read for the account (and the sub-application) the functions will upload to."""
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
        TencentCloudSDKException,
    )
    from tencentcloud.vod.v20180717 import models  # noqa: PLC0415

    name = "VOD" + (f" sub-application {sub_app_id}" if sub_app_id else "")
    vod = account.api("vod.v20180717.vod_client", "VodClient")
    req = models.SearchMediaRequest()
    req.Limit = 1
    if sub_app_id:
        req.SubAppId = sub_app_id
    try:
        vod.SearchMedia(req)
    except TencentCloudSDKException as exc:
        if exc.code == "ResourceNotFound.ServiceNotExist":
            return Check(name, False, f"VOD is not enabled for this account. Fix: enable it at {VOD_CONSOLE}.")
        if exc.code and exc.code.startswith("AuthFailure"):
            return Check(name, False, f"[{exc.code}] the keys may not use VOD. Fix: allow them vod:SearchMedia.")
        return Check(name, False, f"[{exc.code}] {exc.message}")
    return Check(name, True, "enabled")


def run(env: Mapping[str, str], echo: Callable[[str], None] = print) -> list[Check]:
    """Every check in order; stops at the first failure (later checks would only repeat it)."""
    from vodflow.pipeline.config import Config, deployment_variables  # noqa: PLC0415

    checks: list[Check] = []

    def step(check: Check) -> None:
        checks.append(check)
        echo(check.line())
        if not check.ok:
            raise PreflightFailed(check)

    try:
        step(check_credentials(env))
        step(check_config(env))
        variables = deployment_variables(env)
        config = Config.from_environment(variables)
        account = Account(env, config.region)
        step(check_bucket(account, config.staging_bucket, "staging"))
        if config.state_bucket and config.state_bucket != config.staging_bucket:
            step(check_bucket(account, config.state_bucket, "job-state"))
        step(check_create_once(account, config.jobs_bucket, config.state_prefix))
        step(check_role(account, variables["VODFLOW_ROLE"]))
        step(check_vod(account, config.sub_app_id))
    except PreflightFailed:
        pass
    return checks


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--credentials-only" in args:
        check = check_credentials(os.environ)
        if not check.ok:
            print(f"make deploy: {check.line()}", file=sys.stderr)
            return EXIT_PREFLIGHT
        return 0
    checks = run(os.environ)
    return 0 if checks and all(c.ok for c in checks) else EXIT_PREFLIGHT


if __name__ == "__main__":
    sys.exit(main())
