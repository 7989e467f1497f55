"""The ``vodflow`` command line: upload directly, stage through the API, follow jobs, plan large copies.

Credentials never come from flags (flags show in ``ps``): the cloud keys come from the
environment (TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY / TENCENTCLOUD_SESSIONTOKEN, or
TENCENT_SECRET_ID / TENCENT_SECRET_KEY / TENCENT_TOKEN) or a profile in ``~/.vodflow/credentials``;
the API's bearer token from VODFLOW_API_TOKEN.

Exit codes: 0 done; 1 the service refused or the job failed; 2 usage error; 3 credentials or
configuration missing; 4 the API or the cloud could not be reached.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Optional

import click
import requests
from tqdm import tqdm

from vodflow import __version__
from vodflow.credentials import Credentials
from vodflow.errors import VodClientException
from vodflow.planner import GiB, KiB, MiB, PlanConfig, plan_upload

EXIT_FAILED, EXIT_CONFIG, EXIT_UNREACHABLE = 1, 3, 4
SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)?\s*$", re.IGNORECASE)
UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": KiB,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": MiB,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": GiB,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
    "p": 1000**5,
    "pb": 1000**5,
    "pib": 1024**5,
}


class CliError(click.ClickException):
    """A failure with one of the documented exit codes (``code`` picks the subclass)."""

    def __new__(cls, message: str, code: int = EXIT_FAILED) -> CliError:
        kind = {EXIT_CONFIG: _ConfigError, EXIT_UNREACHABLE: _UnreachableError}.get(code, _FailedError)
        return super().__new__(kind)

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)

    def show(self, file: Any = None) -> None:
        """With ``--json`` the error is JSON too (on stderr): ``{"error": {"message", "exit_code"}}``."""
        if "--json" in sys.argv[1:]:
            error = {"message": self.format_message(), "exit_code": self.exit_code}
            click.echo(json.dumps({"error": error}), file=file, err=file is None)
            return
        super().show(file)


class _FailedError(CliError):
    exit_code = EXIT_FAILED


class _ConfigError(CliError):
    exit_code = EXIT_CONFIG


class _UnreachableError(CliError):
    exit_code = EXIT_UNREACHABLE


def parse_size(text: str) -> int:
    m = SIZE_RE.match(text)
    if not m or (m.group(2) or "").lower() not in UNITS:
        raise click.BadParameter(f"{text!r} is not a size like 1GiB, 100GB or 5368709120")
    return int(float(m.group(1)) * UNITS[(m.group(2) or "").lower()])


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def emit(data: Any, as_json: bool, text: Callable[[], str]) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text())


def load_credentials(profile: Optional[str]) -> Credentials:
    env = os.environ
    pairs = [
        ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"),
        ("TENCENT_SECRET_ID", "TENCENT_SECRET_KEY", "TENCENT_TOKEN"),
    ]
    if not profile:
        for sid, skey, tok in pairs:
            if env.get(sid) and env.get(skey):
                return Credentials(env[sid], env[skey], env.get(tok) or None)
    path = Path(env.get("VODFLOW_CREDENTIALS_FILE", Path.home() / ".vodflow" / "credentials"))
    name = profile or env.get("VODFLOW_PROFILE", "default")
    parser = configparser.ConfigParser()
    if path.is_file():
        parser.read(path)
    section: dict[str, str] = dict(parser[name]) if parser.has_section(name) else {}
    if section.get("secret_id") and section.get("secret_key"):
        return Credentials(section["secret_id"], section["secret_key"], section.get("token") or None)
    raise CliError(
        "no credentials: set TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY (and TENCENTCLOUD_SESSIONTOKEN for "
        f"temporary keys), or write a [{name}] section with secret_id and secret_key to {path}",
        EXIT_CONFIG,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vodflow")
def main() -> None:
    """Get video into Tencent Cloud VOD: upload directly, stage through the API, follow jobs, plan large copies."""


def _vod_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(
        [
            click.option("--procedure", help="task-flow template applied after upload"),
            click.option("--sub-app-id", type=int, help="VOD sub-application id"),
            click.option("--class-id", type=int, help="VOD category id"),
            click.option("--media-name", help="media name (default: the file name without extension)"),
            click.option("--expire-time", help="ISO 8601 expiry, e.g. 2030-01-01T00:00:00Z"),
            click.option("--storage-region", help="VOD storage region"),
            click.option("--source-context", help="up to 250 characters echoed in VOD callbacks"),
            click.option("--json", "as_json", is_flag=True, help="machine-readable output"),
        ]
    ):
        f = opt(f)
    return f


OPTION_FIELDS = {
    "procedure": "Procedure",
    "sub_app_id": "SubAppId",
    "class_id": "ClassId",
    "media_name": "MediaName",
    "expire_time": "ExpireTime",
    "storage_region": "StorageRegion",
    "source_context": "SourceContext",
}


class _Bar:
    """A tqdm bar on stderr fed by (done, total) callbacks; silent with --json."""

    def __init__(self, desc: str, enabled: bool) -> None:
        self.bar: Optional[tqdm[Any]] = None
        self.desc = desc
        self.enabled = enabled

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                desc=self.desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                mininterval=0.2,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--cover", type=click.Path(exists=True, dir_okay=False), help="cover image")
@click.option("--region", default=lambda: os.environ.get("VODFLOW_REGION", "ap-guangzhou"), show_default="ap-guangzhou")
@click.option("--concurrency", type=int, default=None, help="parts uploaded in parallel")
@click.option("--profile", default=None, help="profile in ~/.vodflow/credentials")
@_vod_options
def upload(
    file: str,
    cover: Optional[str],
    region: str,
    concurrency: Optional[int],
    profile: Optional[str],
    as_json: bool,
    **options: Any,
) -> None:
    """Upload FILE to VOD directly (like the SDK), with a progress bar; prints FileId and MediaUrl."""
    from vodflow.model import VodUploadRequest  # noqa: PLC0415  (keeps `vodflow --help` fast)
    from vodflow.vod_upload_client import VodUploadClient  # noqa: PLC0415

    creds = load_credentials(profile)
    client = VodUploadClient(creds.secret_id, creds.secret_key, creds.token)
    request = VodUploadRequest()
    request.MediaFilePath = file
    if cover:
        request.CoverFilePath = cover
    if concurrency:
        request.ConcurrentUploadNumber = concurrency
    for name, fname in OPTION_FIELDS.items():
        if options.get(name) is not None:
            setattr(request, fname, options[name])
    bar = _Bar(Path(file).name, not as_json)
    try:
        response = client.upload(region, request, progress_callback=bar)
    except VodClientException as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    except requests.ConnectionError as exc:
        raise CliError(f"could not reach Tencent Cloud: {exc}", EXIT_UNREACHABLE) from None
    finally:
        bar.close()
    data = {
        "file_id": response.FileId,
        "media_url": response.MediaUrl,
        "cover_url": response.CoverUrl,
        "request_id": response.RequestId,
    }
    emit(
        data,
        as_json,
        lambda: (
            f"FileId   {data['file_id']}\nMediaUrl {data['media_url']}"
            + (f"\nCoverUrl {data['cover_url']}" if data["cover_url"] else "")
        ),
    )


class ApiClient:
    """The deployed API: base URL from --api or VODFLOW_API_URL, bearer token from VODFLOW_API_TOKEN."""

    def __init__(self, base: Optional[str]) -> None:
        base = base or os.environ.get("VODFLOW_API_URL")
        if not base:
            raise CliError("no API URL: pass --api or set VODFLOW_API_URL", EXIT_CONFIG)
        token = os.environ.get("VODFLOW_API_TOKEN")
        if not token:
            raise CliError("no API token: set VODFLOW_API_TOKEN (never passed as a flag)", EXIT_CONFIG)
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.session.request(method, self.base + path, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise CliError(f"could not reach the API at {self.base}: {type(exc).__name__}", EXIT_UNREACHABLE) from None
        try:
            body = resp.json()
        except ValueError:
            body = {"code": f"HTTP{resp.status_code}", "message": resp.text[:200]}
        if resp.status_code >= 400:
            code = EXIT_CONFIG if resp.status_code == 401 else EXIT_FAILED
            raise CliError(f"[{body.get('code')}] {body.get('message')} (HTTP {resp.status_code})", code)
        return body


STAGE_CONCURRENCY = 4  # parts in flight at once: enough to fill a link, few enough for a laptop
STAGE_TRIES = 6  # attempts of one part (or PUT, or Complete) on a lost connection or a 5xx
CHUNK = 1024 * 1024  # a part is streamed from the file in chunks of this size, never read whole


def _emulator_proxy() -> Optional[dict[str, str]]:
    """Against the local emulator (``VODFLOW_TENCENT_ENDPOINT``), presigned URLs go through it as a proxy."""
    endpoint = os.environ.get("VODFLOW_TENCENT_ENDPOINT")
    return {"http": endpoint} if endpoint else None


class _Sized:
    """A streamed body with a known length (so requests sends Content-Length, as COS requires)."""

    def __init__(self, it: Any, length: int) -> None:
        self.it, self.length = it, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Any:
        return iter(self.it)


# -- resumable staging: the upload session protocol of POST/GET /uploads -----------------------------
def _uploads_dir() -> Path:
    """``~/.vodflow/uploads``: one ``<upload id>.json`` per unfinished ``vodflow stage`` (no secrets in it)."""
    return Path.home() / ".vodflow" / "uploads"


def _fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _save_stage_state(upload_id: str, api: ApiClient, path: Path, cover: Optional[Path]) -> Path:
    folder = _uploads_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {
        "upload_id": upload_id,
        "api": api.base,
        "file": _fingerprint(path),
        "cover": _fingerprint(cover) if cover else None,
        "created": time.time(),
    }
    target = folder / f"{upload_id}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.chmod(0o600)
    tmp.replace(target)
    return target


def _find_stage_state(api: ApiClient, path: Path) -> Optional[dict[str, Any]]:
    """The newest unfinished stage of this very file (same path, size and mtime) on this API, if any."""
    folder = _uploads_dir()
    if not folder.is_dir():
        return None
    mine = _fingerprint(path)
    found: list[dict[str, Any]] = []
    for item in folder.glob("*.json"):
        try:
            doc = json.loads(item.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("api") == api.base and doc.get("file") == mine:
            found.append(doc)
    return max(found, key=lambda d: float(d.get("created") or 0)) if found else None


def _drop_stage_state(upload_id: str) -> None:
    (_uploads_dir() / f"{upload_id}.json").unlink(missing_ok=True)


class _Stopped(Exception):
    """The upload was interrupted (Ctrl-C, or another part failed for good): stop sending."""


class _CosRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message} (HTTP {status})")
        self.status, self.code, self.message = status, code, message

    @property
    def expired(self) -> bool:
        return self.code == "ExpiredToken" or "expired" in self.message.lower()

    @property
    def transient(self) -> bool:
        return self.status >= 500 or self.status in (408, 429)


def _cos_error(resp: requests.Response) -> Optional[_CosRefused]:
    """None for a success; COS's error (code and message from its XML body) otherwise."""
    text = resp.text if resp.status_code != 200 or b"<Error>" in resp.content[:4096] else ""
    if resp.status_code == 200 and not text:
        return None
    code = re.search(r"<Code>(.*?)</Code>", text)
    message = re.search(r"<Message>(.*?)</Message>", text)
    return _CosRefused(
        resp.status_code, code.group(1) if code else f"HTTP{resp.status_code}", message.group(1) if message else ""
    )


