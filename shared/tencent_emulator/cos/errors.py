"""COS errors: a code, an HTTP status, a message, and optional extra elements for the XML body.

Codes and statuses follow the COS error-code page (wire-shapes.md §1.1); the messages are the
real ones users pasted where one is known, otherwise chosen (FIDELITY.md, COS assumptions).
"""

from __future__ import annotations

from typing import Optional


class CosError(Exception):
    """Raised by the model and the front; the front renders it as the ``<Error>`` XML body."""

    def __init__(self, code: str, status: int, message: str, extra: Optional[dict[str, str]] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.extra = dict(extra or {})


def no_such_bucket() -> CosError:
    return CosError("NoSuchBucket", 404, "The specified bucket does not exist.")


def no_such_key() -> CosError:
    return CosError("NoSuchKey", 404, "The specified key does not exist.")


def no_such_upload() -> CosError:
    return CosError("NoSuchUpload", 404, "The specified upload does not exist.")


def access_denied(message: str = "Access Denied.") -> CosError:
    return CosError("AccessDenied", 403, message)


def invalid_argument(message: str) -> CosError:
    return CosError("InvalidArgument", 400, message)


def not_implemented(detail: str = "") -> CosError:
    message = "A header or query you provided implies functionality that is not implemented."
    return CosError("NotImplemented", 501, f"{message} {detail}".strip())
