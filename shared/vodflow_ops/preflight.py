"""`make deploy`'s preflight: prove the account can run vodflow before anything is deployed.

Each check returns a :class:`Check` whose message says what is wrong and how to fix it. The
credentials check needs only the standard library, so ``python shared/vodflow_ops/preflight.py
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
RENDERED_POLICY = ROOT / "build" / "role-policy.json"
# The deployer's keys under the serverless tooling's names, or under the names tccli and SCF use.
KEY_NAMES = (
    ("TENCENT_SECRET_ID", "TENCENT_SECRET_KEY", "TENCENT_TOKEN"),
    ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"),
)
CREDENTIAL_VARS = KEY_NAMES[0][:2]
KEY_CHECK_TIMEOUT_S = 4
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


@dataclass(frozen=True)
class Keys:
    secret_id: str
    secret_key: str
    token: Optional[str]
    id_var: str  # the variable the id came from, for messages

    @property
    def masked(self) -> str:
        return _mask(self.secret_id)


def deployer_keys(env: Mapping[str, str]) -> Optional[Keys]:
    """The first complete pair: TENCENT_SECRET_ID/KEY (+TOKEN), else TENCENTCLOUD_SECRETID/KEY (+SESSIONTOKEN)."""
    for id_var, key_var, token_var in KEY_NAMES:
        sid, skey = env.get(id_var, "").strip(), env.get(key_var, "").strip()
        if sid and skey:
            return Keys(sid, skey, env.get(token_var, "").strip() or None, id_var)
    return None


def check_credentials(env: Mapping[str, str]) -> Check:
    """Keys are set (either naming); whether they work is :func:`check_keys`' signed call."""
    keys = deployer_keys(env)
    if keys is None:
        missing = [name for name in CREDENTIAL_VARS if not env.get(name, "").strip()]
        return Check(
            "credentials",
            False,
            f"{' and '.join(missing)} not set. Fix: export TENCENT_SECRET_ID=... TENCENT_SECRET_KEY=... "
            "(and TENCENT_TOKEN for temporary keys; TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY / "
            "TENCENTCLOUD_SESSIONTOKEN work too) with the keys of an account or sub-account allowed to deploy "
            "(CAM: QcloudSCFFullAccess, cam:PassRole on the execution role, and read access to COS, CAM and VOD); "
            "keys never go in files under version control.",
        )
    return Check("credentials", True, f"{keys.id_var} {keys.masked}")


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

        keys = deployer_keys(self.env)
        if keys is None:
            raise PreflightFailed(check_credentials(self.env))
        return Credentials(keys.secret_id, keys.secret_key, keys.token)

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

    def api(self, module: str, cls: str, timeout: int = 30) -> Any:
        import importlib  # noqa: PLC0415

        from tencentcloud.common.credential import Credential  # noqa: PLC0415

        creds = self.credentials()
        client_cls = getattr(importlib.import_module(f"tencentcloud.{module}"), cls)
        region = "" if module.startswith("cam.") else self.region
        return client_cls(
            Credential(creds.secret_id, creds.secret_key, creds.token), region, self.endpoints().client_profile(timeout)
        )

    def scf(self, timeout: int = 30) -> Any:
        return self.api("scf.v20180416.scf_client", "ScfClient", timeout)


def check_keys(account: Account) -> Check:
    """The keys work: one signed, read-only SCF call (ListFunctions), with a short timeout."""
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
        TencentCloudSDKException,
    )
    from tencentcloud.scf.v20180416 import models  # noqa: PLC0415

    keys = deployer_keys(account.env)
    assert keys is not None  # check_credentials ran first
    name = "keys"
    req = models.ListFunctionsRequest()
    req.Limit = 1
    try:
        account.scf(KEY_CHECK_TIMEOUT_S).ListFunctions(req)
    except TencentCloudSDKException as exc:
        code = str(exc.code or "")
        if code in ("AuthFailure.SecretIdNotFound", "AuthFailure.SignatureFailure", "AuthFailure.InvalidSecretId"):
            return Check(
                name,
                False,
                f"{keys.id_var} {keys.masked} was refused ({code}): the key id is unknown or the secret key does not "
                f"match it. Fix: copy both from the CAM console (API keys) into {keys.id_var} and its secret key.",
            )
        if code.startswith("AuthFailure.Token") or code == "AuthFailure.SignatureExpire":
            return Check(
                name,
                False,
                f"{keys.id_var} {keys.masked}: {code} (temporary keys expired, or the token is missing or wrong, or "
                "the clock is off). Fix: get fresh temporary keys and export the token too.",
            )
        if code.startswith(("AuthFailure", "UnauthorizedOperation")):
            return Check(
                name, False, f"{keys.id_var} {keys.masked} may not use SCF ({code}). Fix: allow scf:ListFunctions."
            )
        if code == "ClientNetworkError" or not code:
            return Check(name, False, f"SCF could not be reached to check the keys: {exc.message}")
        return Check(name, False, f"checking the keys with SCF ListFunctions failed: [{code}] {exc.message}")
    return Check(name, True, f"{keys.id_var} {keys.masked} signs requests SCF accepts in {account.region}")


