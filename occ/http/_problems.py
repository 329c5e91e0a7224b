"""What an HTTP client is told about an `occ` error: RFC 9457 problem details. Pure.

A client gets a ``application/problem+json`` body that says what happened to
*its request* — the stored version, what to do next over HTTP — and never the
advice meant for the application's developer (``pick a conflict policy``,
entity and table names), which goes to the log instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from occ._core.model import Version
from occ.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    RetryExhaustedError,
    ValidationError,
)
from occ.http._etag import (
    MalformedPrecondition,
    PreconditionFailedError,
    PreconditionRequiredError,
)

__all__ = ["PROBLEM_JSON", "TYPE_BASE", "Problem", "problem_for"]

#: the media type of a problem details body.
PROBLEM_JSON = "application/problem+json"
#: the default prefix of problem type URIs; ``add_exception_handlers(type_base=...)`` changes it.
TYPE_BASE = "urn:occ:problem:"


@dataclass(frozen=True)
class Problem:
    """One problem details object (RFC 9457 §3).

    Attributes:
        status: the HTTP status code.
        slug: the last part of the problem type URI (``stale-version``, ...).
        title: a short summary of the problem type.
        detail: what happened to this request, for the client.
        current_version: the version stored now, sent as ``ETag`` and as the
            ``current_version`` extension member (``None``: nothing stored or not known).
        extensions: further members of the body.
    """

    status: int
    slug: str
    title: str
    detail: str
    current_version: Version | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    def body(self, type_base: str = TYPE_BASE, instance: str | None = None) -> dict[str, Any]:
        """The JSON object to send (``instance``: the request's path, if given)."""
        members: dict[str, Any] = {
            "type": f"{type_base}{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            members["instance"] = instance
        if self.current_version is not None:
            members["current_version"] = _plain(self.current_version)
        return {**members, **self.extensions}


def _plain(version: Version) -> Any:
    return version if isinstance(version, int) else version.isoformat()


def _conflict(exc: ConflictError, conditional: bool) -> Problem:
    conflict = exc.conflict
    status = 412 if conditional else 409
    title = "Precondition Failed" if conditional else "Conflict"
    if conflict.deleted:
        return Problem(status, "deleted", title, "The resource was deleted after you read it.")
    if isinstance(exc, RetryExhaustedError):
        return Problem(
            409,
            "busy",
            "Conflict",
            "The resource kept changing while your request was applied; try again later.",
            conflict.actual_version,
        )
    current = conflict.actual_version
    sent = "your If-Match" if conditional else "your request"
    detail = "The resource changed since you read it"
    if current is not None and conflict.expected_version is not None:
        detail += f": it is at version {current!r}, {sent} expected {conflict.expected_version!r}"
    detail += ". Read it again, apply your change to what is stored and send its ETag."
    return Problem(status, "stale-version", title, detail, current)


def problem_for(exc: Exception, *, conditional: bool = False) -> Problem | None:
    """The problem a client is told about ``exc``, or ``None`` if it is not an `occ` error.

    Args:
        exc: what the endpoint raised.
        conditional: the request carried ``If-Match`` (a stale version is then
            412 Precondition Failed, else 409 Conflict) or, for an insert,
            ``If-None-Match`` (a taken key is then 412).
    """
    if isinstance(exc, ConflictError):  # DeletedError and RetryExhaustedError included
        return _conflict(exc, conditional)
    if isinstance(exc, PreconditionFailedError):
        detail = (
            "If-Match names no current version of the resource"
            if exc.current_version is not None
            else "Nothing is stored here for If-Match to match"
        )
        return Problem(
            412, "precondition-failed", "Precondition Failed", detail + ".", exc.current_version
        )
    if isinstance(exc, PreconditionRequiredError):
        return Problem(
            428,
            "precondition-required",
            "Precondition Required",
            "This request must be conditional: send If-Match with the ETag you read (or *).",
        )
    if isinstance(exc, MalformedPrecondition):
        return Problem(400, "malformed-precondition", "Bad Request", f"{exc}.")
    if isinstance(exc, AlreadyExistsError):
        if conditional:
            return Problem(
                412,
                "already-exists",
                "Precondition Failed",
                "A resource already exists here and If-None-Match forbids replacing it.",
            )
        return Problem(
            409, "already-exists", "Conflict", "A resource with this key already exists."
        )
    if isinstance(exc, NotFoundError):
        return Problem(404, "not-found", "Not Found", "No resource exists under this key.")
    if isinstance(exc, ValidationError):
        return Problem(
            422,
            "invalid",
            "Unprocessable Content",
            "The request's values cannot be stored as sent.",
        )
    return None