class _StagedFile:
    """One file of the session as this run sends it: its local path and the URLs the API signed."""

    def __init__(self, name: str, path: Path, entry: dict[str, Any]) -> None:
        self.name, self.path, self.key, self.size = name, path, str(entry["key"]), int(entry["size"])
        self.entry = entry
        self.urls: dict[int, str] = {}
        self.etags: dict[int, str] = {}
        self.take(entry)

    def take(self, entry: dict[str, Any]) -> None:
        """Fresh URLs (and the parts COS already has) from a POST or GET /uploads reply."""
        self.entry = entry
        self.urls.update({int(p["number"]): str(p["url"]) for p in entry.get("parts") or ()})
        self.etags.update({int(p["number"]): str(p["etag"]) for p in entry.get("parts_uploaded") or ()})


class _Stager:
    """Sends a session's files through their presigned URLs: parts in parallel, each streamed from the file.

    Safe to run again on the same upload: GET /uploads/{id} says which parts COS has; only the others
    are sent. An expired URL is replaced by a fresh one (GET again); a lost connection or a 5xx is
    retried with backoff; anything else stops the run with the upload left to resume.
    """

    def __init__(self, api: ApiClient, upload_id: str, bar: _Bar, total: int, concurrency: int) -> None:
        self.api, self.upload_id, self.bar, self.total = api, upload_id, bar, total
        self.concurrency = max(1, concurrency)
        self.sent = 0
        self.lock = threading.Lock()
        self.refreshing = threading.Lock()
        self.stop = threading.Event()
        self.local = threading.local()
        self.proxies = _emulator_proxy()

    def status(self) -> dict[str, Any]:
        return dict(self.api.call("GET", f"/uploads/{self.upload_id}"))

    @staticmethod
    def entry(status: dict[str, Any], key: str) -> dict[str, Any]:
        for e in status.get("files") or [status]:
            if e.get("key") == key:
                return dict(e)
        raise CliError(f"upload {status.get('upload_id')} has no file {key}", EXIT_FAILED)

    def add(self, n: int) -> None:
        with self.lock:
            self.sent += n
            self.bar(self.sent, self.total)

    def http(self) -> requests.Session:
        session: Optional[requests.Session] = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            if self.proxies:
                session.proxies.update(self.proxies)
        return session

    def send(self, method: str, url: str, body: Any, length: int, headers: dict[str, str]) -> requests.Response:
        return self.http().request(method, url, data=_Sized(body, length), headers=headers, timeout=300)

    def stream(self, f: _StagedFile, offset: int, length: int, counted: list[int]) -> Any:
        with f.path.open("rb") as fh:
            fh.seek(offset)
            left = length
            while left > 0:
                if self.stop.is_set():
                    raise _Stopped()
                data = fh.read(min(CHUNK, left))
                if not data:
                    raise CliError(f"{f.path} changed while being sent (shorter than {f.size} bytes)", EXIT_FAILED)
                left -= len(data)
                counted[0] += len(data)
                self.add(len(data))
                yield data

    def refresh(self, f: _StagedFile, stale: Optional[str]) -> None:
        """Fresh URLs for what is missing (one GET for however many threads found theirs expired)."""
        with self.refreshing:
            if stale is not None and stale not in (*f.urls.values(), f.entry.get("url"), f.entry.get("complete_url")):
                return  # another thread already refreshed
            f.take(self.entry(self.status(), f.key))

    def attempt(self, f: _StagedFile, what: str, once: Callable[[], Optional[str]], url: Callable[[], str]) -> str:
        """Run ``once`` (one request, returns an ETag) until it succeeds, refreshing or backing off as needed."""
        last = ""
        for n in range(STAGE_TRIES):
            if self.stop.is_set():
                raise _Stopped()
            used = url()
            try:
                etag = once()
                if etag is not None:
                    return etag
                last = "no ETag in the reply"
            except _CosRefused as exc:
                if exc.expired:
                    self.refresh(f, used)
                    continue
                if not exc.transient:
                    raise CliError(f"{what} of {f.name} refused by COS: {exc}", EXIT_FAILED) from None
                last = str(exc)
            except requests.RequestException as exc:
                if self.stop.is_set():
                    raise _Stopped() from None
                last = type(exc).__name__
            time.sleep(min(8.0, 0.5 * 2**n))
        raise CliError(f"{what} of {f.name} failed {STAGE_TRIES} times ({last})", EXIT_UNREACHABLE)

    def put_range(self, f: _StagedFile, offset: int, length: int, url: str, headers: dict[str, str]) -> Optional[str]:
        counted = [0]
        try:
            resp = self.send("PUT", url, self.stream(f, offset, length, counted), length, headers)
            error = _cos_error(resp)
        except BaseException:
            self.add(-counted[0])
            raise
        if error is not None:
            self.add(-counted[0])
            raise error
        return str(resp.headers.get("ETag", "")).strip('"') or None

    def part(self, f: _StagedFile, number: int) -> None:
        part_size = int(f.entry["part_size"])
        offset = (number - 1) * part_size
        length = min(part_size, f.size - offset)

        def url() -> str:
            return f.urls[number]

        etag = self.attempt(f, f"part {number}", lambda: self.put_range(f, offset, length, url(), {}), url)
        with self.lock:
            f.etags[number] = etag

    def parallel(self, f: _StagedFile, numbers: list[int]) -> None:
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(numbers)), thread_name_prefix="part")
        futures = [pool.submit(self.part, f, n) for n in numbers]
        try:
            for fut in as_completed(futures):
                fut.result()
        except BaseException:
            self.stop.set()  # the other parts stop within a chunk; what COS has stays for --resume
            raise
        finally:
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)

    def complete(self, f: _StagedFile) -> None:
        parts = sorted(f.etags.items())
        body = (
            "<CompleteMultipartUpload>"
            + "".join(f'<Part><PartNumber>{n}</PartNumber><ETag>"{e.strip(chr(34))}"</ETag></Part>' for n, e in parts)
            + "</CompleteMultipartUpload>"
        ).encode()

        def once() -> Optional[str]:
            resp = self.http().post(
                str(f.entry["complete_url"]), data=body, headers={"Content-Type": "application/xml"}, timeout=300
            )
            error = _cos_error(resp)
            if error is not None and error.code == "NoSuchUpload":
                entry = self.entry(self.status(), f.key)  # a retried Complete that had succeeded
                if entry.get("state") == "staged":
                    return str(entry.get("etag", ""))
            if error is not None:
                raise error
            return "completed"

        self.attempt(f, "completing the upload", once, lambda: str(f.entry["complete_url"]))

    def upload(self, f: _StagedFile) -> None:
        """One file: staged already, one PUT, or its missing parts in parallel then Complete."""
        state = f.entry.get("state", "pending")
        if state == "staged":
            self.add(f.size)
            return
        if state != "pending":
            raise CliError(f"upload {self.upload_id} is {state}: start a new one (without --resume)", EXIT_FAILED)
        if f.entry["mode"] == "put":
            self.attempt(
                f,
                "the upload",
                lambda: self.put_range(f, 0, f.size, str(f.entry["url"]), dict(f.entry.get("headers") or {})),
                lambda: str(f.entry["url"]),
            )
            return
        total = int(f.entry["parts_total"])
        part_size = int(f.entry["part_size"])
        self.add(sum(min(part_size, f.size - (n - 1) * part_size) for n in f.etags))
        while len(f.etags) < total:
            missing = [n for n in range(1, total + 1) if n not in f.etags]
            if not any(n in f.urls for n in missing):
                self.refresh(f, None)  # past the URLs of the last reply (it signs up to 1000 at a time)
            batch = [n for n in missing if n in f.urls]
            if not batch:
                raise CliError(f"the API signed no URL for the {len(missing)} missing parts of {f.name}", EXIT_FAILED)
            self.parallel(f, batch)
        self.complete(f)


