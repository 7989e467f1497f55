"""COS XML bodies: rendering replies (shapes from wire-shapes.md §1.1/§1.3) and parsing request bodies.

Replies are built from ``(tag, value)`` nodes so element order is exactly the documented one.
Request bodies are parsed with defusedxml (a client body is untrusted input), namespaces stripped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Union
from xml.etree.ElementTree import Element  # type only; parsing goes through defusedxml
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET

from tencent_emulator.cos.errors import CosError

Value = Union[str, int, None, Sequence["Node"]]
Node = tuple[str, Value]

HEADER = "<?xml version='1.0' encoding='utf-8' ?>\n"
COMPLETE_NS = "http://www.qcloud.com/document/product/436/7751"
_ENTITIES = {'"': "&quot;"}


def _render(node: Node, out: list[str]) -> None:
    tag, value = node
    if value is None or value == "":
        out.append(f"<{tag}/>")
    elif isinstance(value, (str, int)):
        out.append(f"<{tag}>{escape(str(value), _ENTITIES)}</{tag}>")
    else:
        out.append(f"<{tag}>")
        for child in value:
            _render(child, out)
        out.append(f"</{tag}>")


def render(root: str, children: Sequence[Node], xmlns: str = "") -> bytes:
    out: list[str] = [HEADER]
    out.append(f'<{root} xmlns="{xmlns}">' if xmlns else f"<{root}>")
    for child in children:
        _render(child, out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")


def iso(ts: float) -> str:
    """``2020-12-10T03:37:30.000Z`` (list replies)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso_seconds(ts: float) -> str:
    """``2020-04-10T18:20:30Z`` (CopyObjectResult)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(ts: float) -> str:
    """RFC 1123, as in ``Last-Modified`` and ``Date``."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def ctime(ts: float) -> str:
    """``Wed Jan 18 16:04:17 2017`` (ListMultipartUploads ``Initiated``, as the documented sample has it)."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(ts))


def _strip(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(body: bytes, root: str) -> Element:
    """Parse a request body whose root must be ``root``; anything else is 400 MalformedXML."""
    try:
        tree = SafeET.fromstring(body)
    except Exception:  # defusedxml raises ParseError and its own errors
        raise malformed() from None
    for el in tree.iter():
        el.tag = _strip(el.tag)
    if tree.tag != root:
        raise malformed()
    return tree


def malformed() -> CosError:
    return CosError("MalformedXML", 400, "The XML you provided was not well-formed or did not validate.")


def child_text(el: Element, tag: str) -> str:
    found = el.find(tag)
    if found is None or found.text is None:
        raise malformed()
    return found.text.strip()