def check_config(env: Mapping[str, str]) -> Check:
    from vodflow.errors import VodClientException  # noqa: PLC0415
    from vodflow.pipeline.config import Config, deployment_variables  # noqa: PLC0415

    try:
        config = Config.from_environment(deployment_variables(env))
    except VodClientException as exc:
        return Check("configuration", False, f"{exc}. Fix: set it in the environment (see docs/configuration.md).")
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


def check_staging_versioning(account: Account, bucket: str, policy: str) -> Check:
    """The tag and delete policies act on the job's pinned version only: the staging bucket must version objects.

    COS has no conditional DELETE Object or PUT Object tagging (only ``versionId``), so without versioning
    the policy could touch a newer version staged between its check and its action.
    """
    from qcloud_cos.cos_exception import CosClientError, CosServiceError  # noqa: PLC0415

    name = f"versioning on {bucket} (VODFLOW_STAGING_POLICY={policy})"
    fix = (
        f"Fix: enable versioning on {bucket} (COS console, Fault tolerance > Versioning) with a separate "
        "VODFLOW_STATE_BUCKET, or export VODFLOW_STAGING_POLICY=keep."
    )
    try:
        status = str(account.cos().get_bucket_versioning(Bucket=bucket).get("Status") or "")
    except CosServiceError as exc:
        code_status, code = _cos_error(exc)
        return Check(name, False, f"could not read the bucket's versioning: HTTP {code_status} {code}. {fix}")
    except CosClientError as exc:
        return Check(name, False, f"COS could not be reached: {type(exc).__name__}")
    if status != "Enabled":
        return Check(name, False, f"versioning is {status or 'not enabled'}. {fix}")
    return Check(name, True, "enabled: the policy acts on each job's own version")


CORS_RULE_ID = "vodflow-upload-page"
# Where the page lives: its origin is the api function's URL (both documented host forms).
FUNCTION_URL_ORIGINS = ("https://*.scf.tencentcs.com", "https://*.tencentscf.com")


