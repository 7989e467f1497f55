"""The benchmark's cloud: the emulator server with a network model and vodflow deployed, in its own process.

``python -m bench.server --info-file F [--bandwidth-mbps X --latency-ms Y]`` serves the emulated cloud on
loopback (the same ``EmulatorServer`` as ``python -m tencent_emulator serve``), deploys the repo's
``serverless.yml`` into it and runs the deployed functions in subprocesses (``run_mode="subprocess"``),
so a function's CPU is its own child process's and not the server's. A second, local-only control
port lets the driver stage an object straight from disk (the ``ObjectCreated`` event fires as for a
PUT, without spending the run's time on an upload), read the process's CPU split into its own
(request serving) and its children's (the functions), read the invocation and request logs, and
empty the buckets between contenders so multi-GiB runs do not fill the disk.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import tempfile
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.server import EmulatorServer, NetworkModel
from vodflow.pipeline.config import deployment_variables

ROOT = Path(__file__).resolve().parents[1]
STAGING_BUCKET = "staging-1250000000"


def parse_vars(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--var expects NAME=VALUE, got {pair!r}")
        out[name] = value
    return out


class _Zeros(io.RawIOBase):
    """``size`` zero bytes as a readable stream (a sparse object for the scaled run: no source file on disk)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self._block = bytes(1 << 20)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self.left, len(self._block))
        b[:n] = self._block[:n]
        self.left -= n
        return n


