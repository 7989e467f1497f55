"""What each contender runs, in a child process of its own (``python -m bench.child NAME ARGS``).

Each function here does one contender's work against the benchmark server and returns its
figures; ``bench.child`` adds the process's own CPU time and peak RSS. The clock starts after the
imports (a long-lived worker has them loaded) and stops when the media is committed.

- ``raw``: plain ``requests`` and COS's request signer, no vodflow: ApplyUpload, then ranged GETs of
  the staging object streamed into UploadPart (same part size and parallelism as the pipeline's
  plan; one streamed PUT below the inline threshold), Complete, CommitUpload. No CRC, no retries,
  no job records: the floor any copy through this server has.
- ``naive``: what a user writes today: ``download_file`` (COS SDK defaults) into a temp file, then
  the official ``vod-python-sdk`` ``upload`` with its defaults.
- ``library`` / ``official``: ``VodUploadClient.upload`` from a local file, vodflow's and the
  official SDK's, each with its defaults.
- ``part_copy_rss``: one part of a given size through vodflow's ``flow.copy_part`` with the
  pipeline's clients; the driver measures its memory from outside (``bench.run.measure_rss``: the peak
  in /proc after a reset, and samples), above the level of the warmed-up worker.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional
from xml.etree import ElementTree

import requests

CHUNK = 256 * 1024


def max_rss_bytes() -> int:
    """Peak RSS of this process so far (getrusage: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.split("://", 1)[1].rstrip("/").partition(":")
    return host, int(port or 80)


def tc3_vod_client(info: dict[str, Any]) -> Any:
    """tencentcloud's VodClient pointed at the server (not vodflow's)."""
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.vod.v20180717.vod_client import VodClient

    endpoint = info["endpoint"].split("://", 1)[1].rstrip("/")
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint, reqTimeout=600))
    return VodClient(credential.Credential(info["secret_id"], info["secret_key"]), info["region"], profile)


# ------------------------------------------------------------------------------------------------ raw


class _Stream:
    """A request body read from a streamed GET: ``len()`` gives requests its Content-Length."""

    def __init__(self, reply: requests.Response, length: int) -> None:
        self._chunks = reply.iter_content(CHUNK)
        self._length = length
        self._buffer = b""

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if not self._buffer:
            self._buffer = next(self._chunks, b"")
        if size is None or size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


