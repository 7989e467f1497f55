"""`make deploy`, `make plan`, `make destroy`: serverless.yml onto Tencent Cloud through the official SCF API.

``make deploy``: preflight (keys checked with a signed call; nothing is built for an account that
cannot run vodflow), package, read serverless.yml, print the plan (what will be created, updated or
left alone), carry it out, print the function URL. ``make plan`` stops after the plan.
``make destroy`` removes the functions (and their triggers) this deployment created, never
buckets, staged objects or job records; it asks first unless ``--yes``.

Every cloud call honours ``VODFLOW_TENCENT_ENDPOINT``, so the whole deploy is rehearsed on the
emulator. ``VODFLOW_DEPLOYER=components`` picks the alternative: the serverless components CLI
(``@serverless/components`` 3.18.2, pinned in deploy/package.json, run from build/deploy with
``SERVERLESS_PLATFORM_VENDOR=tencent``); Tencent's platform behind it has been reported unresponsive
since 2023 (reference/http-entry-and-deploy.md §2), so it is not the default.
``VODFLOW_DEPLOY_COMMAND`` replaces that CLI (split like a shell would, never run through one).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional

from vodflow_ops import packaging, preflight
from vodflow_ops.preflight import render_role_policy
from vodflow_ops.scf_deploy import (
    Applier,
    CodePackage,
    CodeUpload,
    DeployError,
    DesiredState,
    Plan,
    Scf,
    current_state,
    desired_state,
    destroy,
    destroy_plan,
    function_urls,
    make_plan,
)

ROOT = Path(__file__).resolve().parents[2]
YML = ROOT / "serverless.yml"
TOOLING = ROOT / "deploy"
COMPONENTS_BIN = TOOLING / "node_modules" / ".bin" / "components"
COMMAND_VAR = "VODFLOW_DEPLOY_COMMAND"
DEPLOYER_VAR = "VODFLOW_DEPLOYER"
EXIT_DECLARATION = 4
EXIT_ABORTED = 5

__all__ = ["main", "render_role_policy"]


def _sdk_error() -> type[Exception]:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: PLC0415
        TencentCloudSDKException,
    )

    return TencentCloudSDKException


# -- the official SCF API (the default) --------------------------------------------------------------
def build_package(echo: Callable[[str], None]) -> tuple[CodePackage, Path]:
    zip_path = packaging.build(ROOT / "build")
    package = CodePackage.read(zip_path)
    echo(f"  {zip_path.relative_to(ROOT)} ({package.size / 1e6:.1f} MB, sha256 {package.sha256[:12]})")
    return package, ROOT / "build" / "package"


def yml_variables(env: Mapping[str, str]) -> dict[str, str]:
    """vodflow's variables with their defaults; any other ``${env:...}`` comes from the environment as it is."""
    from vodflow.pipeline.config import deployment_variables  # noqa: PLC0415

    variables = deployment_variables(env)
    variables.update({k: v for k, v in env.items() if k not in variables})
    return variables


def read_declaration(env: Mapping[str, str]) -> Any:
    """serverless.yml parsed and checked (trigger types, handlers, variables, ranges): no cloud call, no build."""
    from tencent_emulator.scf.deploy import DeployError as YmlError  # noqa: PLC0415
    from tencent_emulator.scf.deploy import load_app  # noqa: PLC0415

    variables = yml_variables(env)
    try:
        return load_app(YML, variables, app_id="", default_region=variables.get("VODFLOW_REGION", ""))
    except YmlError as exc:
        raise DeployError(str(exc)) from None


def declaration(env: Mapping[str, str], package: CodePackage, tree: Path) -> DesiredState:
    return desired_state(YML, yml_variables(env), package, tree)


def scf_client(account: preflight.Account) -> Scf:
    return Scf(account.scf())


def code_upload(account: preflight.Account, config: Any, package: CodePackage) -> CodeUpload:
    """A package too big for the request goes to the job-state bucket under the state prefix (never staged)."""

    def put(key: str, data: bytes) -> tuple[str, str]:
        full = f"{config.state_prefix}{key}"
        account.cos().put_object(Bucket=config.jobs_bucket, Key=full, Body=data)
        return config.jobs_bucket.rsplit("-", 1)[0], full  # CosBucketName: without -appid (CreateFunction doc)

    return CodeUpload(package, config.region, put)