class Control:
    """What the control port does, on the cloud object of this process."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def cpu(self) -> dict[str, float]:
        """CPU of this process (request serving) and of the functions: ended children (``os.times``) plus the
        warm instances alive now (``/proc``), and what the cold starts among them spent importing."""
        t = os.times()
        pool = self.cloud.scf.workers
        return {
            "self": t.user + t.system,
            "children": t.children_user + t.children_system + pool.live_cpu_s(),
            "import": pool.import_cpu_s,
            "cold_starts": pool.cold_starts,
            "warm_starts": pool.warm_starts,
        }

    def cold(self) -> dict[str, int]:
        """Stop every idle function instance: the next invocations are cold starts."""
        self.cloud.scf.workers.drop()
        return {"idle": self.cloud.scf.workers.idle_count()}

    def idle(self) -> dict[str, int]:
        # The model's own counter: a popped item is counted before its invocation record exists.
        scf = self.cloud.scf
        with scf._cond:
            return {"queued": len(scf._queue), "running": int(scf._running)}

    def log(self, inv_from: int, req_from: int) -> dict[str, Any]:
        invocations = [
            {k: v for k, v in asdict(r).items() if k not in ("event", "result")}
            for r in list(self.cloud.scf.invocations)[inv_from:]
        ]
        requests = [
            {"service": r.service, "action": r.action, "status": r.status, "function": r.function, "bytes": r.bytes_in}
            for r in list(self.cloud.requests)[req_from:]
        ]
        return {"invocations": invocations, "requests": requests}

    def marks(self) -> dict[str, int]:
        return {"inv": len(self.cloud.scf.invocations), "req": len(self.cloud.requests)}

    def stage(self, key: str, path: str, sparse_size: int = 0) -> dict[str, Any]:
        if sparse_size:  # zeros of that size, without a source file of its own (the scaled run)
            zeros = io.BufferedReader(_Zeros(sparse_size), buffer_size=1 << 20)
            info = self.cloud.cos.put_object(STAGING_BUCKET, key, zeros, content_type="video/mp4")
            return {"key": key, "etag": info.etag, "size": info.size}
        with open(path, "rb") as data:
            info = self.cloud.cos.put_object(STAGING_BUCKET, key, data, content_type="video/mp4")
        return {"key": key, "etag": info.etag, "size": info.size}

    def clear(self, keep: str) -> dict[str, int]:
        """Delete every object and open upload (all buckets, VOD's too), except ``keep`` in staging."""
        cos = self.cloud.cos
        removed = 0
        for media in list(self.cloud.vod.all_media()):
            try:
                self.cloud.vod.delete_media(media.file_id)
            except Exception:
                pass
        for bucket in cos.list_buckets():
            for upload in cos.list_multipart_uploads(bucket.name):
                cos.abort_multipart(bucket.name, upload.key, upload.upload_id)
            marker = ""
            while True:
                page = cos.list_objects(bucket.name, marker=marker)
                for obj in page.contents:
                    if bucket.name == STAGING_BUCKET and obj.key == keep:
                        continue
                    removed += bool(cos.delete_object(bucket.name, obj.key))
                if not page.truncated or not page.next_marker:
                    break
                marker = page.next_marker
        return {"removed": removed}


def control_handler(control: Control) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            try:
                if parts.path == "/cpu":
                    self._reply(200, control.cpu())
                elif parts.path == "/idle":
                    self._reply(200, control.idle())
                elif parts.path == "/marks":
                    self._reply(200, control.marks())
                elif parts.path == "/log":
                    self._reply(200, control.log(int(q.get("inv", 0)), int(q.get("req", 0))))
                else:
                    self._reply(404, {"error": parts.path})
            except Exception as exc:
                self._reply(500, {"error": repr(exc)})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            try:
                if parts.path == "/stage":
                    self._reply(200, control.stage(body["key"], body.get("path", ""), int(body.get("sparse", 0))))
                elif parts.path == "/clear":
                    self._reply(200, control.clear(body.get("keep", "")))
                elif parts.path == "/cold":
                    self._reply(200, control.cold())
                else:
                    self._reply(404, {"error": parts.path})
            except Exception as exc:
                self._reply(500, {"error": repr(exc)})

    return Handler


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__)
    parser.add_argument("--info-file", type=Path, required=True, help="endpoint, control URL and keys (mode 0600)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--bandwidth-mbps", type=float, default=0.0, help="per-connection cap in MB/s (0: none)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request in ms")
    parser.add_argument("--account-mbps", type=float, default=0.0, help="account-wide cap in MB/s (0: none)")
    parser.add_argument("--concurrency", type=int, default=8, help="SCF concurrency of the emulated account")
    parser.add_argument("--run-mode", choices=("subprocess", "thread"), default="subprocess")
    parser.add_argument("--var", action="append", default=[], help="deployment variable NAME=VALUE")
    args = parser.parse_args(argv)

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="vodflow-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    cloud = Cloud(data_dir=data_dir, mode="server")
    net = NetworkModel(
        bandwidth=args.bandwidth_mbps * 1_000_000,
        latency=args.latency_ms / 1000,
        account_bandwidth=args.account_mbps * 1_000_000,
    )
    server = EmulatorServer(cloud, port=0, net=net).start()
    cloud.base_url = server.url
    cloud.cos.create_bucket(STAGING_BUCKET)
    cloud.scf.run_mode = args.run_mode
    cloud.scf.concurrency = args.concurrency
    variables = deployment_variables({"VODFLOW_STAGING_BUCKET": STAGING_BUCKET, **parse_vars(args.var)})
    cloud.deploy_app(str(ROOT / "serverless.yml"), variables=variables)
    cloud.scf.start_background(poll_s=0.05)

    control = ThreadingHTTPServer(("127.0.0.1", 0), control_handler(Control(cloud)))
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, name="bench-control", daemon=True).start()

    info = {
        "endpoint": server.url,
        "control": f"http://127.0.0.1:{control.server_address[1]}",
        "app_id": cloud.app_id,
        "region": cloud.region,
        "staging_bucket": STAGING_BUCKET,
        "data_dir": str(data_dir),
        "pid": os.getpid(),
        "variables": {k: v for k, v in variables.items() if "TOKEN" not in k and "SECRET" not in k},
    }
    args.info_file.touch(mode=0o600)
    args.info_file.write_text(json.dumps({**info, "secret_id": cloud.secret_id, "secret_key": cloud.secret_key}))
    print(json.dumps(info), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    control.shutdown()
    server.stop()
    cloud.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
