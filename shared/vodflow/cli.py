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
import time
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


def _put_with_progress(
    url: str,
    path: Path,
    headers: dict[str, str],
    bar: _Bar,
    offset: int = 0,
    length: Optional[int] = None,
    total: Optional[int] = None,
) -> requests.Response:
    size = path.stat().st_size
    length = size - offset if length is None else length
    total = total or size

    def chunks() -> Any:
        sent = 0
        with path.open("rb") as fh:
            fh.seek(offset)
            while sent < length:
                data = fh.read(min(1024 * 1024, length - sent))
                if not data:
                    return
                sent += len(data)
                bar(offset + sent, total)
                yield data

    return requests.put(url, data=_Sized(chunks(), length), headers=headers, timeout=300, proxies=_emulator_proxy())


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


def _upload_staged(plan: dict[str, Any], path: Path, bar: _Bar) -> str:
    """Upload through the presigned URLs; returns the object's ETag."""
    if plan["mode"] == "put":
        resp = _put_with_progress(plan["url"], path, dict(plan.get("headers") or {}), bar)
        if resp.status_code != 200:
            raise CliError(f"staging upload failed: HTTP {resp.status_code} {resp.text[:200]}", EXIT_FAILED)
        return str(resp.headers.get("ETag", "")).strip('"')
    size = path.stat().st_size
    part_size = int(plan["part_size"])
    etags = []
    for part in plan["parts"]:
        offset = (int(part["number"]) - 1) * part_size
        resp = _put_with_progress(part["url"], path, {}, bar, offset, min(part_size, size - offset), size)
        if resp.status_code != 200:
            raise CliError(f"part {part['number']} failed: HTTP {resp.status_code}", EXIT_FAILED)
        etags.append((int(part["number"]), resp.headers.get("ETag", "")))
    body = (
        "<CompleteMultipartUpload>"
        + "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in etags)
        + "</CompleteMultipartUpload>"
    )
    resp = requests.post(
        plan["complete_url"],
        data=body.encode(),
        headers={"Content-Type": "application/xml"},
        timeout=300,
        proxies=_emulator_proxy(),
    )
    if resp.status_code != 200 or b"<Error>" in resp.content:
        raise CliError(f"completing the staged upload failed: HTTP {resp.status_code}", EXIT_FAILED)
    m = re.search(r"<ETag>(.*?)</ETag>", resp.text)
    return (m.group(1) if m else "").replace("&quot;", "").strip('"')


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


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--api", "api_url", default=None, help="API base URL (default: $VODFLOW_API_URL)")
@click.option("--cover-key", default=None, help="key of a cover already staged")
@click.option("--wait/--no-wait", default=True, help="follow the job to its FileId")
@click.option("--timeout", type=float, default=3600.0, help="seconds to follow the job")
@_vod_options
def stage(
    file: str,
    api_url: Optional[str],
    cover_key: Optional[str],
    wait: bool,
    timeout: float,
    as_json: bool,
    **options: Any,
) -> None:
    """Stage FILE through the API (presigned upload with a progress bar), then follow its job to the FileId."""
    from vodflow.pipeline.jobs import job_id_for  # noqa: PLC0415

    api = ApiClient(api_url)
    path = Path(file)
    opts = {k: v for k, v in options.items() if v is not None}
    if cover_key:
        opts["cover"] = cover_key
    plan = api.call("POST", "/uploads", json={"filename": path.name, "size": path.stat().st_size, "options": opts})
    bar = _Bar(f"stage {path.name}", not as_json)
    try:
        etag = _upload_staged(plan, path, bar)
    finally:
        bar.close()
    job_id = job_id_for(plan["bucket"], plan["key"], etag)
    if not wait:
        emit({"job_id": job_id, "key": plan["key"]}, as_json, lambda: f"job {job_id}\nkey {plan['key']}")
        return
    job = _follow(api, job_id, as_json, timeout)
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
@click.option("--part-size", default=None, help="force a part size (e.g. 64MiB)")
@click.option("--parts-per-batch", type=int, default=None)
@click.option("--inline-threshold", default="64MiB", show_default=True)
@click.option("--concurrency", type=int, default=100, show_default=True, help="SCF concurrency quota for the job")
@click.option("--throughput", default="20MiB", show_default=True, help="per-worker throughput per second")
@click.option("--json", "as_json", is_flag=True)
def plan(
    size: str,
    part_size: Optional[str],
    parts_per_batch: Optional[int],
    inline_threshold: str,
    concurrency: int,
    throughput: str,
    as_json: bool,
) -> None:
    """Print the part/batch plan for an object of SIZE and the invocations it needs."""
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
