"""The HTTP front: the same Cloud over a socket on loopback, for ``make demo``, the CLI and benchmarks.

Requests are routed by their Host header, so clients reach it three ways: as an HTTP proxy
(``HTTP_PROXY=http://127.0.0.1:PORT`` with ``http://`` URLs; the request line carries the absolute
URL), with COS's ``CosConfig(IP=..., Port=..., Scheme="http")`` (Host stays the bucket's), or with
tencentcloud's ``HttpProfile(endpoint="127.0.0.1:PORT", protocol="http")`` (routed by the
Authorization header's credential scope).

A network model makes loopback look like a cloud link: a bandwidth cap per connection, an optional
bandwidth cap for the whole account (every connection's bytes, both directions, share it, as COS's
per-account, per-region cap does) and a latency per request, all off by default.
"""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, Optional
from urllib.parse import urlsplit

from tencent_emulator.core import admin
from tencent_emulator.core.cloud import Cloud
from tencent_emulator.core.faults import FunctionKilled
from tencent_emulator.core.http import ClientTimeout, DropConnection, Headers, Request

CHUNK = 256 * 1024


@dataclass
class NetworkModel:
    """``bandwidth`` in bytes per second per connection (0 = unlimited); ``account_bandwidth`` in bytes per
    second for all connections together (0 = unlimited); ``latency`` in seconds per request.

    The account cap is a leaky bucket without credit: each paced chunk reserves its transfer time on one
    account-wide timeline (``max(now, end of the last reservation) + nbytes / account_bandwidth``) and
    waits for the later of its connection's due time and its reservation's end. Idle time earns no burst.
    """

    bandwidth: float = 0.0
    latency: float = 0.0
    account_bandwidth: float = 0.0
    _account_free: float = field(default=0.0, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def pace(self, nbytes: int, started: float, sent_before: int) -> None:
        """Sleep so that ``sent_before + nbytes`` bytes take at least their time at ``bandwidth``, and the
        account's bytes at least theirs at ``account_bandwidth``."""
        due = started + (sent_before + nbytes) / self.bandwidth if self.bandwidth > 0 else 0.0
        if self.account_bandwidth > 0:
            with self._lock:
                now = time.monotonic()
                self._account_free = max(self._account_free, now) + nbytes / self.account_bandwidth
                due = max(due, self._account_free)
        if not due:
            return
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class _LimitedReader(io.RawIOBase):
    """Reads exactly ``length`` bytes of a request body, paced by the network model."""

    def __init__(self, raw: BinaryIO, length: int, net: NetworkModel) -> None:
        self.raw = raw
        self.left = length
        self.net = net
        self.started = time.monotonic()
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.left <= 0:
            return 0
        n = min(len(b), self.left, CHUNK)
        data = self.raw.read(n)
        if not data:
            raise DropConnection("client closed the connection mid-body")
        b[: len(data)] = data
        self.left -= len(data)
        self.net.pace(len(data), self.started, self.done)
        self.done += len(data)
        return len(data)


class _ChunkedReader(io.RawIOBase):
    """Decodes a ``Transfer-Encoding: chunked`` request body."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.left = 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.eof:
            return 0
        if self.left == 0:
            line = self.raw.readline().strip()
            size = int(line.split(b";")[0] or b"0", 16)
            if size == 0:
                while self.raw.readline().strip():
                    pass
                self.eof = True
                return 0
            self.left = size
        n = min(len(b), self.left)
        data = self.raw.read(n)
        b[: len(data)] = data
        self.left -= len(data)
        if self.left == 0:
            self.raw.readline()
        return len(data)


def _quickack(sock: Any) -> None:
    option = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere delayed ACKs stay as they are
    if option is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, option, 1)
    except OSError:  # the client went away
        pass


def make_handler(cloud: Cloud, net: NetworkModel, forced_host: Optional[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall
        server_version = "tencent-cos"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            return

        def handle_one_request(self) -> None:
            # ACK every segment at once (Linux: quickack mode, which the kernel leaves again by itself, so it is
            # set again for every request). A client that sends headers and body in two writes without
            # TCP_NODELAY (urllib3 sets it on direct connections but not on proxy connections, and functions
            # reach the emulator as their HTTP proxy) otherwise waits for our delayed ACK: ~40 ms per PUT,
            # which a direct connection to COS does not pay.
            _quickack(self.connection)
            super().handle_one_request()
            _quickack(self.connection)

        def _handle(self) -> None:
            if net.latency:
                time.sleep(net.latency)
            target = self.path
            if target.startswith(("http://", "https://")):
                parts = urlsplit(target)
                url = target
                host_hdr = self.headers.get("Host") or parts.netloc
            else:
                host_hdr = forced_host or self.headers.get("Host") or "127.0.0.1"
                url = f"http://{host_hdr}{target}"
            headers = [(k, v) for k, v in self.headers.items() if k.lower() != "host"] + [("Host", host_hdr)]
            length = self.headers.get("Content-Length")
            body: BinaryIO
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = io.BufferedReader(_ChunkedReader(self.rfile))  # type: ignore[arg-type]
            else:
                body = io.BufferedReader(
                    _LimitedReader(self.rfile, int(length) if length and length.isdigit() else 0, net),  # type: ignore[arg-type]
                    buffer_size=CHUNK,
                )
            req = Request.from_url(self.command, url, headers, body, client=self.client_address[0])
            req.headers = Headers(headers)
            try:
                resp = admin.handle(cloud, req) if admin.is_admin(req) else cloud.dispatch(req)
            except (DropConnection, ClientTimeout, FunctionKilled):
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            # Drain whatever the front did not read, so the connection stays usable.
            while body.read(CHUNK):
                pass
            hdrs = {k: v for k, v in resp.headers.items()}
            # The front's own Server/Date (COS sends "Server: tencent-cos") replace the defaults, not repeat them.
            self.log_request(resp.status)
            self.send_response_only(resp.status)
            names = {k.lower() for k in hdrs}
            if "server" not in names:
                self.send_header("Server", self.version_string())
            if "date" not in names:
                self.send_header("Date", self.date_time_string())
            if self.close_connection and "connection" not in names:  # the client asked with "Connection: close"
                self.send_header("Connection", "close")
            chunks: Any
            if isinstance(resp.body, bytes):
                chunks = [resp.body] if resp.body else []
                hdrs.setdefault("Content-Length", str(len(resp.body)))
            else:
                chunks = resp.body
                if "Content-Length" not in hdrs:
                    hdrs["Transfer-Encoding"] = "chunked"
            for k, v in hdrs.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command == "HEAD":
                return
            chunked = hdrs.get("Transfer-Encoding") == "chunked"
            started, sent = time.monotonic(), 0
            for chunk in chunks:
                for i in range(0, len(chunk), CHUNK):
                    piece = chunk[i : i + CHUNK]
                    if chunked:
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    else:
                        self.wfile.write(piece)
                    net.pace(len(piece), started, sent)
                    sent += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _handle

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that went away (reset, broken pipe, timeout) is no error of the server: no traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class EmulatorServer:
    """Serve a Cloud on 127.0.0.1. ``port=0`` picks a free port; ``url`` tells which."""

    def __init__(
        self, cloud: Cloud, port: int = 0, net: Optional[NetworkModel] = None, forced_host: Optional[str] = None
    ) -> None:
        self.cloud = cloud
        self.net = net or NetworkModel()
        ThreadingHTTPServer.daemon_threads = True
        self.httpd = _QuietServer(("127.0.0.1", port), make_handler(cloud, self.net, forced_host))
        self.thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmulatorServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="tencent-emulator", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
