"""The one error tree of chainsleuth.

::

    ChainsleuthError                 base of everything we raise on purpose
    ├── UserError                    the user can fix it; exit code and HTTP status attached
    │   ├── InvalidInput             bad file, bad field, bad value, bad option     (exit 2, HTTP 422)
    │   │   └── ParseError           bytes that do not parse; carries file + offset (exit 2, HTTP 422)
    │   ├── NotFound                 unknown txid, address, block, cluster, case     (exit 3, HTTP 404)
    │   ├── Unsupported              a feature the input or endpoint lacks           (exit 4, HTTP 501)
    │   ├── Conflict                 the workspace state forbids it                  (exit 5, HTTP 409)
    │   └── LimitExceeded            a trace/search hit a limit the user set         (exit 6, HTTP 422)
    ├── SourceError                  an outside system failed (node down, timeout)   (exit 7, HTTP 502)
    └── InternalError                a bug: please report it                          (exit 70, HTTP 500)

The CLI turns any of these into a message on stderr and the exit code; the API into a JSON error body
with the HTTP status. Nothing else in the code base defines exception classes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChainsleuthError",
    "Conflict",
    "InternalError",
    "InvalidInput",
    "LimitExceeded",
    "NotFound",
    "ParseError",
    "SourceError",
    "Unsupported",
    "UserError",
]


class ChainsleuthError(Exception):
    """Base class. ``details`` holds structured context (file, offset, field, value, url, ...)."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}

    def __str__(self) -> str:
        if not self.details:
            return self.message
        ctx = ", ".join(f"{k}={v}" for k, v in self.details.items())
        return f"{self.message} ({ctx})"

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, **{k: _jsonable(v) for k, v in self.details.items()}}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


class UserError(ChainsleuthError):
    """Something the user can fix."""

    exit_code = 2
    http_status = 400


class InvalidInput(UserError):
    exit_code = 2
    http_status = 422


class ParseError(InvalidInput):
    """Bytes or text that do not parse. Always name the file (or source) and the byte offset or line."""

    def __init__(self, message: str, *, file: Any = None, offset: int | None = None, **details: Any) -> None:
        super().__init__(message, file=str(file) if file is not None else None, offset=offset, **details)
        self.file = file
        self.offset = offset


class NotFound(UserError):
    exit_code = 3
    http_status = 404


class Unsupported(UserError):
    exit_code = 4
    http_status = 501


class Conflict(UserError):
    exit_code = 5
    http_status = 409


class LimitExceeded(UserError):
    exit_code = 6
    http_status = 422


class SourceError(ChainsleuthError):
    """An outside system (node, provider, file system) failed or misbehaved."""

    exit_code = 7
    http_status = 502


class InternalError(ChainsleuthError):
    exit_code = 70
    http_status = 500