def show_plan(plan: Plan, echo: Callable[[str], None]) -> None:
    echo("plan:")
    for line in plan.lines():
        echo(f"  {line}")
    echo(f"  {plan.summary()}")


def run_scf(env: Mapping[str, str], *, dry_run: bool, echo: Callable[[str], None] = print) -> int:
    """Keys present → declaration read → package built and checked → preflight → plan → apply.

    Everything that can be wrong with the declaration or the package is found before the first
    cloud call; nothing is created before the preflight passed.
    """
    from vodflow.pipeline.config import Config, deployment_variables  # noqa: PLC0415

    check = preflight.check_credentials(env)
    if not check.ok:
        echo(f"make deploy: {check.line()}")
        return preflight.EXIT_PREFLIGHT
    try:
        read_declaration(env)
        echo("package:")
        package, tree = build_package(echo)
        desired = declaration(env, package, tree)
    except DeployError as exc:
        echo(f"make deploy: {exc}")
        return EXIT_DECLARATION
    echo("preflight:")
    checks = preflight.run(env, echo=lambda line: echo("  " + line), apply=not dry_run)
    if not checks or not all(c.ok for c in checks):
        echo("make deploy: preflight failed; nothing was deployed.")
        return preflight.EXIT_PREFLIGHT
    config = Config.from_environment(deployment_variables(env))
    account = preflight.Account(env, config.region)
    scf = scf_client(account)
    try:
        plan = make_plan(desired, current_state(scf, desired))
    except DeployError as exc:
        echo(f"make deploy: {exc}")
        return EXIT_DECLARATION
    show_plan(plan, echo)
    if dry_run:
        known = function_urls(scf, desired)
        configure_vod_events(account, config, next(iter(known.values()), "<function URL>"), dry_run=True, echo=echo)
        echo("dry run: nothing was changed.")
        return 0
    if plan.changes:
        echo("apply:")
        try:
            Applier(scf, code_upload(account, config, package), echo).apply(plan)
        except (DeployError, _sdk_error()) as exc:
            echo(f"make deploy: {exc}. Run `make deploy` again: it continues from what exists.")
            return 1
    else:
        echo("nothing to do: the deployment is as declared.")
    urls = function_urls(scf, desired)
    for function, url in urls.items():
        echo(f"function URL of {function}: {url}")
        echo(f"  try: curl -s {url}/health")
    try:
        configure_vod_events(account, config, next(iter(urls.values()), ""), dry_run=False, echo=echo)
    except _sdk_error() as exc:
        echo(f"make deploy: ModifyEventConfig failed ({exc}). Run `make deploy` again.")
        return 1
    return 0


def configure_vod_events(
    account: preflight.Account, config: Any, api_url: str, *, dry_run: bool, echo: Callable[[str], None]
) -> None:
    """VODFLOW_EVENTS_MODE → ModifyEventConfig (pull: PULL; push: PUSH to ``<api_url>/vod/events`` with the
    SignKey). Shows the current config first and warns before replacing another consumer's URL or mode.
    ``off`` changes nothing. Idempotent: the same call sets the same absolute values.
    """
    if config.events_mode == "off":
        echo("VOD events: off (VODFLOW_EVENTS_MODE); the event config is left as it is")
        return
    from tencentcloud.vod.v20180717 import models as vod_models  # noqa: PLC0415

    vod = account.api("vod.v20180717.vod_client", "VodClient")
    req = vod_models.DescribeEventConfigRequest()
    if config.sub_app_id:
        req.SubAppId = config.sub_app_id
    have = vod.DescribeEventConfig(req)
    mode = "PULL" if config.events_mode == "pull" else "PUSH"
    url = f"{api_url.rstrip('/')}/vod/events" if mode == "PUSH" else ""
    echo(f"VOD events: now Mode={have.Mode} NotificationUrl={have.NotificationUrl or '(none)'}")
    if have.NotificationUrl and have.NotificationUrl != url:
        echo(f"  warning: replaces another consumer's NotificationUrl {have.NotificationUrl}")
    if have.Mode and have.Mode != mode and (have.NotificationUrl or have.Mode == "PULL"):
        echo(f"  warning: replaces Mode {have.Mode} (another consumer may read these events)")
    if have.Mode == mode and (have.NotificationUrl or "") == url and have.UploadMediaCompleteEventSwitch == "ON":
        echo("VOD events: unchanged")  # a second deploy makes no ModifyEventConfig call
        return
    echo(f"VOD events: set Mode={mode}" + (f" NotificationUrl={url}" if url else "") + " NewFileUpload=ON")
    if dry_run:
        return
    mod = vod_models.ModifyEventConfigRequest()
    mod.Mode = mode
    mod.UploadMediaCompleteEventSwitch = "ON"
    if config.sub_app_id:
        mod.SubAppId = config.sub_app_id
    if url:
        mod.NotificationUrl = url
    if config.events_sign_key:
        mod.SignKey = config.events_sign_key  # never echoed
    vod.ModifyEventConfig(mod)


