"""HTTP optimistic concurrency for FastAPI and Starlette: ETag and ``If-Match``.

Responses carry the version as a strong ``ETag``; :class:`IfMatch` turns the
request's ``If-Match`` into the ``expected_version`` of the conditional write,
so the check happens in the write itself. A stale ``If-Match`` answers 412
Precondition Failed with the current ``ETag``, a missing one 428 Precondition
Required (when required), a malformed one 400. Install with
``pip install 'occ[http]'``.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("occ.http needs Starlette (or FastAPI): pip install 'occ[http]'") from exc

from occ.http._etag import (
    MalformedPrecondition,
    Precondition,
    PreconditionFailedError,
    etag,
    parse_if_match,
    parse_version,
)
from occ.http._starlette import IfMatch, add_exception_handlers, set_etag

__all__ = [
    "IfMatch",
    "MalformedPrecondition",
    "Precondition",
    "PreconditionFailedError",
    "add_exception_handlers",
    "etag",
    "parse_if_match",
    "parse_version",
    "set_etag",
]
