"""`make deploy`: preflight, package, then the pinned serverless tooling deploys serverless.yml.

Order matters: the preflight runs first (nothing is installed or uploaded for an account that
cannot run vodflow); then ``make package``'s build; then ``build/deploy/`` is prepared: a copy of
serverless.yml whose code ``src`` is the built package (the committed file points at
``./functions`` so the emulator runs the working tree) and the role policy rendered for this
bucket and region. The deploy command runs there with ``SERVERLESS_PLATFORM_VENDOR=tencent``,
the deployer's TENCENT_* keys and every ``${env:...}`` filled with its default.

The command is ``deploy/node_modules/.bin/components deploy`` (``@serverless/components``
3.18.2 pinned in deploy/package.json + lock, installed with ``npm ci`` into deploy/node_modules,
never globally). ``VODFLOW_DEPLOY_COMMAND`` replaces it (split like a shell would, never run
through one): tests point it at a recorder, and CI can point it at a wrapper.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from vodflow import packaging, preflight
from vodflow.pipeline.config import Config, deployment_variables

ROOT = Path(__file__).resolve().parents[2]
TOOLING = ROOT / "deploy"
COMPONENTS_BIN = TOOLING / "node_modules" / ".bin" / "components"
COMMAND_VAR = "VODFLOW_DEPLOY_COMMAND"
SRC_LINE = re.compile(r"^(\s+src: )\./functions\s*$", re.MULTILINE)
PASS_THROUGH = ("TENCENT_SECRET_ID", "TENCENT_SECRET_KEY", "TENCENT_TOKEN", "TENCENT_APP_ID")


class DeployError(Exception):
    """A step failed; the message says which and how to fix it."""


def render_role_policy(config: Config, policy: Path = preflight.ROLE_POLICY) -> str:
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


def prepare(config: Config, out: Path, package_tree: Path) -> Path:
    """``out`` holds serverless.yml (src → ./package), the package and role-policy.json."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    yml = (ROOT / "serverless.yml").read_text()
    rewritten, count = SRC_LINE.subn(r"\g<1>./package", yml)
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
            "npm not found. Fix: install Node.js 12 or newer (with npm); make deploy installs the pinned "
            "@serverless/components into deploy/node_modules, never globally."
        )
    print(f"installing the pinned serverless tooling into {TOOLING.relative_to(ROOT)}/node_modules", flush=True)
    proc = subprocess.run(  # noqa: S603
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=TOOLING, check=False
    )
    if proc.returncode != 0 or not COMPONENTS_BIN.exists():
        raise DeployError("npm ci failed in deploy/ (see above). Fix: check npm's registry access, then retry.")


def command_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What the tooling sees: the caller's environment, the platform switch, every variable with defaults."""
    out = dict(env)
    out.update(deployment_variables(env))
    out["SERVERLESS_PLATFORM_VENDOR"] = "tencent"  # route component projects to the Tencent platform client
    out.pop(COMMAND_VAR, None)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    env = dict(os.environ)
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
    print("deployed. Next: `vodflow jobs --api <the API Gateway URL printed above>` with VODFLOW_API_TOKEN set.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
