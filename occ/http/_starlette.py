"""FastAPI / Starlette glue: precondition dependencies, write answers, error responses."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from occ._core.model import Version, Versioned
from occ.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from occ.http._etag import (
    NoneMatch,
    NotModified,
    Precondition,
    PreconditionFailedError,
    PreconditionRequiredError,
    etag,
    parse_if_match,
    parse_if_none_match,
)
from occ.http._openapi import document_conditions
from occ.http._outcomes import outcome_headers, outcome_status
from occ.http._problems import PROBLEM_JSON, TYPE_BASE, problem_for

__all__ = ["IfMatch", "IfNoneMatch", "add_exception_handlers", "answer", "set_etag"]

T = TypeVar("T")
logger = logging.getLogger("occ.http")

if TYPE_CHECKING:
    IfMatchHeader = str | None
    IfNoneMatchHeader = str | None
else:
    try:
        from typing import Annotated

        from fastapi import Header
    except ImportError:  # Starlette alone: the headers are read from the request
        IfMatchHeader = IfNoneMatchHeader = str | None
    else:  # declared, so OpenAPI (and Swagger UI's "Try it out") shows them
        IfMatchHeader = Annotated[
            str | None,
            Header(
                alias="If-Match",
                description='The ETag you read (e.g. "3"), or * for any current version.',
            ),
        ]
        IfNoneMatchHeader = Annotated[
            str | None,
            Header(
                alias="If-None-Match",
                description="The ETags you hold: 304 Not Modified if one is current.",
            ),
        ]


def _check_version_type(version_type: str) -> None:
    if version_type not in ("int", "timestamp"):
        raise ValidationError(f"version_type must be 'int' or 'timestamp', got {version_type!r}")


class IfMatch:
    """A dependency that turns ``If-Match`` into a :class:`Precondition`.

    It only parses the header: the version check happens in the conditional
    write (``update(..., expected_version=pre.expected_version)``), never in a
    read before it. In FastAPI: ``pre: Precondition = Depends(IfMatch())`` —
    the header is a declared parameter, so OpenAPI shows it, and
    :func:`add_exception_handlers` documents the 412, 428 and 409 answers and
    the ``ETag`` of the route. In Starlette: ``pre = IfMatch()(request)``.

    Args:
        required: answer 428 Precondition Required when the header is missing.
        version_type: ``"int"`` or ``"timestamp"``, how ETags map to versions.

    Raises:
        MalformedPrecondition: a malformed header (400).
        PreconditionRequiredError: a missing one on a required route (428).
    """

    def __init__(self, *, required: bool = True, version_type: str = "int") -> None:
        _check_version_type(version_type)
        self.required = required
        self.version_type = version_type

    def __call__(self, request: Request, if_match: IfMatchHeader = None) -> Precondition:
        """Parse the request's ``If-Match`` fields (all of them, joined)."""
        values = request.headers.getlist("if-match")
        if not values:
            if self.required:
                raise PreconditionRequiredError()
            return Precondition()
        return parse_if_match(", ".join(values), self.version_type)


class IfNoneMatch:
    """A dependency that turns ``If-None-Match`` into a :class:`NoneMatch`, for reads.

    In FastAPI: ``cached: NoneMatch = Depends(IfNoneMatch())``, then after the
    read ``cached.check(found.version)`` answers 304 Not Modified (with the
    ``ETag``, no body) when the client's copy is current.

    Args:
        version_type: ``"int"`` or ``"timestamp"``, how ETags map to versions.

    Raises:
        MalformedPrecondition: a malformed header (400).
    """

    def __init__(self, *, version_type: str = "int") -> None:
        _check_version_type(version_type)
        self.version_type = version_type

    def __call__(self, request: Request, if_none_match: IfNoneMatchHeader = None) -> NoneMatch:
        """Parse the request's ``If-None-Match`` fields (all of them, joined)."""
        values = request.headers.getlist("if-none-match")
        if not values:
            return NoneMatch()
        return parse_if_none_match(", ".join(values), self.version_type)


def set_etag(response: Response, version: Version) -> None:
    """Set the ``ETag`` header of ``response`` from a version."""
    response.headers["ETag"] = etag(version)


def answer(response: Response, result: Versioned[T]) -> T:
    """Answer a write with its outcome; return the value to send.

    Sets ``ETag`` (the stored version) and ``Occ-Outcome`` (``written``,
    ``merged``, ``overwritten``, ``discarded``, ...; ``Occ-Alerted: true`` when
    the conflict was persisted for review). A ``discarded`` write is not a
    success: the status becomes 409 Conflict and the value returned is the
    stored one, so the client sees what is stored instead of its edit.
    In FastAPI: ``return answer(response, repo.update(...))``.
    """
    for name, value in outcome_headers(result).items():
        response.headers[name] = value
    success = response.status_code or 200  # FastAPI's injected response: None, the route's
    status = outcome_status(result, success)
    if status != success:
        response.status_code = status
    return result.value


#: the errors answered by :func:`add_exception_handlers` (others stay server errors).
_ANSWERED = (
    ConflictError,
    PreconditionFailedError,
    PreconditionRequiredError,
    AlreadyExistsError,
    NotFoundError,
    ValidationError,
    NotModified,
)


def _conditional(request: Request, exc: Exception) -> bool:
    header = "if-none-match" if isinstance(exc, AlreadyExistsError) else "if-match"
    return header in request.headers


def _handler(type_base: str) -> Any:
    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, NotModified):
            return Response(status_code=304, headers={"ETag": etag(exc.version)})
        problem = problem_for(exc, conditional=_conditional(request, exc))
        assert problem is not None  # registered for the errors problem_for knows
        # The developer's advice (entity, key, "pick a conflict policy") goes to the log.
        logger.info("%s %s answered %d: %s", request.method, request.url.path, problem.status, exc)
        headers = {}
        if problem.current_version is not None:
            headers["ETag"] = etag(problem.current_version)
        return JSONResponse(
            problem.body(type_base, instance=request.url.path),
            status_code=problem.status,
            headers=headers,
            media_type=PROBLEM_JSON,
        )

    return on_error


def add_exception_handlers(app: Any, *, type_base: str = TYPE_BASE) -> None:
    """Answer `occ` errors with HTTP statuses and RFC 9457 problem details.

    The body is ``application/problem+json`` (``type``, ``title``, ``status``,
    ``detail``, ``instance``, and ``current_version`` when one is stored); what
    the developer should know (the entity, the key, "pick a conflict policy")
    is logged on the ``occ.http`` logger instead.

    - :class:`~occ.ConflictError` (the conditional write missed): 412 with the
      current ``ETag`` when the request carried ``If-Match``, else 409;
    - :class:`~occ.http.PreconditionFailedError` (``*``, weak or unmatched tags): 412;
    - :class:`~occ.http.PreconditionRequiredError`: 428; a malformed
      precondition header: 400;
    - :class:`~occ.AlreadyExistsError`: 409 (412 with ``If-None-Match``);
    - :class:`~occ.NotFoundError`: 404; :class:`~occ.ValidationError`: 422;
    - :class:`~occ.http.NotModified`: 304 with the ``ETag`` and no body.

    On a FastAPI app it also documents, in the OpenAPI schema, the answers of
    every route that depends on :class:`IfMatch` or :class:`IfNoneMatch`.

    Args:
        app: a FastAPI or Starlette application.
        type_base: prefix of the problem ``type`` URIs (e.g. your API's docs URL).
    """
    handler = _handler(type_base)
    for error in _ANSWERED:
        app.add_exception_handler(error, handler)
    document_conditions(app, IfMatch, IfNoneMatch)