def run_destroy(
    env: Mapping[str, str], *, yes: bool, echo: Callable[[str], None] = print, ask: Callable[[str], str] = input
) -> int:
    from vodflow.pipeline.config import Config, deployment_variables  # noqa: PLC0415

    check = preflight.check_credentials(env)
    if not check.ok:
        echo(f"make destroy: {check.line()}")
        return preflight.EXIT_PREFLIGHT
    config = Config.from_environment(deployment_variables(env))
    account = preflight.Account(env, config.region)
    keys = preflight.check_keys(account)
    if not keys.ok:
        echo(f"make destroy: {keys.line()}")
        return preflight.EXIT_PREFLIGHT
    try:
        app = read_declaration(env)
    except DeployError as exc:
        echo(f"make destroy: {exc}")
        return EXIT_DECLARATION
    scf = scf_client(account)
    removals, kept = destroy_plan(scf, [(f.name, f.namespace) for f in app.functions.values()])
    for line in kept:
        echo(f"keep     {line}")
    if not removals:
        echo("nothing to destroy: no function of this deployment exists.")
        return 0
    echo("destroy (buckets, staged objects and job records stay):")
    for r in removals:
        trig = ", ".join(f"{t.get('Type')} {t.get('TriggerName')}" for t in r.triggers) or "no triggers"
        echo(f"  delete   function {r.function} ({trig})")
    if not yes:
        answer = ask(f"Delete {len(removals)} functions in {config.region}? Type 'yes' to go on: ")
        if answer.strip().lower() != "yes":
            echo("make destroy: not confirmed; nothing was deleted.")
            return EXIT_ABORTED
    destroy(scf, removals, echo)
    echo(f"destroyed {len(removals)} functions; {config.staging_bucket} and its objects are untouched.")
    return 0


# -- the alternative: the serverless components CLI -----------------------------------------------
def prepare(config: Any, out: Path, package_tree: Path) -> Path:
    """``out`` holds serverless.yml (src → ./package), the package and role-policy.json."""
    import re  # noqa: PLC0415

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    yml = YML.read_text()
    rewritten, count = re.subn(r"^(\s+src: )\./functions\s*$", r"\g<1>./package", yml, flags=re.MULTILINE)
    if count != 1:
        raise DeployError("serverless.yml: expected exactly one `src: ./functions` line under inputs.src")
    (out / "serverless.yml").write_text(rewritten)
    shutil.copytree(package_tree, out / "package")
    (out / "role-policy.json").write_text(render_role_policy(config))
    return out


def deploy_command(env: Mapping[str, str]) -> list[str]:
    override = env.get(COMMAND_VAR, "").strip()
    if override:
        return shlex.split(override)
    if not COMPONENTS_BIN.exists():
        install_tooling()
    return [str(COMPONENTS_BIN), "deploy"]