def staging_cors_rule(origins: str) -> dict[str, Any]:
    """The staging bucket's CORS rule the upload page needs: PUT parts, POST Complete, read ETag.

    ``origins`` is ``VODFLOW_CORS_ORIGINS`` (comma-separated, ``*`` for any); unless it is ``*``, the
    function URL's own origins are added, since the page is served from there.
    """
    listed = [o.strip() for o in origins.split(",") if o.strip()] or ["*"]
    allowed = ["*"] if "*" in listed else sorted({*listed, *FUNCTION_URL_ORIGINS})
    return {
        "ID": CORS_RULE_ID,
        "AllowedOrigin": allowed,
        "AllowedMethod": ["PUT", "POST", "GET", "HEAD"],
        "AllowedHeader": ["*"],
        "ExposeHeader": ["ETag", "x-cos-request-id"],
        "MaxAgeSeconds": "600",
    }


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _rule_shape(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    keys = ("AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader")
    return (*(tuple(sorted(_as_list(rule.get(k)))) for k in keys), str(rule.get("MaxAgeSeconds") or ""))


def check_staging_cors(account: Account, bucket: str, origins: str, apply: bool = True) -> Check:
    """The staging bucket's CORS lets the page PUT parts and read ``ETag``: checked, and set when ``apply``.

    PUT Bucket cors replaces the whole configuration, so every other rule is kept as it is; only the rule
    with ID ``vodflow-upload-page`` is added or replaced. The change is shown either way.
    """
    from qcloud_cos.cos_exception import CosClientError, CosServiceError  # noqa: PLC0415

    name = f"CORS of {bucket}"
    want = staging_cors_rule(origins)
    cos = account.cos()
    try:
        rules = [dict(r) for r in cos.get_bucket_cors(Bucket=bucket).get("CORSRule") or []]
    except CosServiceError as exc:
        status, code = _cos_error(exc)
        if code != "NoSuchCORSConfiguration":
            return Check(
                name, False, f"could not read the bucket's CORS: HTTP {status} {code}. Fix: allow cos:GetBucketCORS."
            )
        rules = []
    except CosClientError as exc:
        return Check(name, False, f"COS could not be reached: {type(exc).__name__}")
    ours = next((r for r in rules if r.get("ID") == CORS_RULE_ID), None)
    if ours is not None and _rule_shape(ours) == _rule_shape(want):
        return Check(name, True, f"the upload page may PUT from {', '.join(want['AllowedOrigin'])} and read ETag")

    def show(r: Mapping[str, Any]) -> str:
        origins, methods = _as_list(r.get("AllowedOrigin")), _as_list(r.get("AllowedMethod"))
        return f"origins {origins}, methods {methods}, expose {_as_list(r.get('ExposeHeader'))}"

    change = f"rule {CORS_RULE_ID}: {'none' if ours is None else show(ours)} -> {show(want)}"
    if not apply:
        return Check(name, True, f"would set {change} (make deploy sets it)")
    new_rules = [r for r in rules if r.get("ID") != CORS_RULE_ID] + [want]
    try:
        cos.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRule": new_rules})
    except CosServiceError as exc:
        status, code = _cos_error(exc)
        return Check(
            name, False, f"could not set {change}: HTTP {status} {code}. Fix: allow the keys cos:PutBucketCORS."
        )
    return Check(name, True, f"set {change}")


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


def render_role_policy(config: Any, policy: Path = ROLE_POLICY) -> str:
    """deploy/role-policy.json with this deployment's region, appid and buckets filled in."""
    appid = config.staging_bucket.rsplit("-", 1)[1]
    values = {
        "region": config.region,
        "appid": appid,
        "uin": "*",
        "staging_bucket": config.staging_bucket,
        "state_bucket": config.jobs_bucket,
    }
    text = policy.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    doc = json.loads(text)
    for st in doc["statement"]:  # the same bucket twice when job records live in the staging bucket
        st["resource"] = list(dict.fromkeys(st["resource"]))
    return json.dumps(doc, indent=2) + "\n"


def write_role_policy(config: Any, out: Path = RENDERED_POLICY) -> Path:
    """The filled-in policy, written where the role check's message points, before the message names it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_role_policy(config))
    return out


def check_role(account: Account, role_name: str, policy_path: Path = RENDERED_POLICY) -> Check:
    """The execution role exists, SCF may assume it, and its policies grant every action the functions use."""
    from tencentcloud.cam.v20190116 import models  # noqa: PLC0415
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
        TencentCloudSDKException,
    )

    name = f"execution role {role_name}"
    fix = (
        f"Fix: create the role {role_name} (CAM console, role entity: SCF / service scf.qcloud.com) and attach "
        f"the policy in {policy_path.relative_to(ROOT) if policy_path.is_relative_to(ROOT) else policy_path} "
        "(deploy/role-policy.json filled in for this region and these buckets)."
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


def run(env: Mapping[str, str], echo: Callable[[str], None] = print, apply: bool = False) -> list[Check]:
    """Every check in order; stops at the first failure (later checks would only repeat it).

    ``apply`` (make deploy, not make plan): settings the deploy owns are set, not only checked (the
    staging bucket's CORS rule for the upload page).
    """
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
        step(check_keys(account))
        step(check_bucket(account, config.staging_bucket, "staging"))
        if config.state_bucket and config.state_bucket != config.staging_bucket:
            step(check_bucket(account, config.state_bucket, "job-state"))
        step(check_create_once(account, config.jobs_bucket, config.state_prefix))
        if config.staging_policy != "keep":
            step(check_staging_versioning(account, config.staging_bucket, config.staging_policy))
        step(check_staging_cors(account, config.staging_bucket, variables["VODFLOW_CORS_ORIGINS"], apply))
        step(check_role(account, variables["VODFLOW_ROLE"], write_role_policy(config)))
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
