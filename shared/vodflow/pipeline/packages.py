"""HLS and DASH packages staged in COS: only the index manifest starts a job; the rest waits for it.

A package is staged as a folder named ``*.hls`` or ``*.dash`` whose top-level ``index.m3u8`` /
``index.mpd`` starts the job (see ``staging.py``). The manifests are read from COS and walked by
the library's own walker (``manifests.walk_package``: ``m3u8`` and ``defusedxml``, with the same
lexical rules as for local packages: no URL, absolute path, ``..`` or cycle). Files referenced
but not staged yet are waited for: the job stays ``waiting`` and is advanced again when another
file of the package lands (or by the sweeper) until ``VODFLOW_PACKAGE_WAIT_S`` has passed, then it
fails naming every missing file. Once complete, the file list (each pinned by its ETag) is
written once to ``package.json``; the top manifest goes to VOD's MediaStoragePath, every other
file keeps its relative path under that directory.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field
from typing import Any, Optional

from vodflow.errors import IntegrityError, ManifestError, SourceChangedError
from vodflow.flow import Session
from vodflow.logs import ContextThreadPool
from vodflow.manifests import MAX_MANIFEST_BYTES, manifest_kind, target_spellings, walk_package
from vodflow.pipeline import records
from vodflow.pipeline.lifecycle import Job, ensure_session, fail_job, load_job, put_into_session
from vodflow.pipeline.messages import AdvanceJob
from vodflow.pipeline.runtime import Runtime
from vodflow.pipeline.staging import package_root, staging_source
from vodflow.pipeline.states import JobState

MAX_FILES_PER_BATCH = 200
INLINE_WORKERS = 4


@dataclass
class CosPackageReader:
    """A package folder in the staging bucket: one LIST gives every file, manifests are read by GET."""

    rt: Runtime
    bucket: str
    root: str  # "incoming/show.hls/"
    top_name: str  # "index.m3u8"
    objects: dict[str, dict[str, Any]]  # package-relative path → {size, etag}
    # staged path → the path the playlist means (decoded), where it must land for players to find it
    meanings: dict[str, str] = field(default_factory=dict)

    def label(self, rel: str) -> str:
        return f"cos://{self.bucket}/{self.root}{rel or self.top_name}"

    def read_text(self, rel: str, label: str) -> str:
        name = rel or self.top_name
        info = self.objects.get(name)
        if info is None:
            raise ManifestError(label, None, name, "does not exist")
        if int(info["size"]) > MAX_MANIFEST_BYTES:
            raise ManifestError(label, None, name, f"is over the {MAX_MANIFEST_BYTES} byte manifest limit")
        cos = self.rt.cos()
        key = self.root + name
        etag = str(info["etag"])

        def get() -> bytes:
            resp = cos.get_object(Bucket=self.bucket, Key=key, IfMatch=etag)
            return bytes(resp["Body"].get_raw_stream().read())

        raw = self.rt.retry.call(get, service="cos", action="GetObject")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ManifestError(label, None, name, f"is not UTF-8 text ({exc.reason})") from exc

    def resolve(self, manifest_rel: str, label: str, line: Optional[int], reference: str) -> Optional[str]:
        # A playlist URI is percent-encoded (``seg%201.ts`` is ``seg 1.ts``), but a file may be staged under
        # the literal name: the first spelling that is staged is the file (refusals raise either way).
        spellings = target_spellings(manifest_rel, label, line, reference)
        for target in spellings:
            if target in self.objects:
                self.meanings.setdefault(target, spellings[0])
                return target
        return None


def list_package(rt: Runtime, bucket: str, root: str) -> dict[str, dict[str, Any]]:
    """Every object under the package folder, by package-relative path (paged LIST, 1000 a page)."""
    cos = rt.cos()
    out: dict[str, dict[str, Any]] = {}
    marker = ""
    while True:

        def page(m: str = marker) -> dict[str, Any]:
            return dict(cos.list_objects(Bucket=bucket, Prefix=root, Marker=m, MaxKeys=1000))

        resp = rt.retry.call(page, service="cos", action="GetBucket")
        for item in resp.get("Contents") or []:
            key = str(item["Key"])
            if not key.endswith("/"):
                out[key[len(root) :]] = {"size": int(item["Size"]), "etag": str(item["ETag"]).strip('"')}
        if str(resp.get("IsTruncated")).lower() != "true":
            return out
        marker = str(resp.get("NextMarker") or "")
        if not marker:
            return out


def package_index_key(rt: Runtime, bucket: str, root: str, job_id: str) -> str:
    """Where a package folder points at its jobs, so a file landing late can nudge them."""
    digest = hashlib.sha256(f"{bucket}\n{root}".encode()).hexdigest()[:32]
    return f"{rt.config.state_prefix}{records.PACKAGES_DIR}{digest}/{job_id}"


def register_package_job(job: Job) -> None:
    root = package_root(job.spec.source.key)
    if root is not None:
        key = package_index_key(job.rt, job.spec.source.bucket, root, job.job_id)
        job.store.create_key_once(key, {"job_id": job.job_id})


def nudge_package_jobs(rt: Runtime, bucket: str, key: str) -> list[str]:
    """A file of a package landed: advance the package's jobs that are waiting for files (async)."""
    root = package_root(key)
    if root is None:
        return []
    store = rt.store()
    prefix = package_index_key(rt, bucket, root, "")
    nudged = []
    for index_key in store.list_keys(prefix):
        job_id = index_key[len(prefix) :]
        job = load_job(rt, job_id, store)
        if job is not None and job.state == JobState.WAITING:
            rt.invoke(rt.config.ingest_function, AdvanceJob(job_id).to_payload())
            nudged.append(job_id)
    return nudged


