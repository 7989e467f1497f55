"""COS request signatures (XML API), in the Authorization header or in the query string (presigned URLs).

Source: the "Request Signature" page (436/7778) as summarised in wire-shapes.md §1.5, and
cos-python-sdk-v5 ``cos_auth.py`` (``CosS3Auth``): which headers and parameters are signed, how
they are URL-encoded (safe ``-_.~``, keys lower-cased), and that the path is the decoded key.
The emulator recomputes the signature over exactly the headers and parameters the client listed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import quote

from tencent_emulator.core.http import Request
from tencent_emulator.core.iam import AuthError, KeyRecord
from tencent_emulator.cos.errors import CosError, access_denied

AUTH_FIELDS = (
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
)
TOKEN = "x-cos-security-token"  # noqa: S105  (a header name, not a secret)


@dataclass(frozen=True)
class Signature:
    """A parsed COS signature and where it came from (``header`` or ``query``)."""

    secret_id: str
    sign_time: str
    key_time: str
    header_list: tuple[str, ...]
    param_list: tuple[str, ...]
    signature: str
    source: str


def _enc(value: str) -> str:
    return quote(value.encode("utf-8"), safe="-_.~")


def _enc_header(value: str) -> str:
    """Header values arrive as latin-1 text of the raw bytes (the SDK sends UTF-8 bytes): sign those bytes."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8")
    return quote(raw, safe="-_.~")


def _auth_fields(auth: str) -> dict[str, str]:
    """The Authorization header's ``k=v&k2=v2`` fields, taken as they are.

    The signer writes the already URL-encoded header and parameter names into ``q-header-list`` and
    ``q-url-param-list`` (cos_auth.py ``CosS3Auth.__call__``), so nothing here is decoded again: a
    signed parameter named ``a/b`` is listed as ``a%2fb``, which is exactly how the server's own
    encoding of the request's parameters names it.
    """
    fields: dict[str, str] = {}
    for item in auth.split("&"):
        name, _, value = item.partition("=")
        fields.setdefault(name.strip(), value.strip())
    return fields


def parse(req: Request) -> Optional[Signature]:
    """The request's signature, or None for an anonymous request."""
    auth = req.headers.get("Authorization", "")
    if auth:
        fields = _auth_fields(auth)
        source = "header"
    else:
        params = {k.lower(): v for k, v in req.query}
        if "q-sign-algorithm" not in params and "q-signature" not in params:
            return None
        fields = params
        source = "query"
    missing = [f for f in AUTH_FIELDS if f not in fields]
    if missing or fields["q-sign-algorithm"] != "sha1":
        raise access_denied(
            f"Authorization is malformed: missing or invalid {', '.join(missing) or 'q-sign-algorithm'}."
        )
    return Signature(
        secret_id=fields["q-ak"],
        sign_time=fields["q-sign-time"],
        key_time=fields["q-key-time"],
        header_list=tuple(h for h in fields["q-header-list"].split(";") if h),
        param_list=tuple(p for p in fields["q-url-param-list"].split(";") if p),
        signature=fields["q-signature"].lower(),
        source=source,
    )


def _window(value: str) -> tuple[int, int]:
    start, sep, end = value.partition(";")
    if not sep or not start.strip().isdigit() or not end.strip().isdigit():
        raise access_denied("The q-sign-time or q-key-time of the Authorization is malformed.")
    return int(start), int(end)


def format_string(req: Request, sig: Signature, host_value: str) -> str:
    """HttpString: ``method\\npath\\nparams\\nheaders\\n`` over the listed parameters and headers."""
    params = {_enc(k).lower(): _enc(v) for k, v in req.query}
    headers = {_enc(k).lower(): _enc_header(v) for k, v in req.headers.lower_items()}
    if "host" in sig.header_list:
        headers["host"] = _enc(host_value)
    param_str = "&".join(f"{k}={params.get(k, '')}" for k in sorted(sig.param_list))
    header_str = "&".join(f"{k}={headers.get(k, '')}" for k in sorted(sig.header_list))
    return f"{req.method.lower()}\n{req.key_path}\n{param_str}\n{header_str}\n"


def compute(secret_key: str, sign_time: str, key_time: str, http_string: str) -> tuple[str, str]:
    """(StringToSign, Signature) as the signature page defines them; the sign key is the hex string."""
    sha = hashlib.sha1(http_string.encode("utf-8")).hexdigest()  # noqa: S324  (the protocol's own choice)
    string_to_sign = f"sha1\n{sign_time}\n{sha}\n"
    sign_key = hmac.new(secret_key.encode("utf-8"), key_time.encode("utf-8"), hashlib.sha1).hexdigest()
    return string_to_sign, hmac.new(sign_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).hexdigest()


def token_of(req: Request, sig: Signature) -> Optional[str]:
    """Temporary-key token: a header with the header form, a query parameter with the query form."""
    if sig.source == "query":
        for k, v in req.query:
            if k.lower() == TOKEN:
                return v
    return req.headers.get(TOKEN)


def server_time(now: float) -> str:
    return datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify(req: Request, cloud: Any) -> Optional[KeyRecord]:
    """Authenticate a COS request; None means anonymous. Raises :class:`CosError` with COS's codes.

    Order: the key (403 InvalidAccessKeyId), its token (400 ExpiredToken when expired), the
    signature's validity window (403 AccessDenied "Request has expired", judged on the emulator
    clock), then the signature itself (403 SignatureDoesNotMatch).
    """
    sig = parse(req)
    if sig is None:
        return None
    try:
        key = cloud.iam.authenticate(sig.secret_id, token_of(req, sig))
    except AuthError as exc:
        if exc.reason == "token_expired":
            raise CosError("ExpiredToken", 400, "The provided token has expired.") from None
        raise CosError(
            "InvalidAccessKeyId", 403, "The Access Key Id you provided does not exist in our records."
        ) from None
    start, end = _window(sig.sign_time)
    _window(sig.key_time)
    now = cloud.clock.now()
    if now > end:
        raise CosError("AccessDenied", 403, "Request has expired", {"ServerTime": server_time(now)})
    if start > now + 900:
        raise CosError(
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the server's time is too large.",
            {"ServerTime": server_time(now)},
        )
    hosts = [req.headers.get("Host", ""), req.host] if "Host" in req.headers else [req.host]
    last: tuple[str, str] = ("", "")
    for host in dict.fromkeys(hosts):
        fmt = format_string(req, sig, host)
        string_to_sign, expected = compute(key.secret_key, sig.sign_time, sig.key_time, fmt)
        if hmac.compare_digest(expected, sig.signature):
            return key
        last = (string_to_sign, fmt)
    raise CosError(
        "SignatureDoesNotMatch",
        403,
        "The Signature you specified is invalid.",
        {"StringToSign": last[0], "FormatString": last[1]},
    )
