"""HLS and DASH packages: every file a manifest references, parsed locally and checked before upload.

The official SDK sends the manifest text to VOD's ParseStreamingManifest and uploads whatever comes
back joined to the manifest's directory, so ``../`` walks out of the package and a missing file is
found only after the media has gone up. Here the manifest is parsed locally (``m3u8`` for HLS,
``defusedxml`` for DASH, which refuses entity bombs and external entities) and every reference must
be a relative path that stays inside the package directory (no URL, no absolute path, no ``..``, no
symlink pointing out), names an existing regular file, and is not a playlist that includes itself.
A refusal names the manifest, the line and the reference, and happens before anything is uploaded.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol, Union
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import m3u8
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from .errors import ManifestError

__all__ = [
    "DEFAULT_MAX_REFERENCES",
    "MAX_MANIFEST_BYTES",
    "ManifestPackage",
    "PackageReader",
    "check_reference",
    "collect_package",
    "lexical_target",
    "manifest_kind",
    "walk_package",
]

DEFAULT_MAX_REFERENCES = 100_000
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_URI_ATTR = re.compile(r'URI="([^"]*)"')


def manifest_kind(path_or_type: str) -> Optional[str]:
    """``"m3u8"`` or ``"mpd"`` for a manifest file name or media type (any case), else None."""
    ext = path_or_type.rsplit(".", 1)[-1].lower()
    return ext if ext in ("m3u8", "mpd") else None


@dataclass
class ManifestPackage:
    """A top manifest and the files it references (recursively), relative to its directory."""

    manifest: Path
    root: Path
    kind: str
    files: list[str] = field(default_factory=list)

    def local_path(self, relative: str) -> Path:
        return self.root.joinpath(*relative.split("/"))


def lexical_target(manifest_rel: str, manifest_label: str, line: Optional[int], reference: str) -> str:
    """The package-relative path of ``reference`` as written in ``manifest_rel``, by the lexical rules alone.

    No URL, absolute path, backslash, NUL or ``..``; the result stays inside the package directory.
    These rules hold wherever the package lives (a local folder or a COS prefix).
    """

    def refuse(reason: str) -> ManifestError:
        return ManifestError(manifest_label, line, reference, reason)

    if not reference or not reference.strip():
        raise refuse("is empty")
    if "\x00" in reference:
        raise refuse("contains a NUL byte")
    if reference.startswith("//") or _SCHEME.match(reference):
        raise refuse("is a URL; only relative paths inside the package are allowed")
    if reference.startswith("/"):
        raise refuse("is an absolute path; only relative paths inside the package are allowed")
    if "\\" in reference:
        raise refuse("contains a backslash; use relative paths with '/'")
    segments = reference.split("/")
    if ".." in segments:
        raise refuse("contains '..'; files must be in the manifest's directory or below it")
    relative = posixpath.normpath(posixpath.join(posixpath.dirname(manifest_rel), reference))
    if relative.startswith("../") or relative == ".." or relative.startswith("/") or relative == ".":
        raise refuse("points outside the package directory")
    return relative


def target_spellings(manifest_rel: str, manifest_label: str, line: Optional[int], reference: str) -> list[str]:
    """The package-relative files ``reference`` may name, most likely first: percent-decoded (a playlist
    URI ``seg%201.ts`` is the file ``seg 1.ts``), then as written (a file literally named ``seg%201.ts``).

    The decoded spelling passes the same lexical rules: ``%2E%2E/`` or ``%2F`` tricks are refused, not
    read literally.
    """
    literal = lexical_target(manifest_rel, manifest_label, line, reference)
    if "%" not in reference or _BAD_PERCENT.search(reference):
        return [literal]
    try:
        decoded_ref = unquote(reference, errors="strict")
    except UnicodeDecodeError:
        return [literal]
    if decoded_ref.count("/") != reference.count("/"):
        return [literal]  # a %2F names no folder: only a file literally so named
    decoded = lexical_target(manifest_rel, manifest_label, line, decoded_ref)
    return [decoded, literal] if decoded != literal else [literal]


def check_reference(root: Path, manifest_rel: str, manifest_label: str, line: Optional[int], reference: str) -> str:
    """The package-relative path of ``reference`` (as written in ``manifest_rel``), or ManifestError.

    Rules are lexical first (:func:`lexical_target`), then on disk: the resolved path, symlinks
    followed, must stay under the resolved package root and be a file.
    """
    spellings = target_spellings(manifest_rel, manifest_label, line, reference)
    real_root = os.path.realpath(root)
    for relative in spellings:
        real = os.path.realpath(root.joinpath(*relative.split("/")))
        if os.path.commonpath([real_root, real]) != real_root:
            raise ManifestError(manifest_label, line, reference, "escapes the package directory through a symlink")
        if os.path.isfile(real):
            return relative
    raise ManifestError(manifest_label, line, reference, "does not exist (or is not a regular file)")


def _read_text(path: Path, label: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ManifestError(label, None, path.name, f"is {size} bytes, over the {MAX_MANIFEST_BYTES} byte limit")
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(label, None, path.name, f"is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ManifestError(label, None, path.name, f"cannot be read ({exc.strerror})") from exc


# --------------------------------------------------------------------------------------------- HLS


def _hls_lines(text: str) -> dict[str, int]:
    """First line number of every URI in the playlist text (URI lines and ``URI="..."`` attributes)."""
    lines: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            for uri in _URI_ATTR.findall(line):
                lines.setdefault(uri, number)
        else:
            lines.setdefault(line, number)
    return lines


def _hls_references(text: str, label: str) -> Iterator[str]:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if first != "#EXTM3U":
        raise ManifestError(label, 1, first[:60], "is not '#EXTM3U': not an HLS playlist")
    try:
        playlist = m3u8.loads(text)
    except Exception as exc:  # m3u8 raises plain exceptions on malformed tags
        raise ManifestError(label, None, "", f"cannot be parsed as HLS: {exc}") from exc
    groups: list[Any] = [
        playlist.playlists,
        playlist.iframe_playlists,
        playlist.image_playlists,
        playlist.media,
        playlist.keys,
        playlist.session_keys,
        playlist.segment_map,
        playlist.rendition_reports,
    ]
    for group in groups:
        for item in group:
            uri = getattr(item, "uri", None) if item is not None else None
            if uri is not None:
                yield uri
    for segment in playlist.segments:
        if segment.init_section is not None and segment.init_section.uri:
            yield segment.init_section.uri
        if segment.key is not None and segment.key.uri:
            yield segment.key.uri
        for part in segment.parts:
            if part.uri:
                yield part.uri
        if segment.uri is not None:
            yield segment.uri
    if playlist.preload_hint is not None and playlist.preload_hint.uri:
        yield playlist.preload_hint.uri


# -------------------------------------------------------------------------------------------- DASH


class _LineTreeBuilder(TreeBuilder):
    """A TreeBuilder that remembers the source line of every element."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.expat: Any = None

    def start(self, tag: Any, attrs: Any) -> Element:
        elem = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[id(elem)] = self.expat.CurrentLineNumber
        return elem


