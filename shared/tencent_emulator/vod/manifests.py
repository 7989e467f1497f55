"""ParseStreamingManifest: the files an HLS or DASH manifest refers to, as relative paths.

The API doc string (tencentcloud ``vod_client.py`` ``ParseStreamingManifest``) says segment paths
must be relative to the manifest's directory or a subdirectory: no URLs, no absolute paths. The
vod-python-sdk joins every entry to the manifest's folder and recurses into nested ``.m3u8``/``.mpd``
entries itself, so a master playlist answers with its variant playlists, not their segments.
"""

from __future__ import annotations

import math
import re
from typing import Optional
from xml.etree.ElementTree import Element

import m3u8
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

MANIFEST_TYPES = ("m3u8", "mpd")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_TEMPLATE_VAR = re.compile(r"\$(RepresentationID|Number|Time|Bandwidth)(%0(\d+)d)?\$")


class ManifestError(Exception):
    """The manifest cannot be parsed or refers to something that is not a relative path."""


def check_relative(path: str) -> str:
    """Refuse URLs, absolute paths and paths that climb out of the manifest's directory."""
    if not path:
        raise ManifestError("empty segment path")
    if _SCHEME.match(path) or path.startswith("//"):
        raise ManifestError(f"segment path must not be a URL: {path}")
    if path.startswith(("/", "\\")):
        raise ManifestError(f"segment path must not be absolute: {path}")
    if ".." in re.split(r"[/\\]", path):
        raise ManifestError(f"segment path must stay in the manifest's directory: {path}")
    return path


def parse_manifest(content: str, manifest_type: str) -> list[str]:
    """Referenced files, in order of first appearance, without duplicates."""
    if manifest_type == "m3u8":
        found = _parse_m3u8(content)
    elif manifest_type == "mpd":
        found = _parse_mpd(content)
    else:
        raise ValueError(manifest_type)
    out: list[str] = []
    for path in found:
        check_relative(path)
        if path not in out:
            out.append(path)
    return out


def _parse_m3u8(content: str) -> list[str]:
    if not content.lstrip("\ufeff").startswith("#EXTM3U"):
        raise ManifestError("an m3u8 playlist starts with #EXTM3U")
    try:
        playlist = m3u8.loads(content)
    except Exception as exc:  # the library raises assorted errors on malformed tags
        raise ManifestError(f"malformed m3u8: {exc}") from None
    found: list[str] = []
    if playlist.is_variant:
        found += [p.uri for p in playlist.playlists if p.uri]
        found += [m.uri for m in playlist.media if m.uri]
        found += [p.uri for p in playlist.iframe_playlists if p.uri]
        return found
    for seg in playlist.segments:
        if seg.init_section is not None and seg.init_section.uri:
            found.append(seg.init_section.uri)
        if seg.uri:
            found.append(seg.uri)
    for init in playlist.segment_map or []:
        if init.uri:
            found.append(init.uri)
    if not found:
        raise ManifestError("the playlist lists no segments")
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: Element, name: str) -> Optional[Element]:
    found = _children(el, name)
    return found[0] if found else None


def _first(*elements: Optional[Element]) -> Optional[Element]:
    """The first element that is not None (an Element without children is falsy, so ``or`` is wrong)."""
    return next((e for e in elements if e is not None), None)


def _duration_s(value: Optional[str]) -> Optional[float]:
    """ISO 8601 duration as DASH writes it (``PT1H2M3.5S``, ``P1DT2H``)."""
    if not value:
        return None
    m = re.fullmatch(
        r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?", value
    )
    if not m:
        raise ManifestError(f"bad duration {value}")
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


def _fill(template: str, rep_id: str, bandwidth: str, number: int, time: int) -> str:
    def sub(m: re.Match[str]) -> str:
        name, width = m.group(1), m.group(3)
        value: str
        if name == "RepresentationID":
            return rep_id
        value = bandwidth if name == "Bandwidth" else str(number if name == "Number" else time)
        return value.zfill(int(width)) if width else value

    return _TEMPLATE_VAR.sub(sub, template).replace("$$", "$")


def _template_files(tpl: Element, rep_id: str, bandwidth: str, period_s: Optional[float]) -> list[str]:
    out: list[str] = []
    init = tpl.get("initialization")
    if init:
        out.append(_fill(init, rep_id, bandwidth, 0, 0))
    media = tpl.get("media")
    if not media:
        return out
    start = int(tpl.get("startNumber", "1"))
    timeline = _child(tpl, "SegmentTimeline")
    if timeline is not None:
        number, t = start, 0
        for s in _children(timeline, "S"):
            t = int(s.get("t", t))
            d = int(s.get("d", "0"))
            for _ in range(int(s.get("r", "0")) + 1):
                out.append(_fill(media, rep_id, bandwidth, number, t))
                number += 1
                t += d
        return out
    duration = tpl.get("duration")
    if not duration or not period_s:
        raise ManifestError("a SegmentTemplate needs a SegmentTimeline, or a duration and a period length")
    count = math.ceil(period_s / (int(duration) / int(tpl.get("timescale", "1"))))
    out += [_fill(media, rep_id, bandwidth, start + i, 0) for i in range(count)]
    return out


def _parse_mpd(content: str) -> list[str]:
    try:
        root = ElementTree.fromstring(content.encode("utf-8"))
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise ManifestError(f"malformed mpd: {exc}") from None
    if _local(root.tag) != "MPD":
        raise ManifestError("the document is not an MPD")
    media_s = _duration_s(root.get("mediaPresentationDuration"))
    found: list[str] = []
    for period in _children(root, "Period"):
        period_s = _duration_s(period.get("duration")) or media_s
        period_tpl = _child(period, "SegmentTemplate")
        for aset in _children(period, "AdaptationSet"):
            aset_tpl = _child(aset, "SegmentTemplate")
            for rep in _children(aset, "Representation"):
                rep_id, bw = rep.get("id", ""), rep.get("bandwidth", "")
                base = _child(rep, "BaseURL")
                if base is not None and base.text and base.text.strip():
                    found.append(base.text.strip())
                seg_list = _child(rep, "SegmentList")
                if seg_list is not None:
                    init = _child(seg_list, "Initialization")
                    if init is not None and init.get("sourceURL"):
                        found.append(init.get("sourceURL", ""))
                    found += [u.get("media", "") for u in _children(seg_list, "SegmentURL") if u.get("media")]
                tpl = _first(_child(rep, "SegmentTemplate"), aset_tpl, period_tpl)
                if tpl is not None:
                    found += _template_files(tpl, rep_id, bw, period_s)
    if not found:
        raise ManifestError("the MPD refers to no files")
    return found