def install_tooling() -> None:
    """``npm ci`` in deploy/: the exact versions of package-lock.json, in deploy/node_modules."""
    npm = shutil.which("npm")
    if npm is None:
        raise DeployError(
            "npm not found. Fix: install Node.js 12 or newer (with npm), or use the default deployer "
            f"(unset {DEPLOYER_VAR})."
        )
    print(f"installing the pinned serverless tooling into {TOOLING.relative_to(ROOT)}/node_modules", flush=True)
    proc = subprocess.run(  # noqa: S603
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=TOOLING, check=False
    )
    if proc.returncode != 0 or not COMPONENTS_BIN.exists():
        raise DeployError("npm ci failed in deploy/ (see above). Fix: check npm's registry access, then retry.")


def command_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What the tooling sees: the caller's environment, the platform switch, every variable with defaults."""
    from vodflow.pipeline.config import deployment_variables  # noqa: PLC0415

    out = dict(env)
    keys = preflight.deployer_keys(env)
    if keys is not None:  # the components CLI reads only the TENCENT_* names
        out.update(TENCENT_SECRET_ID=keys.secret_id, TENCENT_SECRET_KEY=keys.secret_key)
        if keys.token:
            out["TENCENT_TOKEN"] = keys.token
    out.update(deployment_variables(env))
    out["SERVERLESS_PLATFORM_VENDOR"] = "tencent"  # route component projects to the Tencent platform client
    out.pop(COMMAND_VAR, None)
    return out


def run_components(env: Mapping[str, str]) -> int:
    from vodflow.pipeline.config import Config, deployment_variables  # noqa: PLC0415

    print("preflight:", flush=True)
    checks = preflight.run(env, echo=lambda line: print("  " + line, flush=True))
    if not checks or not all(c.ok for c in checks):
        print("make deploy: preflight failed; nothing was deployed.", file=sys.stderr)
        return preflight.EXIT_PREFLIGHT
    config = Config.from_environment(deployment_variables(env))
    try:
        print("package:", flush=True)
        zip_path = packaging.build(ROOT / "build")
        print(f"  {zip_path.relative_to(ROOT)} ({zip_path.stat().st_size / 1e6:.1f} MB)", flush=True)
        out = prepare(config, ROOT / "build" / "deploy", ROOT / "build" / "package")
        print(f"  role policy for {config.region}: {(out / 'role-policy.json').relative_to(ROOT)}", flush=True)
        command = deploy_command(env)
    except (DeployError, subprocess.CalledProcessError) as exc:
        print(f"make deploy: {exc}", file=sys.stderr)
        return 1
    shown = " ".join(shlex.quote(Path(a).name if a == command[0] else a) for a in command)
    print(f"deploy: {shown} (in build/deploy, stage {deployment_variables(env)['VODFLOW_STAGE']})", flush=True)
    proc = subprocess.run(command, cwd=out, env=command_environment(env), check=False)  # noqa: S603
    if proc.returncode != 0:
        print(f"make deploy: the deploy command exited with {proc.returncode}", file=sys.stderr)
        return proc.returncode
    print("deployed. Next: `vodflow jobs --api <the function URL printed above>` with VODFLOW_API_TOKEN set.")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vodflow_ops.deploy", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("deploy", "plan", "destroy"), default="deploy")
    parser.add_argument("--yes", action="store_true", help="destroy: do not ask for confirmation")
    args = parser.parse_args(argv)
    env = dict(os.environ)

    def echo(line: str) -> None:
        print(line, flush=True)

    if args.command == "destroy":
        return run_destroy(env, yes=args.yes, echo=echo)
    deployer = env.get(DEPLOYER_VAR, "scf").strip() or "scf"
    if deployer == "components":
        if args.command == "plan":
            echo(f"make plan: the components deployer has no dry run; unset {DEPLOYER_VAR} for the SCF API deployer.")
            return 2
        return run_components(env)
    if deployer != "scf":
        echo(f"make deploy: {DEPLOYER_VAR}={deployer!r} is not a deployer (scf, components).")
        return 2
    return run_scf(env, dry_run=args.command == "plan", echo=echo)


if __name__ == "__main__":
    sys.exit(main())
