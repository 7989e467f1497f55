"""`make dev`: the local stack left running: the emulator server with vodflow deployed, API on a local port.

:class:`LocalStack` is also what `make demo` runs: the emulated cloud served over HTTP on
127.0.0.1, the repo's serverless.yml deployed into it (functions run in threads of this process
and reach the cloud over HTTP through ``VODFLOW_TENCENT_ENDPOINT``), a staging bucket, and the
SDK clients a user would hold. Nothing leaves the machine and no credentials are needed.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "staging-1250000000"
MIB = 1024 * 1024


@dataclass
class LocalStack:
    """The emulator server with the app deployed; ``plan`` overrides the deployment variables."""

    data_dir: Optional[Path] = None
    port: int = 0
    plan: dict[str, str] = field(default_factory=dict)
    token: str = field(default_factory=lambda: "dev-" + secrets.token_urlsafe(18))
    cloud: Any = None
    server: Any = None
    _tmp: Optional[str] = None

    def start(self) -> LocalStack:
        from tencent_emulator.core.cloud import Cloud  # noqa: PLC0415
        from tencent_emulator.core.server import EmulatorServer  # noqa: PLC0415
        from vodflow.pipeline.config import deployment_variables  # noqa: PLC0415

        if self.data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="vodflow-local-")
            self.data_dir = Path(self._tmp)
        self.cloud = Cloud(mode="server", data_dir=self.data_dir)
        self.server = EmulatorServer(self.cloud, port=self.port).start()
        self.cloud.base_url = self.server.url
        self.cloud.cos.create_bucket(BUCKET)
        variables = deployment_variables(
            {"VODFLOW_STAGING_BUCKET": BUCKET, "VODFLOW_API_TOKEN": self.token, **self.plan}
        )
        self.cloud.deploy_app(str(ROOT / "serverless.yml"), variables=variables)
        self.cloud.scf.start_background()
        # The staging bucket's CORS rule for the upload page, as make deploy's preflight sets it.
        from vodflow_ops.preflight import staging_cors_rule  # noqa: PLC0415

        rule = staging_cors_rule(variables["VODFLOW_CORS_ORIGINS"])
        self.cos().put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRule": [rule]})
        return self

    @property
    def endpoint(self) -> str:
        return str(self.server.url)

    @property
    def api_url(self) -> str:
        return str(self.cloud.scf.local_function_url("vodflow-api"))

    @property
    def page_url(self) -> str:
        """The upload page (``/`` of the function URL; the trailing slash matters for the local alias)."""
        return self.api_url + "/"

    def cos(self) -> Any:
        """A cos-python-sdk-v5 client pointed at the server (``CosConfig(IP=, Port=, Scheme="http")``)."""
        from qcloud_cos import CosConfig, CosS3Client  # noqa: PLC0415

        from vodflow.endpoints import Endpoints  # noqa: PLC0415

        kwargs = Endpoints.parse(self.endpoint).cos_config_kwargs()
        conf = CosConfig(
            Region=self.cloud.region, SecretId=self.cloud.secret_id, SecretKey=self.cloud.secret_key, **kwargs
        )
        return CosS3Client(conf)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.cloud is not None:
            self.cloud.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def instructions(stack: LocalStack, keys_file: Optional[Path] = None, log_file: Optional[Path] = None) -> str:
    """The exact commands to use the running stack (the token and keys are throwaways of this process)."""
    api, endpoint = stack.api_url, stack.endpoint
    if keys_file:
        keys = f"in {keys_file} (mode 0600)"
    else:
        keys = f"export TENCENT_SECRET_ID={stack.cloud.secret_id} TENCENT_SECRET_KEY={stack.cloud.secret_key}"
    logs = f"\n  JSON logs        {log_file}" if log_file else ""
    return f"""
vodflow local stack is up (Ctrl-C stops it).

  emulated cloud   {endpoint}
  account keys     {keys}
  API              {api}
  staging bucket   {BUCKET} (prefix incoming/){logs}