class RawCopy:
    """The copy with nothing but requests: signed by qcloud_cos's ``CosS3Auth``, sent to the server's IP."""

    def __init__(self, info: dict[str, Any]) -> None:
        from qcloud_cos import CosConfig

        self.info = info
        self.base = info["endpoint"].rstrip("/")
        self.region = info["region"]
        self.account = CosConfig(Region=self.region, SecretId=info["secret_id"], SecretKey=info["secret_key"])
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=64)
        self.http.mount("http://", adapter)

    def _send(
        self,
        method: str,
        conf: Any,
        bucket: str,
        key: str,
        params: Optional[dict[str, str]] = None,
        headers: Optional[dict[str, str]] = None,
        **kwargs: Any,
    ) -> requests.Response:
        from qcloud_cos.cos_auth import CosS3Auth

        hdrs = {"Host": f"{bucket}.cos.{self.region}.myqcloud.com", **(headers or {})}
        token = getattr(conf, "_token", None)
        if token:
            hdrs["x-cos-security-token"] = token
        reply = self.http.request(
            method,
            f"{self.base}/{key}",
            params=params,
            headers=hdrs,
            auth=CosS3Auth(conf, key, params or {}),
            timeout=600,
            **kwargs,
        )
        if reply.status_code >= 300:
            raise RuntimeError(f"{method} {key}: HTTP {reply.status_code} {reply.text[:200]}")
        return reply

    def run(self, bucket: str, key: str, size: int, part_size: int, parallelism: int, inline: bool) -> dict[str, Any]:
        from qcloud_cos import CosConfig
        from tencentcloud.vod.v20180717 import models

        vod = tc3_vod_client(self.info)
        apply = models.ApplyUploadRequest()
        apply.MediaType = "mp4"
        session = vod.ApplyUpload(apply)
        cert = session.TempCertificate
        target = CosConfig(
            Region=session.StorageRegion, SecretId=cert.SecretId, SecretKey=cert.SecretKey, Token=cert.Token
        )
        dest_bucket, dest_key = session.StorageBucket, session.MediaStoragePath.lstrip("/")

        def copy(offset: int, length: int, params: Optional[dict[str, str]]) -> str:
            rng = {"Range": f"bytes={offset}-{offset + length - 1}"}
            with self._send("GET", self.account, bucket, key, headers=rng, stream=True) as src:
                put = self._send("PUT", target, dest_bucket, dest_key, params=params, data=_Stream(src, length))
            return str(put.headers["ETag"])

        if inline:
            copy(0, size, None)
        else:
            init = self._send("POST", target, dest_bucket, dest_key, params={"uploads": ""})
            upload_id = ElementTree.fromstring(init.content).findtext("UploadId") or ""
            ranges = [(n + 1, off, min(part_size, size - off)) for n, off in enumerate(range(0, size, part_size))]
            with ThreadPoolExecutor(max_workers=parallelism) as pool:
                etags = list(
                    pool.map(
                        lambda r: copy(r[1], r[2], {"partNumber": str(r[0]), "uploadId": upload_id}),
                        ranges,
                    )
                )
            body = "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
                for (n, _, _), etag in zip(ranges, etags)
            )
            done = self._send(
                "POST",
                target,
                dest_bucket,
                dest_key,
                params={"uploadId": upload_id},
                data=f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode(),
            )
            if b"<Error>" in done.content:
                raise RuntimeError(f"Complete: {done.text[:200]}")
        commit = models.CommitUploadRequest()
        commit.VodSessionKey = session.VodSessionKey
        return {"file_id": vod.CommitUpload(commit).FileId}


def raw(info: dict[str, Any], key: str, size: int, part_size: int, parallelism: int, inline: bool) -> dict[str, Any]:
    copier = RawCopy(info)
    started = time.monotonic()
    out = copier.run(info["staging_bucket"], key, size, part_size, parallelism, inline)
    return {**out, "seconds": time.monotonic() - started}


# ---------------------------------------------------------------------------------------- official SDK


def patch_official_sdk(endpoint: str) -> None:
    """Point ``qcloud_vod`` at the server (reference/vod.md §1.7): it has no endpoint option."""
    import qcloud_vod.vod_upload_client as vuc
    from qcloud_cos import CosConfig
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.vod.v20180717 import vod_client

    if getattr(vuc, "_bench_patched", False):
        return
    host, port = host_port(endpoint)

    class LocalVodClient(vod_client.VodClient):
        def __init__(self, cred: Any, region: str, profile: Any = None) -> None:
            http = HttpProfile(protocol="http", endpoint=f"{host}:{port}")
            super().__init__(cred, region, ClientProfile(httpProfile=http))

    def local_cos_config(**kwargs: Any) -> Any:
        kwargs.pop("Scheme", None)
        return CosConfig(IP=host, Port=port, Scheme="http", **kwargs)

    vuc.vod_client.VodClient = LocalVodClient
    vuc.CosConfig = local_cos_config
    vuc._bench_patched = True


def official(info: dict[str, Any], path: str, concurrency: int = 0) -> dict[str, Any]:
    from qcloud_vod.model import VodUploadRequest
    from qcloud_vod.vod_upload_client import VodUploadClient

    patch_official_sdk(info["endpoint"])
    started = time.monotonic()
    request = VodUploadRequest()
    request.MediaFilePath = path
    if concurrency:
        request.ConcurrentUploadNumber = concurrency
    response = VodUploadClient(info["secret_id"], info["secret_key"]).upload(info["region"], request)
    return {"file_id": response.FileId, "seconds": time.monotonic() - started}


def library(info: dict[str, Any], path: str, concurrency: int = 0) -> dict[str, Any]:
    from vodflow import VodUploadClient, VodUploadRequest
    from vodflow.endpoints import ENV_VAR

    os.environ[ENV_VAR] = info["endpoint"]
    started = time.monotonic()
    request = VodUploadRequest()
    request.MediaFilePath = path
    if concurrency:
        request.ConcurrentUploadNumber = concurrency
    response = VodUploadClient(info["secret_id"], info["secret_key"]).upload(info["region"], request)
    return {"file_id": response.FileId, "seconds": time.monotonic() - started}


