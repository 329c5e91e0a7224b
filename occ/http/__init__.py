"""HTTP optimistic concurrency for FastAPI and Starlette: ETag, ``If-Match``, ``If-None-Match``.

Responses carry the version as a strong ``ETag``; :class:`IfMatch` turns the
request's ``If-Match`` into the ``expected_version`` of the conditional write,
so the check happens in the write itself. A stale ``If-Match`` answers 412
Precondition Failed with the current ``ETag``, a missing one 428 Precondition
Required (when required), a malformed one 400. :func:`answer` tells the client
what the write did (``Occ-Outcome``) and answers a discarded write with 409
and the stored value; :class:`IfNoneMatch` answers reads of a current copy with
304. Errors reach clients as RFC 9457 problem details. Install with
``pip install 'occ[http]'``.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("occ.http needs Starlette (or FastAPI): pip install 'occ[http]'") from exc

from occ.http._etag import (
    MalformedPrecondition,
    NoneMatch,
    NotModified,
    Precondition,
    PreconditionFailedError,
    PreconditionRequiredError,
    etag,
    parse_if_match,
    parse_if_none_match,
    parse_version,
)
from occ.http._outcomes import ALERTED_HEADER, OUTCOME_HEADER, outcome_headers, outcome_status
from occ.http._problems import PROBLEM_JSON, Problem, problem_for
from occ.http._starlette import IfMatch, IfNoneMatch, add_exception_handlers, answer, set_etag

__all__ = [
    "ALERTED_HEADER",
    "OUTCOME_HEADER",
    "PROBLEM_JSON",
    "IfMatch",
    "IfNoneMatch",
    "MalformedPrecondition",
    "NoneMatch",
    "NotModified",
    "Precondition",
    "PreconditionFailedError",
    "PreconditionRequiredError",
    "Problem",
    "add_exception_handlers",
    "answer",
    "etag",
    "outcome_headers",
    "outcome_status",
    "parse_if_match",
    "parse_if_none_match",
    "parse_version",
    "problem_for",
    "set_etag",
]
