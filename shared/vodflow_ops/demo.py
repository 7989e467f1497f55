"""`make demo`: the whole flow, offline, against the emulator server, in well under a minute.

It starts the local stack (:class:`vodflow_ops.dev.LocalStack`), then stages three things the way a
user would (cos-python-sdk-v5 into ``incoming/``): a small MPEG-TS video (copied inline), a
200 MiB one (planned into parts and copied by the part_copy fan-out; the demo deploys with
test-sized parts so the fan-out is wide), and an HLS package (``incoming/<name>.hls/``: master,
two variants, segments). It follows each job over the HTTP API, prints FileId and MediaUrl,
fetches every media back and compares the bytes, and stops the server.

The videos are generated here, no downloads: real MPEG-TS structure (188-byte packets, PAT and
PMT with their CRC32, PES packets with timestamps on the video PID) around filler payload.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from vodflow_ops.dev import BUCKET, MIB, LocalStack

TS_PACKET = 188
VIDEO_PID, PMT_PID = 0x100, 0x1000
PLAN = {  # test-sized parts: over 16 MiB goes to the fan-out, 8 MiB parts, 2 parts per invocation
    "VODFLOW_INLINE_THRESHOLD": str(16 * MIB),
    "VODFLOW_PART_SIZE": str(8 * MIB),
    "VODFLOW_BATCH_PARTS": "2",
    "VODFLOW_MAX_FANOUT": "16",
}


# -- MPEG-TS, by hand ---------------------------------------------------------------------
def _crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _section_packet(pid: int, table: bytes) -> bytes:
    section = table + struct.pack(">I", _crc32_mpeg(table))
    payload = b"\x00" + section  # pointer_field
    header = struct.pack(">BHB", 0x47, 0x4000 | pid, 0x10)  # payload_unit_start, CC 0
    return header + payload + b"\xff" * (TS_PACKET - 4 - len(payload))


def _psi() -> bytes:
    pat = bytes([0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00]) + struct.pack(">HH", 1, 0xE000 | PMT_PID)
    program = struct.pack(">HH", 0xE000 | VIDEO_PID, 0xF000)  # PCR PID, no program descriptors
    stream = bytes([0x1B]) + struct.pack(">HH", 0xE000 | VIDEO_PID, 0xF000)  # H.264 on the video PID
    pmt = bytes([0x02, 0xB0, 5 + len(program) + len(stream) + 4, 0x00, 0x01, 0xC1, 0x00, 0x00]) + program + stream
    return _section_packet(0, pat) + _section_packet(PMT_PID, pmt)


def _pes_packets(frame: int, count: int, cc: int) -> tuple[bytes, int]:
    """One PES (PTS = frame at 25 fps) over ``count`` packets of the video PID, H.264 access-unit delimiters."""
    pts = frame * 3600
    pts_bytes = bytes(
        [
            0x21 | ((pts >> 29) & 0x0E),
            (pts >> 22) & 0xFF,
            0x01 | ((pts >> 14) & 0xFE),
            (pts >> 7) & 0xFF,
            0x01 | ((pts << 1) & 0xFE),
        ]
    )
    pes_header = b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05" + pts_bytes
    body = pes_header + b"\x00\x00\x00\x01\x09\xf0" + struct.pack(">Q", frame)
    out = bytearray()
    for i in range(count):
        start = 0x4000 if i == 0 else 0
        header = struct.pack(">BHB", 0x47, start | VIDEO_PID, 0x10 | cc)
        chunk = body if i == 0 else struct.pack(">Q", frame) + struct.pack(">I", i)
        out += header + chunk + b"\xff" * (TS_PACKET - 4 - len(chunk))
        cc = (cc + 1) % 16
    return bytes(out), cc


def mpeg_ts(size: int) -> Callable[[Any], None]:
    """A writer of an MPEG-TS of about ``size`` bytes (a multiple of 188): PSI every 1 MiB, a PES per 16 packets."""

    def write(fh: Any) -> None:
        written, frame, cc = 0, 0, 0
        while written < size:
            block = bytearray(_psi())
            while len(block) < MIB - 2 * TS_PACKET and written + len(block) < size:
                packets, cc = _pes_packets(frame, 16, cc)
                block += packets
                frame += 1
            block = block[: max(TS_PACKET, (size - written) // TS_PACKET * TS_PACKET)]
            fh.write(block)
            written += len(block)

    return write


def write_video(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        mpeg_ts(size)(fh)
    return path


def hls_package(folder: Path) -> dict[str, bytes]:
    """A master playlist, two variants, two MPEG-TS segments each."""
    files: dict[str, bytes] = {}
    master = ["#EXTM3U"]
    for name, bandwidth, resolution in (("360p", 800000, "640x360"), ("720p", 2400000, "1280x720")):
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={resolution}", f"{name}/index.m3u8"]
        variant = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:4", "#EXT-X-MEDIA-SEQUENCE:0"]
        for n in range(2):
            seg = write_video(folder / f"{name}-seg{n}.ts", (200 + 50 * n) * TS_PACKET * (2 if name == "720p" else 1))
            files[f"{name}/seg{n}.ts"] = seg.read_bytes()
            variant += ["#EXTINF:4.0,", f"seg{n}.ts"]
        files[f"{name}/index.m3u8"] = ("\n".join([*variant, "#EXT-X-ENDLIST"]) + "\n").encode()
    files["index.m3u8"] = ("\n".join(master) + "\n").encode()
    return files


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

    def play_back(self, url: str, expected: bytes) -> None:
        # The emulator server answers for every host: ask it for the media host's path (as a CDN would).
        parts = urlsplit(url)
        got = requests.get(f"{self.stack.endpoint}{parts.path}", headers={"Host": parts.netloc}, timeout=60).content
        if hashlib.sha256(got).digest() != hashlib.sha256(expected).digest():
            raise RuntimeError(f"{url}: played back {len(got)} bytes that differ from the {len(expected)} staged")

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

        demo.say("\n1. a small video, copied inline by ingest")
        small = write_video(workdir / "small.ts", 2 * MIB // TS_PACKET * TS_PACKET)
        job = demo.report(demo.follow("incoming/small.ts", demo.stage_file("incoming/small.ts", small)))
        demo.play_back(job["media_url"], small.read_bytes())
        demo.say("  played back: bytes match")
        results.append(job)

        demo.say(f"\n2. a {large_mib} MiB video, through the part_copy fan-out")
        large = write_video(workdir / "large.ts", large_mib * MIB // TS_PACKET * TS_PACKET)
        job = demo.report(demo.follow("incoming/large.ts", demo.stage_file("incoming/large.ts", large)))
        demo.play_back(job["media_url"], large.read_bytes())
        fanned = [i for i in stack.cloud.scf.invocations if i.function == "vodflow-part-copy"]
        demo.say(f"  played back: bytes match ({len(fanned)} part_copy invocations)")
        results.append(job)

        demo.say("\n3. an HLS package (master, 2 variants, 4 segments) staged as incoming/trailer.hls/")
        files = hls_package(workdir)
        etag = ""
        for rel, data in sorted(files.items(), key=lambda kv: kv[0] == "index.m3u8"):  # the index last
            etag = str(demo.cos.put_object(Bucket=BUCKET, Key=f"incoming/trailer.hls/{rel}", Body=data)["ETag"])
        job = demo.report(demo.follow("incoming/trailer.hls/index.m3u8", etag.strip('"')))
        base = job["media_url"].rsplit("/", 1)[0]
        demo.play_back(job["media_url"], files["index.m3u8"])
        for rel, data in files.items():
            if rel != "index.m3u8":
                demo.play_back(f"{base}/{rel}", data)
        demo.say(f"  played back: master and {len(files) - 1} files match")
        results.append(job)

        demo.say(f"\ndone in {time.monotonic() - started:.1f} s; FileIds: {', '.join(j['file_id'] for j in results)}")
    return results


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description="the whole flow against the emulator")
    parser.add_argument("--large-mib", type=int, default=200, help="size of the fan-out video")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vodflow-demo-") as tmp:
        try:
            run(Path(tmp), args.large_mib)
        except RuntimeError as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
