"""`make demo`: the whole flow, offline, against the emulator server, in well under a minute.

It starts the local stack (:class:`vodflow_ops.dev.LocalStack`), then stages three real videos the way a
user would (cos-python-sdk-v5 into ``incoming/``): a short H.264 MP4 (copied inline), a 200 MiB H.264
MPEG-TS (planned into parts and copied by the part_copy fan-out; the demo deploys with test-sized parts
so the fan-out is wide), and an HLS package (``incoming/<name>.hls/``: master, two variants, H.264
segments). It follows each job over the HTTP API, prints FileId and MediaUrl, fetches every media back,
compares the bytes and decodes them (:mod:`vodflow_ops.video`: PyAV, whose wheel ships FFmpeg), and stops.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from vodflow_ops import video
from vodflow_ops.dev import BUCKET, MIB, ROOT, LocalStack

PLAN = {  # test-sized parts: over 16 MiB goes to the fan-out, 8 MiB parts, 2 parts per invocation
    "VODFLOW_INLINE_THRESHOLD": str(16 * MIB),
    "VODFLOW_PART_SIZE": str(8 * MIB),
    "VODFLOW_BATCH_PARTS": "2",
    "VODFLOW_MAX_FANOUT": "16",
}


def hls_package(folder: Path) -> dict[str, bytes]:
    """A master playlist, two variants, two decodable H.264 MPEG-TS segments each (``{relative path: bytes}``)."""
    return video.hls_package(folder)


# -- the demo ------------------------------------------------------------------------------
class Demo:
    def __init__(self, stack: LocalStack, quiet: bool = False) -> None:
        self.stack = stack
        self.cos = stack.cos()
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {stack.token}"
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def stage_file(self, key: str, path: Path) -> str:
        """Upload into staging with a progress bar; returns the object's ETag."""
        size = path.stat().st_size
        bar = tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=f"stage {key}", disable=self.quiet)

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        try:
            if size <= 16 * MIB:
                resp = self.cos.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
                progress(size, size)
            else:
                resp = self.cos.upload_file(
                    Bucket=BUCKET, Key=key, LocalFilePath=str(path), PartSize=8, MAXThread=8, progress_callback=progress
                )
        finally:
            bar.close()
        return str(resp["ETag"]).strip('"')

    def follow(self, key: str, etag: str, timeout_s: float = 120) -> dict[str, Any]:
        """Poll ``GET /jobs/{id}`` (the job id is a hash of bucket, key and ETag) until committed or failed."""
        from vodflow.pipeline.jobs import job_id_for  # noqa: PLC0415

        job_id = job_id_for(BUCKET, key, etag)
        deadline = time.monotonic() + timeout_s
        bar: Optional[tqdm[Any]] = None
        try:
            while True:
                resp = self.api.get(f"{self.stack.api_url}/jobs/{job_id}", timeout=30)
                if resp.status_code == 200:
                    job = dict(resp.json())
                    if bar is None and job.get("bytes_total"):
                        desc = f"  ingest {job['kind']} ({job['parts_total']} parts)"
                        bar = tqdm(total=job["bytes_total"], unit="B", unit_scale=True, desc=desc, disable=self.quiet)
                    if bar is not None:
                        bar.update(int(job.get("bytes_done") or 0) - bar.n)
                    if job["state"] in ("committed", "failed"):
                        return job
                elif resp.status_code != 404:
                    raise RuntimeError(f"GET /jobs/{job_id}: HTTP {resp.status_code} {resp.text[:200]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"job {job_id} for {key} did not finish in {timeout_s:.0f} s")
                time.sleep(0.2)
        finally:
            if bar is not None:
                bar.close()

    def play_back(self, url: str, expected: bytes, decode: bool = True, every_frame: bool = True) -> str:
        """Fetch what VOD serves, compare it with what was staged, decode it; returns what was decoded."""
        # The emulator server answers for every host: ask it for the media host's path (as a CDN would).
        parts = urlsplit(url)
        got = requests.get(f"{self.stack.endpoint}{parts.path}", headers={"Host": parts.netloc}, timeout=60).content
        if hashlib.sha256(got).digest() != hashlib.sha256(expected).digest():
            raise RuntimeError(f"{url}: played back {len(got)} bytes that differ from the {len(expected)} staged")
        if not decode:
            return ""
        try:
            seen = video.decode(got, every_frame=every_frame)
        except ValueError as exc:
            raise RuntimeError(f"{url}: the bytes came back but do not decode: {exc}") from exc
        frames = f"{seen.frames} frames" if every_frame else "first frames"
        return f"{seen.codec} {seen.width}x{seen.height}, {frames}"

    def report(self, job: dict[str, Any]) -> dict[str, Any]:
        if job["state"] != "committed":
            raise RuntimeError(f"job {job['id']} failed: {job.get('error')}")
        self.say(f"  FileId   {job['file_id']}\n  MediaUrl {job['media_url']}")
        return job


def run(workdir: Path, large_mib: int = 200, quiet: bool = False) -> list[dict[str, Any]]:
    """The demo; returns the three committed jobs (FileId, MediaUrl, ...)."""
    started = time.monotonic()
    with LocalStack(plan=dict(PLAN)) as stack:
        demo = Demo(stack, quiet)
        demo.say(f"emulated Tencent Cloud on {stack.endpoint}; vodflow deployed (API {stack.api_url})")
        results = []

        demo.say("\n1. a short H.264 MP4, copied inline by ingest")
        small = video.mp4(workdir / "small.mp4", seconds=4, width=640, height=360)
        job = demo.report(demo.follow("incoming/small.mp4", demo.stage_file("incoming/small.mp4", small)))
        seen = demo.play_back(job["media_url"], small.read_bytes())
        demo.say(f"  played back: bytes match; decodes: {seen}")
        results.append(job)

        demo.say(f"\n2. a {large_mib} MiB video, through the part_copy fan-out")
        large = video.large_ts(workdir / "large.ts", large_mib * MIB)
        job = demo.report(demo.follow("incoming/large.ts", demo.stage_file("incoming/large.ts", large)))
        seen = demo.play_back(job["media_url"], large.read_bytes(), every_frame=False)
        fanned = [i for i in stack.cloud.scf.invocations if i.function == "vodflow-part-copy"]
        demo.say(f"  played back: bytes match ({len(fanned)} part_copy invocations); decodes: {seen}")
        results.append(job)

        demo.say("\n3. an HLS package (master, 2 variants, 4 segments) staged as incoming/trailer.hls/")
        files = hls_package(workdir / "trailer.hls")
        etag = ""
        for rel, data in sorted(files.items(), key=lambda kv: kv[0] == "index.m3u8"):  # the index last
            etag = str(demo.cos.put_object(Bucket=BUCKET, Key=f"incoming/trailer.hls/{rel}", Body=data)["ETag"])
        job = demo.report(demo.follow("incoming/trailer.hls/index.m3u8", etag.strip('"')))
        base = job["media_url"].rsplit("/", 1)[0]
        demo.play_back(job["media_url"], files["index.m3u8"], decode=False)
        decoded = []
        for rel, data in files.items():
            if rel != "index.m3u8":
                decoded.append(demo.play_back(f"{base}/{rel}", data, decode=rel.endswith(".ts")))
        segments = [d for d in decoded if d]
        demo.say(f"  played back: master and {len(files) - 1} files match; {len(segments)} segments decode")
        results.append(job)

        demo.say(f"\ndone in {time.monotonic() - started:.1f} s; FileIds: {', '.join(j['file_id'] for j in results)}")
    return results


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description="the whole flow against the emulator")
    parser.add_argument("--large-mib", type=int, default=200, help="size of the fan-out video")
    parser.add_argument(
        "--log-file", type=Path, default=ROOT / "build" / "demo-logs.jsonl", help="the functions' JSON log lines"
    )
    args = parser.parse_args(argv)
    from vodflow.logs import configure_console  # noqa: PLC0415

    configure_console(None, args.log_file)  # the terminal tells the story; every function's line is in the file
    print(f"(the functions' JSON logs: {args.log_file})", flush=True)
    with tempfile.TemporaryDirectory(prefix="vodflow-demo-") as tmp:
        try:
            run(Path(tmp), args.large_mib)
        except RuntimeError as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
