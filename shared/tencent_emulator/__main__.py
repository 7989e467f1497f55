"""``python -m tencent_emulator serve --port N [--data-dir D] [--bucket B] [--procedure P]``: the emulated cloud
over HTTP on 127.0.0.1. It prints the endpoint and the account's keys (or writes them to ``--keys-file``)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Optional

from tencent_emulator.core import admin
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.server import EmulatorServer, NetworkModel


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tencent_emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the emulated cloud over HTTP on 127.0.0.1")
    serve.add_argument("--port", type=int, default=9000, help="port of the cloud endpoint (0 picks a free one)")
    serve.add_argument("--data-dir", type=Path, default=None, help="where objects live (default: a temp dir)")
    serve.add_argument("--app-id", default="1250000000")
    serve.add_argument("--region", default="ap-guangzhou")
    serve.add_argument("--bandwidth-mbps", type=float, default=0.0, help="per-connection cap in MB/s (0: none)")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request in ms")
    serve.add_argument(
        "--account-mbps", type=float, default=0.0, help="account-wide cap in MB/s over all connections (0: none)"
    )
    serve.add_argument(
        "--keys-file", type=Path, default=None, help="write the account's keys and URLs here as JSON (mode 0600)"
    )
    serve.add_argument(
        "--bucket",
        action="append",
        default=[],
        metavar="NAME[@REGION]",
        help="create this bucket (the account's -APPID is appended when missing); repeatable",
    )
    serve.add_argument(
        "--sub-app", action="append", default=[], metavar="ID[:NAME]", help="add a VOD sub-application; repeatable"
    )
    serve.add_argument(
        "--procedure",
        action="append",
        default=[],
        metavar="NAME[@SUBAPPID]",
        help="add a VOD task-flow procedure (one Transcode task); repeatable",
    )
    serve.add_argument(
        "--storage-region",
        action="append",
        default=[],
        metavar="REGION",
        help="enable a VOD storage region; repeatable",
    )
    serve.add_argument(
        "--request-log",
        type=Path,
        default=None,
        help="append every request the cloud answers here, one JSON line each (service, action, status, caller)",
    )
    return parser


def banner(cloud: Cloud, endpoint: str, keys_file: Optional[Path]) -> str:
    """What a user needs to point an SDK at this server: the endpoint, the account's keys, what is set up.

    The keys are the emulated account's own (issued by this process, worthless anywhere else); with
    ``--keys-file`` they are written there only.
    """
    setup = admin.account(cloud)
    if keys_file:
        keys = f"  keys: in {keys_file} (secret_id, secret_key; mode 0600)"
    else:
        keys = (
            "  use these keys (this account's, valid only here):\n"
            f"  export TENCENT_SECRET_ID={cloud.secret_id} TENCENT_SECRET_KEY={cloud.secret_key}"
        )
    procedures = sorted({name for names in setup["procedures"].values() for name in names})
    return "\n".join(
        [
            f"tencent_emulator serving account {cloud.app_id} ({cloud.region}) on {endpoint}",
            keys,
            f"  export VODFLOW_TENCENT_ENDPOINT={endpoint}",
            f"  buckets: {', '.join(setup['buckets']) or '-'}; procedures: {', '.join(procedures) or '-'}; "
            f"sub-apps: {', '.join(str(a) for a in setup['sub_apps'])}; "
            f"storage regions: {', '.join(setup['storage_regions'])}",
            f"  add more: POST {endpoint}/_emulator/{{buckets,sub-apps,procedures,storage-regions}} "
            "(Authorization: Bearer <secret key>); Ctrl-C stops",
        ]
    )


def serve(args: argparse.Namespace, ready: Optional[threading.Event] = None) -> int:
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tencent-emulator-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    cloud = Cloud(app_id=args.app_id, region=args.region, data_dir=data_dir, mode="server")
    cloud.request_log = args.request_log
    net = NetworkModel(
        bandwidth=args.bandwidth_mbps * 1_000_000,
        latency=args.latency_ms / 1000,
        account_bandwidth=args.account_mbps * 1_000_000,
    )
    server = EmulatorServer(cloud, port=args.port, net=net).start()
    cloud.base_url = server.url
    starter = getattr(cloud.scf, "start_background", None) if hasattr(cloud, "scf") else None
    if callable(starter):
        starter()
    specs = [("buckets", admin.parse_spec("buckets", spec)) for spec in args.bucket]
    specs += [("sub-apps", admin.parse_spec("sub-apps", spec)) for spec in args.sub_app]
    specs += [("procedures", admin.parse_spec("procedures", spec)) for spec in args.procedure]
    specs += [("storage-regions", admin.parse_spec("storage-regions", spec)) for spec in args.storage_region]
    try:
        admin.setup(cloud, specs)
    except admin.AdminError as exc:
        server.stop()
        cloud.close()
        print(f"tencent_emulator: {exc.code}: {exc}", file=sys.stderr)
        return 2
    info = {"endpoint": server.url, "app_id": cloud.app_id, "region": cloud.region, "data_dir": str(data_dir)}
    if args.keys_file:
        args.keys_file.touch(mode=0o600)
        args.keys_file.write_text(json.dumps({**info, "secret_id": cloud.secret_id, "secret_key": cloud.secret_key}))
    print(json.dumps(info), flush=True)  # the first line stays one JSON object, for scripts
    print(banner(cloud, server.url, args.keys_file), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if ready is not None:
        ready.set()
    stop.wait()
    server.stop()
    cloud.close()
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