# The states a follow stops at: committed (the FileId), or processed (VOD's task flow followed too).
ENDS = {
    "committed": ("committed", "failed", "processing", "processed", "processing_failed"),
    "processed": ("processed", "processing_failed", "failed"),
}


def _follow(api: ApiClient, job_id: str, as_json: bool, timeout_s: float, until: str = "committed") -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    bar = _Bar("ingest", not as_json)
    try:
        while True:
            try:
                job = api.call("GET", f"/jobs/{job_id}")
            except CliError as exc:
                if "ResourceNotFound" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
                continue
            if job.get("bytes_total"):
                bar(int(job.get("bytes_done") or 0), int(job["bytes_total"]))
            if job["state"] in ENDS[until] or time.monotonic() > deadline:
                return dict(job)
            if job["state"] == "committed" and not job.get("procedure"):
                return dict(job)  # no Procedure: committed is the last state
            time.sleep(0.5)
    finally:
        bar.close()


def _job_text(job: dict[str, Any]) -> str:
    lines = [
        f"job      {job['id']}",
        f"state    {job['state']}",
        f"progress {job['parts_done']}/{job['parts_total']} parts, {human(job['bytes_done'])} of "
        f"{human(job['bytes_total'])}",
    ]
    if job.get("file_id"):
        lines += [f"FileId   {job['file_id']}", f"MediaUrl {job['media_url']}"]
    for t in (job.get("results") or {}).get("transcodes") or []:
        lines.append(f"output   {t.get('definition')} {t.get('width')}x{t.get('height')} {t.get('url')}")
    if job.get("error"):
        task = f"{job['error']['task']}: " if job["error"].get("task") else ""
        lines.append(f"error    {task}[{job['error']['code']}] {job['error']['message']}")
    return "\n".join(lines)