def resolve_package(job: Job) -> Optional[str]:
    """Walk the staged package; write ``package.json`` once complete. Returns why not ready (None: ready).

    Safe to repeat: the walk only reads; ``package.json`` is create-once, and every racer writes the
    same list for the same staged files.
    """
    if job.listing.has(records.PACKAGE):
        return None
    src = job.spec.source
    root = package_root(src.key)
    if root is None:
        raise ManifestError(src.key, None, src.key, "is not inside a *.hls / *.dash package folder")
    top = src.key[len(root) :]
    objects = list_package(job.rt, src.bucket, root)
    reader = CosPackageReader(job.rt, src.bucket, root, top, objects)
    files, missing = walk_package(top, reader)
    if missing:
        waited = job.rt.clock() - job.spec.created
        listed = ", ".join(f"{target} ({label.rsplit('/', 1)[-1]}:{line})" for target, label, line in missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        if waited > job.rt.config.package_wait_s:
            raise ManifestError(
                f"cos://{src.bucket}/{src.key}",
                None,
                missing[0][0],
                f"and other referenced files were not staged within {job.rt.config.package_wait_s} s: "
                f"missing {listed}{more}",
            )
        job.store.create_once(job.job_id, records.WAITING, {"since": job.rt.clock(), "missing": len(missing)})
        job.refresh()
        return f"waiting for {len(missing)} file(s): {listed}{more}"
    entries: list[dict[str, Any]] = [{"rel": "", "key": src.key, "size": src.size, "etag": src.etag.strip('"')}]
    for rel in files:
        info = objects[rel]
        meant = reader.meanings.get(rel, rel)  # a literal ``seg%201.ts`` lands as ``seg 1.ts``, as players ask
        entries.append({"rel": meant, "key": root + rel, "size": info["size"], "etag": info["etag"]})
    average = max(1, sum(int(e["size"]) for e in entries) // len(entries))
    per_batch = max(1, min(MAX_FILES_PER_BATCH, job.rt.config.inline_threshold // average))
    job.store.create_once(job.job_id, records.PACKAGE, {"files": entries, "files_per_batch": per_batch})
    job.refresh()
    return None


def destination(session: Session, entry: Any) -> str:
    """The top manifest takes VOD's MediaStoragePath; every other file keeps its path under its directory."""
    return session.media_key if not entry["rel"] else session.segment_key(str(entry["rel"]))


def copy_file(job: Job, gen: int, session: Session, index: int) -> None:
    """Copy one package file (ranged GET pinned to its ETag → PUT with VOD's certificate), record it.

    Safe to repeat: the PUT replaces the same key with the same bytes; the fact is create-once.
    """
    entry = job.spec.files[index]
    source = staging_source(job, str(entry["key"]), str(entry["etag"]), int(entry["size"]), None)
    put_into_session(job, session, source, destination(session, entry), records.file(gen, index))


def copy_files(job: Job, gen: int, indices: list[int]) -> Optional[dict[str, Any]]:
    """Copy the given files in parallel; a replaced or corrupted file fails the job (returned as outcome)."""
    session = ensure_session(job, gen)
    done = job.listing.files_done(gen)
    todo = [i for i in indices if i not in done]
    try:
        with ContextThreadPool(max_workers=INLINE_WORKERS) as pool:
            for future in [pool.submit(copy_file, job, gen, session, i) for i in todo]:
                future.result()
    except (SourceChangedError, IntegrityError) as exc:
        fail_job(job, exc.code, exc.message)
        return {"job_id": job.job_id, "status": "failed", "code": exc.code}
    job.refresh()
    return None


def is_package_key(key: str) -> bool:
    """The index manifest at the top of a ``*.hls`` / ``*.dash`` folder (what starts a package job)."""
    root = package_root(key)
    return root is not None and manifest_kind(key) is not None and posixpath.dirname(key) + "/" == root


def advance_package(job: Job) -> dict[str, Any]:
    """Resolve the package (or keep waiting for its files), then copy it inline or fan it out."""
    try:
        why = resolve_package(job)
    except ManifestError as exc:
        fail_job(job, exc.code, exc.message)
        return {"job_id": job.job_id, "status": "failed", "code": exc.code}
    if why is not None:
        job.rt.log("package waiting", job.job_id, detail=why)
        return {"job_id": job.job_id, "status": "waiting", "detail": why}
    gen = job.generation
    if sum(int(e["size"]) for e in job.spec.files) <= job.rt.config.inline_threshold:
        failed = copy_files(job, gen, list(range(len(job.spec.files))))
        if failed is not None:
            return failed
        from vodflow.pipeline.finalize import finalize_loaded  # noqa: PLC0415  (finalize imports this module)

        return finalize_loaded(job, gen)
    from vodflow.pipeline.dispatch import dispatch_pending  # noqa: PLC0415

    ensure_session(job, gen)
    job.refresh()
    started = dispatch_pending(job, gen)
    return {"job_id": job.job_id, "status": "dispatched", "batches": started}