Try it, in another terminal:

  export VODFLOW_API_URL={api} VODFLOW_API_TOKEN={stack.token} VODFLOW_TENCENT_ENDPOINT={endpoint}
  curl -s $VODFLOW_API_URL/health
  curl -s -H "Authorization: Bearer $VODFLOW_API_TOKEN" "$VODFLOW_API_URL/jobs?limit=5"
  curl -s -X POST -H "Authorization: Bearer $VODFLOW_API_TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"filename": "clip.mp4", "size": 1000}}' $VODFLOW_API_URL/uploads
  .venv/bin/vodflow stage path/to/video.mp4
  .venv/bin/vodflow jobs

  # VODFLOW_TENCENT_ENDPOINT points the library, the CLI and the SDKs at this cloud; presigned
  # URLs (http://<bucket>.cos...) go through it as a proxy: curl -x {endpoint} -T file "<url>"
  # More buckets, sub-apps, procedures, storage regions: make dev ARGS="--bucket media --procedure P"
  # or POST {endpoint}/_emulator/{{buckets,sub-apps,procedures,storage-regions}} (Bearer <secret key>)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make dev",
        description='the local stack, left running. Options go through ARGS: make dev ARGS="--port 9000"',
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (0: a free one)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep objects here (default: a temp dir)")
    parser.add_argument(
        "--keys-file", type=Path, default=None, help="write the account's keys here (mode 0600) instead of printing"
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=ROOT / "build" / "dev-logs.jsonl",
        help="append the functions' JSON log lines here (default: build/dev-logs.jsonl)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON log lines instead of readable ones")
    parser.add_argument("--bucket", action="append", default=[], metavar="NAME[@REGION]", help="another bucket")
    parser.add_argument("--sub-app", action="append", default=[], metavar="ID[:NAME]", help="a VOD sub-application")
    parser.add_argument(
        "--procedure", action="append", default=[], metavar="NAME[@SUBAPPID]", help="a VOD task-flow procedure"
    )
    parser.add_argument("--storage-region", action="append", default=[], metavar="REGION", help="a VOD storage region")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="VODFLOW_X=VALUE",
        help="a deployment variable (see the configuration table), e.g. --set VODFLOW_MAX_FANOUT=8",
    )
    return parser


def account_setup(stack: LocalStack, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Add what the options ask for through the emulator's admin endpoint (as any client of the server would)."""
    from tencent_emulator.core import admin  # noqa: PLC0415

    specs = [("storage-regions", s) for s in args.storage_region] + [("buckets", s) for s in args.bucket]
    specs += [("sub-apps", s) for s in args.sub_app] + [("procedures", s) for s in args.procedure]
    return [
        admin.post(stack.endpoint, stack.cloud.secret_key, kind, admin.parse_spec(kind, spec)) for kind, spec in specs
    ]


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from vodflow.logs import JsonFormatter, configure_console  # noqa: PLC0415

    plan = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("VODFLOW_"):
            print(f"make dev: --set takes VODFLOW_NAME=VALUE, not {item!r}", file=sys.stderr)
            return 2
        plan[name] = value
    configure_console(sys.stderr, args.log_file)
    if args.json:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setFormatter(JsonFormatter())
    stack = LocalStack(data_dir=args.data_dir, port=args.port, plan=plan).start()
    try:
        account_setup(stack, args)
    except Exception as exc:  # AdminError, or a port taken: say it in one line
        print(f"make dev: {getattr(exc, 'code', type(exc).__name__)}: {exc}", file=sys.stderr)
        stack.stop()
        return 2
    if args.keys_file:
        import json  # noqa: PLC0415

        args.keys_file.touch(mode=0o600)
        args.keys_file.write_text(
            json.dumps({"secret_id": stack.cloud.secret_id, "secret_key": stack.cloud.secret_key})
        )
    print(instructions(stack, args.keys_file, args.log_file), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("stopping", flush=True)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