def _exit_for(job: dict[str, Any]) -> None:
    if job["state"] in ("failed", "processing_failed"):
        sys.exit(EXIT_FAILED)


def _session_files(status: dict[str, Any], path: Path, cover: Optional[Path]) -> list[_StagedFile]:
    """The session's files (the cover first, the video last: its arrival starts the job) with their local paths."""
    entries = status.get("files") or [{**status, "role": "video", "name": path.name}]
    out = []
    for entry in entries:
        role, state = entry.get("role"), entry.get("state", "pending")
        local = {"video": path, "cover": cover}.get(str(role))
        if role not in ("video", "cover"):
            raise CliError(
                f"upload {status['upload_id']} is a package folder: resume it on the upload page", EXIT_FAILED
            )
        if state == "pending" and local is None:
            raise CliError(f"upload {status['upload_id']} still needs its cover {entry.get('name')}: pass --cover")
        if state == "pending" and local is not None and local.stat().st_size != int(entry["size"]):
            raise CliError(
                f"{local} is {local.stat().st_size} bytes; upload {status['upload_id']} expects "
                f"{entry.get('name')} of {entry['size']} bytes",
                EXIT_FAILED,
            )
        out.append(_StagedFile(str(entry.get("name") or path.name), local or path, entry))
    return out


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--api", "api_url", default=None, help="API base URL (default: $VODFLOW_API_URL)")
@click.option(
    "--cover", "cover_file", type=click.Path(exists=True, dir_okay=False), help="cover image, staged with FILE"
)
@click.option("--cover-key", default=None, help="key of a cover already staged")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=STAGE_CONCURRENCY, show_default=True, help="parts in parallel"
)
@click.option("--resume", "resume_id", default=None, help="finish this upload: only the parts COS lacks are sent")
@click.option("--new", "fresh", is_flag=True, help="start a new upload even if an unfinished one of FILE is recorded")
@click.option("--wait/--no-wait", default=True, help="follow the job to its FileId")
@click.option("--timeout", type=float, default=3600.0, help="seconds to follow the job")
@_vod_options
def stage(
    file: str,
    api_url: Optional[str],
    cover_file: Optional[str],
    cover_key: Optional[str],
    concurrency: int,
    resume_id: Optional[str],
    fresh: bool,
    wait: bool,
    timeout: float,
    as_json: bool,
    **options: Any,
) -> None:
    """Stage FILE through the API (parts in parallel, with a progress bar), then follow its job to the FileId.

    Resumable: the upload is recorded in ~/.vodflow/uploads/ (by path, size and mtime), so running the
    same command again after an interruption, or passing --resume UPLOAD_ID, sends only the parts COS
    does not have yet.
    """
    api = ApiClient(api_url)
    path = Path(file)
    cover = Path(cover_file) if cover_file else None
    if cover and cover_key:
        raise click.UsageError("give --cover or --cover-key, not both")
    opts = {k: v for k, v in options.items() if v is not None}
    if cover_key:
        opts["cover"] = cover_key
    if resume_id is None and not fresh:
        found = _find_stage_state(api, path)
        if found is not None:
            resume_id = str(found["upload_id"])
            recorded = found.get("cover")
            if cover is None and recorded and Path(recorded["path"]).is_file():
                if _fingerprint(Path(recorded["path"])) == recorded:
                    cover = Path(recorded["path"])
            if not as_json:
                click.echo(f"resuming upload {resume_id} of {path.name} (--new starts over)", err=True)
    if resume_id:
        status = dict(api.call("GET", f"/uploads/{resume_id}"))
        if opts and not as_json:
            click.echo("note: a resumed upload keeps the options it was started with", err=True)
    else:
        body: dict[str, Any] = {"filename": path.name, "size": path.stat().st_size, "options": opts}
        if cover:
            body["cover"] = {"filename": cover.name, "size": cover.stat().st_size}
        status = dict(api.call("POST", "/uploads", json=body))
        _save_stage_state(str(status["upload_id"]), api, path, cover)
    upload_id = str(status["upload_id"])
    files = _session_files(status, path, cover)
    bar = _Bar(f"stage {path.name}", not as_json)
    stager = _Stager(api, upload_id, bar, sum(f.size for f in files), concurrency)
    hint = f"upload {upload_id} is kept: run the same command again, or add --resume {upload_id}, to send the rest"
    try:
        for f in files:
            stager.upload(f)
    except KeyboardInterrupt:
        stager.stop.set()
        bar.close()
        click.echo(f"\ninterrupted: {hint}", err=True)
        sys.exit(130)
    except _Stopped:
        raise CliError(f"interrupted: {hint}", EXIT_FAILED) from None
    except CliError as exc:
        raise CliError(f"{exc.message}; {hint}", exc.exit_code) from None
    finally:
        bar.close()
    final = stager.status()
    job_id = final.get("job_id")
    if not job_id:
        raise CliError(f"upload {upload_id} is {final.get('state')} after sending it, not staged", EXIT_FAILED)
    _drop_stage_state(upload_id)
    key = str(final["key"])
    if not wait:
        data = {"job_id": job_id, "key": key, "upload_id": upload_id}
        emit(data, as_json, lambda: f"job {job_id}\nkey {key}\nupload {upload_id}")
        return
    job = _follow(api, str(job_id), as_json, timeout)
    emit(job, as_json, lambda: _job_text(job))
    _exit_for(job)


