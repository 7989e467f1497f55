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


def instructions(stack: LocalStack) -> str:
    """The exact commands to use the running stack (the token is a throwaway of this process)."""
    api, endpoint = stack.api_url, stack.endpoint
    return f"""
vodflow local stack is up (Ctrl-C stops it).

  emulated cloud   {endpoint}   (account keys: {stack.cloud.secret_id} / see --keys-file)
  API              {api}
  upload page      {stack.page_url}   (a browser reaches presigned COS URLs through
                   --proxy-server={endpoint}, as for curl -x below)
  staging bucket   {BUCKET} (prefix incoming/)

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
"""


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="make dev", description="the local stack, left running")
    parser.add_argument("--port", type=int, default=0, help="emulator port (0: a free one)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep objects here (default: a temp dir)")
    parser.add_argument("--keys-file", type=Path, default=None, help="write the account's keys here (mode 0600)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    stack = LocalStack(data_dir=args.data_dir, port=args.port).start()
    if args.keys_file:
        import json  # noqa: PLC0415

        args.keys_file.touch(mode=0o600)
        args.keys_file.write_text(
            json.dumps({"secret_id": stack.cloud.secret_id, "secret_key": stack.cloud.secret_key})
        )
    print(instructions(stack), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("stopping", flush=True)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