# -------------------------------------------------------------------------------------------- naive


class _DiskWatch:
    """Largest size the temp directory reaches (sampled), to show the naive function's disk need."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _used(self) -> int:
        total = 0
        for entry in os.scandir(self.directory):
            try:
                total += entry.stat().st_blocks * 512
            except FileNotFoundError:
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._used())

    def __enter__(self) -> _DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = max(self.peak, self._used())
        self._stop.set()
        self._thread.join()


def naive(info: dict[str, Any], key: str, tmp_root: str) -> dict[str, Any]:
    from qcloud_cos import CosConfig, CosS3Client
    from qcloud_vod.model import VodUploadRequest
    from qcloud_vod.vod_upload_client import VodUploadClient

    patch_official_sdk(info["endpoint"])
    host, port = host_port(info["endpoint"])
    started = time.monotonic()
    cos = CosS3Client(
        CosConfig(
            Region=info["region"],
            SecretId=info["secret_id"],
            SecretKey=info["secret_key"],
            IP=host,
            Port=port,
            Scheme="http",
        )
    )
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="naive-") as tmp:
        path = os.path.join(tmp, os.path.basename(key))
        with _DiskWatch(tmp) as disk:
            cos.download_file(Bucket=info["staging_bucket"], Key=key, DestFilePath=path)
            downloaded = time.monotonic()
            request = VodUploadRequest()
            request.MediaFilePath = path
            response = VodUploadClient(info["secret_id"], info["secret_key"]).upload(info["region"], request)
    ended = time.monotonic()
    return {
        "file_id": response.FileId,
        "seconds": ended - started,
        "download_s": downloaded - started,
        "upload_s": ended - downloaded,
        "temp_disk_bytes": disk.peak,
    }


# ----------------------------------------------------------------------------------- part_copy RSS


def part_copy_rss(info: dict[str, Any], key: str, part_size: int) -> dict[str, Any]:
    """One part of ``part_size`` through the pipeline's copy step; RSS above the warmed-up worker's."""
    from vodflow import flow
    from vodflow.clients import cos_client, vod_client
    from vodflow.credentials import Credentials
    from vodflow.endpoints import Endpoints
    from vodflow.planner import MiB, Part
    from vodflow.retry import RetryPolicy
    from vodflow.sources import CosObjectSource

    endpoints = Endpoints.parse(info["endpoint"])
    creds = Credentials(info["secret_id"], info["secret_key"])
    retry = RetryPolicy()
    session = flow.apply_upload(vod_client(creds, info["region"], endpoints), {"MediaType": "mp4"}, retry)
    cos = flow.storage_client(session, creds, endpoints)
    source = CosObjectSource(
        bucket=info["staging_bucket"],
        region=info["region"],
        key=key,
        credentials=creds,
        endpoints=endpoints,
        client=cos_client(creds, info["region"], endpoints),
    )
    upload_id = flow.initiate_multipart(cos, session.storage_bucket, session.media_key, retry)

    def copy(number: int, length: int) -> None:
        flow.copy_part(
            source,
            cos,
            session.storage_bucket,
            session.media_key,
            upload_id,
            Part(number, 0, length),
            retry=retry,
            certificate=session.certificate,
            require_crc=True,
        )

    copy(1, MiB)  # warm-up: every import, pool and buffer of a worker that has copied before
    # The driver measures this process from outside (/proc): it resets the peak, samples, and reads it back.
    print("READY", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    copy(2, part_size)
    seconds = time.monotonic() - started
    print("DONE", flush=True)
    sys.stdin.readline()
    flow.abort(cos, session.storage_bucket, session.media_key, upload_id, retry)
    return {"seconds": seconds, "part_size": part_size}


CONTENDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "raw": raw,
    "naive": naive,
    "library": library,
    "official": official,
    "part_copy_rss": part_copy_rss,
}