@main.command()
@click.option("--api", "api_url", default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20)
@click.option("--marker", default="")
@click.option("--state", default=None, help="only jobs in this state (e.g. processing_failed), on this page")
@click.option("--json", "as_json", is_flag=True)
def jobs(api_url: Optional[str], limit: int, marker: str, state: Optional[str], as_json: bool) -> None:
    """Recent jobs, newest first."""
    api = ApiClient(api_url)
    page = api.call("GET", "/jobs", params={"limit": limit, **({"marker": marker} if marker else {})})
    if state:
        page = {**page, "jobs": [j for j in page["jobs"] if j["state"] == state]}

    def text() -> str:
        rows = [
            f"{j['id']}  {j['state']:<10} {j['parts_done']:>5}/{j['parts_total']:<5} {j['source']['key']}"
            + (f"  {j['file_id']}" if j.get("file_id") else "")
            for j in page["jobs"]
        ]
        if page.get("next_marker"):
            rows.append(f"(more: --marker {page['next_marker']})")
        return "\n".join(rows) or "no jobs"

    emit(page, as_json, text)


@main.command()
@click.argument("job_id")
@click.option("--api", "api_url", default=None)
@click.option(
    "--wait",
    type=click.Choice(sorted(ENDS)),
    is_flag=False,
    flag_value="committed",
    default=None,
    help="follow until committed (the default) or processed (VOD's task flow), or failed",
)
@click.option("--timeout", type=float, default=3600.0)
@click.option("--json", "as_json", is_flag=True)
def job(job_id: str, api_url: Optional[str], wait: Optional[str], timeout: float, as_json: bool) -> None:
    """One job: state, progress, FileId, outputs or error."""
    api = ApiClient(api_url)
    data = _follow(api, job_id, as_json, timeout, wait) if wait else api.call("GET", f"/jobs/{job_id}")
    emit(data, as_json, lambda: _job_text(data))
    _exit_for(data)


