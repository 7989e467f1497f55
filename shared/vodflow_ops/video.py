"""Real, decodable video for the demo and the tests, made here: H.264 in MP4 and MPEG-TS, and HLS packages.

PyAV (``av`` on PyPI) ships FFmpeg and libx264 inside its wheel, so nothing is downloaded and no system
FFmpeg is needed. Frames are drawn from bytes (no numpy): a moving gradient for clips a person would
watch, noise encoded losslessly where a large file is needed fast (noise does not compress, so a few
hundred frames make hundreds of MiB). :func:`decode` is the check that what comes back plays.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

FPS = 25


@dataclass(frozen=True)
class Decoded:
    frames: int
    width: int
    height: int
    codec: str
    seconds: float


def _frames(width: int, height: int, count: int, noise: bool, start: int = 0) -> Iterator[Any]:
    import av  # noqa: PLC0415

    chroma = (width // 2) * (height // 2)
    ramp = bytes((x * 255) // max(1, width - 1) for x in range(width))
    for n in range(start, start + count):
        frame = av.VideoFrame(width, height, "yuv420p")
        if noise:
            luma = os.urandom(width * height)
        else:  # a gradient that slides one step a frame, with a bar that moves down: it moves when played
            shift = (n * 4) % width
            row = ramp[shift:] + ramp[:shift]
            bar = (n * 3) % height
            luma = b"".join(b"\xeb" * width if abs(y - bar) < 4 else row for y in range(height))
        planes = (luma, bytes([(n * 5) % 256]) * chroma, bytes([128]) * chroma)
        for plane, data in zip(frame.planes, planes):
            stride, cols, rows = plane.line_size, plane.width, plane.height
            if stride == cols:
                plane.update(data)
            else:
                plane.update(b"".join(data[r * cols : (r + 1) * cols] + b"\x00" * (stride - cols) for r in range(rows)))
        frame.pts = n
        yield frame


def encode(
    target: Union[str, Path, io.BytesIO],
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    container: str = "mp4",
    noise: bool = False,
    start_frame: int = 0,
) -> None:
    """H.264 (yuv420p, 25 fps) into an MP4 or MPEG-TS (``container="mpegts"``) at ``target``."""
    from fractions import Fraction  # noqa: PLC0415

    import av  # noqa: PLC0415

    count = max(1, round(seconds * FPS))
    out = av.open(str(target) if isinstance(target, Path) else target, mode="w", format=container)
    try:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        # Noise: lossless and fast (big files quickly); pictures: small files, a keyframe a second.
        options = {"preset": "ultrafast", "qp": "0"} if noise else {"preset": "veryfast", "crf": "28"}
        stream.options = {**options, "g": str(FPS), "bf": "0"}
        for frame in _frames(width, height, count, noise, start_frame):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    finally:
        out.close()


def mp4(path: Path, seconds: float = 2.0, width: int = 320, height: int = 240) -> Path:
    encode(path, seconds, width, height)
    return path


def large_ts(path: Path, size: int, width: int = 640, height: int = 360) -> Path:
    """An MPEG-TS of H.264 of at least ``size`` bytes (lossless noise: about 0.36 MB a frame at 640x360)."""
    per_frame = width * height * 1.6  # lossless noise costs a little more than the raw luma+chroma
    encode(path, max(1, size / per_frame + 2) / FPS, width, height, container="mpegts", noise=True)
    return path


def hls_package(folder: Path, segments: int = 2, seconds: float = 2.0) -> dict[str, bytes]:
    """A master playlist, two variants (360p, 720p), ``segments`` MPEG-TS segments each, all decodable.

    Returns ``{relative path: bytes}``; each segment starts with a keyframe and continues the timeline.
    """
    files: dict[str, bytes] = {}
    master = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for name, bandwidth, (width, height) in (("360p", 800000, (640, 360)), ("720p", 2400000, (1280, 720))):
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height}", f"{name}/index.m3u8"]
        variant = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(seconds + 0.999)}"]
        variant.append("#EXT-X-MEDIA-SEQUENCE:0")
        for n in range(segments):
            buf = io.BytesIO()
            encode(buf, seconds, width, height, container="mpegts", start_frame=n * round(seconds * FPS))
            files[f"{name}/seg{n}.ts"] = buf.getvalue()
            variant += [f"#EXTINF:{seconds:.3f},", f"seg{n}.ts"]
        files[f"{name}/index.m3u8"] = ("\n".join([*variant, "#EXT-X-ENDLIST"]) + "\n").encode()
    files["index.m3u8"] = ("\n".join(master) + "\n").encode()
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return files


def decode(data: bytes, every_frame: bool = True) -> Decoded:
    """Decode a video's first stream from memory; raises ValueError when it does not decode as video."""
    import av  # noqa: PLC0415

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            frames, last = 0, 0.0
            for frame in container.decode(stream):
                if frame.width <= 0 or frame.height <= 0:
                    raise ValueError(f"a frame of {frame.width}x{frame.height}")
                frames += 1
                last = float(frame.time or 0.0)
                if not every_frame and frames >= 3:
                    break
            if frames == 0:
                raise ValueError("no frame decodes")
            return Decoded(
                frames, stream.codec_context.width, stream.codec_context.height, stream.codec_context.name, last
            )
    except av.error.FFmpegError as exc:
        raise ValueError(f"does not decode: {exc}") from exc