def _parse_xml(text: str, label: str) -> tuple[Element, dict[int, int]]:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(text)
        root = parser.close()
    except DefusedXmlException as exc:
        raise ManifestError(label, None, "", f"uses forbidden XML ({type(exc).__name__})") from exc
    except ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ManifestError(label, line, "", f"is not well-formed XML ({exc})") from exc
    return root, builder.lines


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem: Element, name: str) -> list[Element]:
    return [c for c in elem if _local(c.tag) == name]


def _child(elem: Optional[Element], name: str) -> Optional[Element]:
    if elem is None:
        return None
    found = _children(elem, name)
    return found[0] if found else None


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def _iso_duration(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    match = _DURATION.match(value.strip())
    if not match:
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


_TEMPLATE_ID = re.compile(r"\$(RepresentationID|Number|Bandwidth|Time|SubNumber)(%0(\d+)d)?\$|\$\$")


@dataclass
class _Dash:
    label: str
    lines: dict[int, int]
    max_references: int
    refs: list[tuple[str, Optional[int]]] = field(default_factory=list)

    def line(self, elem: Optional[Element]) -> Optional[int]:
        return self.lines.get(id(elem)) if elem is not None else None

    def add(self, base: str, ref: str, elem: Optional[Element]) -> None:
        if len(self.refs) >= self.max_references:
            raise ManifestError(
                self.label, self.line(elem), ref, f"exceeds the limit of {self.max_references} references"
            )
        self.refs.append((_join_base(base, ref), self.line(elem)))

    def base(self, parent: str, elem: Element) -> str:
        node = _child(elem, "BaseURL")
        if node is None or not (node.text or "").strip():
            return parent
        ref = (node.text or "").strip()
        # The BaseURL itself must be a safe relative path (checked lexically; it may be a directory).
        if ref.startswith("//") or _SCHEME.match(ref) or ref.startswith("/") or ".." in ref.split("/") or "\\" in ref:
            raise ManifestError(self.label, self.line(node), ref, "is not a relative path inside the package (BaseURL)")
        return _join_base(parent, ref)


def _join_base(base: str, ref: str) -> str:
    if not base:
        return ref
    if base.endswith("/"):
        return base + ref
    head = posixpath.dirname(base)
    return f"{head}/{ref}" if head else ref


def _expand(template: str, rep_id: Optional[str], bandwidth: Optional[str], number: int, time: int) -> str:
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, width = match.group(1), match.group(3)
        if name == "RepresentationID":
            if rep_id is None:
                raise ValueError("$RepresentationID$ used but the Representation has no id")
            return rep_id
        if name == "Bandwidth":
            if bandwidth is None:
                raise ValueError("$Bandwidth$ used but the Representation has no bandwidth")
            value = int(bandwidth)
        elif name == "Time":
            value = time
        else:
            value = number
        return str(value).zfill(int(width)) if width else str(value)

    return _TEMPLATE_ID.sub(sub, template)


def _merged_template(levels: list[Optional[Element]]) -> tuple[dict[str, str], Optional[Element], Optional[Element]]:
    """SegmentTemplate attributes inherited Period -> AdaptationSet -> Representation, the innermost
    element (for its line) and the innermost SegmentTimeline."""
    attrs: dict[str, str] = {}
    innermost: Optional[Element] = None
    timeline: Optional[Element] = None
    for level in levels:
        tmpl = _child(level, "SegmentTemplate")
        if tmpl is None:
            continue
        attrs.update(tmpl.attrib)
        innermost = tmpl
        inner_timeline = _child(tmpl, "SegmentTimeline")
        if inner_timeline is not None:
            timeline = inner_timeline
    return attrs, innermost, timeline


def _template_refs(
    dash: _Dash,
    base: str,
    attrs: dict[str, str],
    tmpl: Element,
    timeline: Optional[Element],
    rep: Element,
    period_seconds: Optional[float],
) -> None:
    rep_id = rep.get("id")
    bandwidth = rep.get("bandwidth")
    line = dash.line(tmpl)

    def expand(template: str, number: int, time: int) -> str:
        try:
            return _expand(template, rep_id, bandwidth, number, time)
        except ValueError as exc:
            raise ManifestError(dash.label, line, template, str(exc)) from exc

    init = attrs.get("initialization")
    if init:
        dash.add(base, expand(init, 0, 0), tmpl)
    media = attrs.get("media")
    if not media:
        return
    start = int(attrs.get("startNumber", "1"))
    timescale = int(attrs.get("timescale", "1")) or 1
    if timeline is not None:
        number, t = start, 0
        entries = _children(timeline, "S")
        for index, s in enumerate(entries):
            if s.get("t") is not None:
                t = int(s.get("t", "0"))
            d = int(s.get("d", "0"))
            if d <= 0:
                raise ManifestError(dash.label, dash.line(s), media, "SegmentTimeline S has no positive d")
            r = int(s.get("r", "0"))
            if r < 0:
                if index + 1 < len(entries) and entries[index + 1].get("t") is not None:
                    end = int(entries[index + 1].get("t", "0"))
                elif period_seconds is not None:
                    end = round(period_seconds * timescale)
                else:
                    raise ManifestError(dash.label, dash.line(s), media, "r=-1 without a known end")
                r = max(0, math.ceil((end - t) / d) - 1)
            for _ in range(r + 1):
                dash.add(base, expand(media, number, t), tmpl)
                number += 1
                t += d
        return
    duration = attrs.get("duration")
    if attrs.get("endNumber"):
        count = int(attrs["endNumber"]) - start + 1
    elif duration and period_seconds is not None:
        count = math.ceil(period_seconds * timescale / int(duration) - 1e-9)
    else:
        raise ManifestError(
            dash.label, line, media, "segment count unknown (no SegmentTimeline, duration or period length)"
        )
    if count > dash.max_references:
        raise ManifestError(dash.label, line, media, f"exceeds the limit of {dash.max_references} references")
    for i in range(count):
        number = start + i
        dash.add(base, expand(media, number, (number - start) * int(duration or 0)), tmpl)


def _dash_references(text: str, label: str, max_references: int) -> list[tuple[str, Optional[int]]]:
    root, lines = _parse_xml(text, label)
    if _local(root.tag) != "MPD":
        raise ManifestError(label, lines.get(id(root)), _local(root.tag), "root element is not MPD")
    dash = _Dash(label, lines, max_references)
    mpd_base = dash.base("", root)
    periods = _children(root, "Period")
    total = _iso_duration(root.get("mediaPresentationDuration"))
    for period in periods:
        period_seconds = _iso_duration(period.get("duration"))
        if period_seconds is None and len(periods) == 1:
            period_seconds = total
        p_base = dash.base(mpd_base, period)
        for aset in _children(period, "AdaptationSet"):
            a_base = dash.base(p_base, aset)
            for rep in _children(aset, "Representation"):
                r_base = dash.base(a_base, rep)
                attrs, tmpl, timeline = _merged_template([period, aset, rep])
                seg_list = _child(rep, "SegmentList")
                if seg_list is None:
                    seg_list = _child(aset, "SegmentList")
                if tmpl is not None:
                    _template_refs(dash, r_base, attrs, tmpl, timeline, rep, period_seconds)
                elif seg_list is not None:
                    init = _child(seg_list, "Initialization")
                    if init is not None and init.get("sourceURL"):
                        dash.add(r_base, init.get("sourceURL", ""), init)
                    for seg in _children(seg_list, "SegmentURL"):
                        if seg.get("media"):
                            dash.add(r_base, seg.get("media", ""), seg)
                else:
                    node = _child(rep, "BaseURL")
                    if node is None or not (node.text or "").strip():
                        raise ManifestError(label, dash.line(rep), rep.get("id") or "", "Representation names no media")
                    init = _child(_child(rep, "SegmentBase"), "Initialization")
                    if init is not None and init.get("sourceURL"):
                        dash.add(r_base, init.get("sourceURL", ""), init)
                    dash.refs.append((r_base, dash.line(node)))
    return dash.refs


# ------------------------------------------------------------------------------------------- walk


class PackageReader(Protocol):
    """Where a package lives: reads manifests, and checks (and resolves) the files they reference."""

    def label(self, rel: str) -> str:
        """How a manifest is named in errors (``rel`` is package-relative; "" is the top manifest)."""
        ...

    def read_text(self, rel: str, label: str) -> str: ...

    def resolve(self, manifest_rel: str, label: str, line: Optional[int], reference: str) -> Optional[str]:
        """The package-relative target of ``reference``; None if it does not exist (yet). Raises if refused."""
        ...


def walk_package(
    top_name: str, reader: PackageReader, max_references: int = DEFAULT_MAX_REFERENCES
) -> tuple[list[str], list[tuple[str, str, Optional[int]]]]:
    """Every file the top manifest references, recursively (deduplicated, in order of first reference),
    and the references that do not exist as (target, manifest label, line). Refusals raise ManifestError."""
    files: list[str] = []
    missing: list[tuple[str, str, Optional[int]]] = []
    seen: set[str] = set()
    done: set[str] = set()
    total = 0

    def walk(rel: str, stack: tuple[str, ...]) -> None:
        nonlocal total
        label = reader.label(rel)
        text = reader.read_text(rel, label)
        name = rel or top_name
        if manifest_kind(name) == "mpd":
            refs = _dash_references(text, label, max_references)
        else:
            lines = _hls_lines(text)
            refs = [(uri, lines.get(uri)) for uri in _hls_references(text, label)]
        for reference, line in refs:
            total += 1
            if total > max_references:
                raise ManifestError(label, line, reference, f"exceeds the limit of {max_references} references")
            target = lexical_target(name, label, line, reference)
            if target == name or target in stack:
                raise ManifestError(label, line, reference, "makes the playlist include itself (a cycle)")
            if target in seen:
                continue
            seen.add(target)
            resolved = reader.resolve(name, label, line, reference)
            if resolved is None:
                missing.append((target, label, line))
                continue
            files.append(resolved)
            if manifest_kind(resolved) is not None and resolved not in done:
                done.add(resolved)
                walk(resolved, (*stack, name))

    walk("", ())
    return files, missing


@dataclass
class _LocalReader:
    package: ManifestPackage

    def label(self, rel: str) -> str:
        return str(self.package.local_path(rel)) if rel else str(self.package.manifest)

    def read_text(self, rel: str, label: str) -> str:
        return _read_text(self.package.local_path(rel) if rel else self.package.manifest, label)

    def resolve(self, manifest_rel: str, label: str, line: Optional[int], reference: str) -> Optional[str]:
        return check_reference(self.package.root, manifest_rel, label, line, reference)


def collect_package(
    manifest: Union[str, os.PathLike[str]], max_references: int = DEFAULT_MAX_REFERENCES
) -> ManifestPackage:
    """Every file the manifest references, recursively, as package-relative ``/`` paths (deduplicated,
    in order of first reference). Raises ManifestError for the first bad reference, before any upload."""
    top = Path(manifest)
    kind = manifest_kind(top.name)
    if kind is None:
        raise ManifestError(str(top), None, top.name, "is not an .m3u8 or .mpd manifest")
    package = ManifestPackage(manifest=top, root=top.parent, kind=kind)
    package.files, _ = walk_package(top.name, _LocalReader(package), max_references)
    return package