@main.command(name="import")
@click.argument("url")
@click.option("--api", "api_url", default=None, help="API base URL (default: $VODFLOW_API_URL)")
@click.option("--wait", type=click.Choice(["no", *sorted(ENDS)]), default="committed", help="follow the job")
@click.option("--timeout", type=float, default=3600.0, help="seconds to follow the job")
@_vod_options
def import_url(url: str, api_url: Optional[str], wait: str, timeout: float, as_json: bool, **options: Any) -> None:
    """Have VOD pull URL itself (PullUpload), then follow the job. HTTP(S) and HLS; no DASH."""
    api = ApiClient(api_url)
    opts = {k: v for k, v in options.items() if v is not None}
    started = api.call("POST", "/jobs", json={"url": url, "options": opts})
    job_id = str(started["job_id"])
    if wait == "no":
        emit(started, as_json, lambda: f"job {job_id}\nurl {started.get('url')}")
        return
    data = _follow(api, job_id, as_json, timeout, wait)
    emit(data, as_json, lambda: _job_text(data))
    _exit_for(data)


@main.command()
@click.argument("size")
@click.option("--part-size", default=None, help="force a part size (e.g. 64MiB); default: VODFLOW_PART_SIZE or planned")
@click.option("--parts-per-batch", type=int, default=None, help="default: VODFLOW_BATCH_PARTS or planned")
@click.option("--inline-threshold", default=None, help="default: VODFLOW_INLINE_THRESHOLD or the deployment's 64MiB")
@click.option(
    "--concurrency", type=int, default=None, help="part_copy invocations in flight; default: VODFLOW_MAX_FANOUT or 32"
)
@click.option("--throughput", default="20MiB", show_default=True, help="per-worker throughput per second")
@click.option("--json", "as_json", is_flag=True)
def plan(
    size: str,
    part_size: Optional[str],
    parts_per_batch: Optional[int],
    inline_threshold: Optional[str],
    concurrency: Optional[int],
    throughput: str,
    as_json: bool,
) -> None:
    """Print the part/batch plan for an object of SIZE and the invocations it needs.

    Unset options take the deployment's settings: the VODFLOW_* variables of this environment, else the
    defaults `make deploy` deploys with."""
    from vodflow.pipeline.config import deployment_variables  # noqa: PLC0415

    deployed = deployment_variables()
    inline_threshold = inline_threshold or deployed["VODFLOW_INLINE_THRESHOLD"]
    part_size = part_size or deployed["VODFLOW_PART_SIZE"] or None
    if parts_per_batch is None and deployed["VODFLOW_BATCH_PARTS"]:
        parts_per_batch = int(deployed["VODFLOW_BATCH_PARTS"])
    concurrency = concurrency or int(deployed["VODFLOW_MAX_FANOUT"])
    nbytes = parse_size(size)
    per_s = parse_size(throughput)
    config = PlanConfig(
        inline_threshold=parse_size(inline_threshold),
        part_size=parse_size(part_size) if part_size else None,
        parts_per_batch=parts_per_batch,
        max_fanout=concurrency,
        throughput_bytes_per_s=per_s,
    )
    try:
        p = plan_upload(nbytes, config)
    except VodClientException as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    invocations = 1 if p.inline else 1 + len(p.batches) + 1  # ingest, part_copies, finalize
    waves = 1 if p.inline else -(-len(p.batches) // max(1, min(concurrency, len(p.batches))))
    batch_s = nbytes / per_s if p.inline else p.parts_per_batch * p.part_size / per_s
    data = {
        "size": nbytes,
        "inline": p.inline,
        "part_size": p.part_size,
        "parts": p.part_count,
        "parts_per_batch": p.parts_per_batch,
        "batches": len(p.batches),
        "invocations": invocations,
        "largest_payload_bytes": p.payload_bytes({"job_id": "0" * 32, "generation": 1}),
        "projected_wall_s": round(waves * batch_s, 1),
        "assumptions": {"throughput_per_worker": per_s, "concurrency": concurrency},
    }

    def text() -> str:
        if p.inline:
            return (
                f"{human(nbytes)}: copied inline by ingest (one streaming PUT), 1 invocation, "
                f"about {data['projected_wall_s']} s at {human(per_s)}/s"
            )
        return "\n".join(
            [
                f"size              {human(nbytes)} ({nbytes} bytes)",
                f"part size         {human(p.part_size)}",
                f"parts             {p.part_count} (limit 10000)",
                f"batches           {len(p.batches)} of {p.parts_per_batch} parts",
                f"invocations       {invocations} (ingest + {len(p.batches)} part_copy + finalize)",
                f"largest payload   {data['largest_payload_bytes']} bytes (limit 131072)",
                f"projected wall    {data['projected_wall_s']} s at {human(per_s)}/s per worker, {concurrency} workers",
            ]
        )

    emit(data, as_json, text)


if __name__ == "__main__":
    main()
