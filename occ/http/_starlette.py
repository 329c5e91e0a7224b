"""FastAPI / Starlette glue: the ``If-Match`` dependency, ETag headers, error responses."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from occ._core.model import Version
from occ.errors import ConflictError, NotFoundError, ValidationError
from occ.http._etag import (
    MalformedPrecondition,
    Precondition,
    PreconditionFailedError,
    etag,
    parse_if_match,
)

__all__ = ["IfMatch", "add_exception_handlers", "set_etag"]


class IfMatch:
    """A dependency that turns ``If-Match`` into a :class:`Precondition`.

    It only parses the header: the version check happens in the conditional
    write (``update(..., expected_version=pre.expected_version)``), never in a
    read before it. In FastAPI: ``pre: Precondition = Depends(IfMatch())``; in
    Starlette: ``pre = IfMatch()(request)``.

    Args:
        required: answer 428 Precondition Required when the header is missing.
        version_type: ``"int"`` or ``"timestamp"``, how ETags map to versions.

    Raises:
        HTTPException: 400 for a malformed header, 428 for a missing one.
    """

    def __init__(self, *, required: bool = True, version_type: str = "int") -> None:
        if version_type not in ("int", "timestamp"):
            raise ValidationError(
                f"version_type must be 'int' or 'timestamp', got {version_type!r}"
            )
        self.required = required
        self.version_type = version_type

    def __call__(self, request: Request) -> Precondition:
        """Parse the request's ``If-Match`` fields."""
        values = request.headers.getlist("if-match")
        if not values:
            if self.required:
                raise HTTPException(428, "this resource needs If-Match: send the ETag you read")
            return Precondition()
        try:
            return parse_if_match(", ".join(values), self.version_type)
        except MalformedPrecondition as exc:
            raise HTTPException(400, str(exc)) from None


def set_etag(response: Response, version: Version) -> None:
    """Set the ``ETag`` header of ``response`` from a version."""
    response.headers["ETag"] = etag(version)


def _json(status: int, detail: str, version: Version | None, **extra: Any) -> JSONResponse:
    headers = {} if version is None else {"ETag": etag(version)}
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


async def _on_conflict(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConflictError)
    conflict = exc.conflict
    # A stale If-Match is 412 (RFC 9110); a stale version sent otherwise is 409.
    status = 412 if request.headers.get("if-match") is not None else 409
    current = None if conflict.deleted else conflict.actual_version
    return _json(status, conflict.describe(), current, current_version=_plain(current))


async def _on_precondition_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PreconditionFailedError)
    current = exc.current_version
    return _json(412, str(exc), current, current_version=_plain(current))


async def _on_not_found(request: Request, exc: Exception) -> Response:
    return _json(404, str(exc), None)


async def _on_invalid(request: Request, exc: Exception) -> Response:
    return _json(400 if isinstance(exc, MalformedPrecondition) else 422, str(exc), None)


def _plain(version: Version | None) -> Any:
    return version.isoformat() if version is not None and not isinstance(version, int) else version


def add_exception_handlers(app: Any) -> None:
    """Answer `occ` errors with HTTP statuses on a FastAPI or Starlette app.

    - :class:`~occ.ConflictError` (the conditional write missed): 412 with the
      current ``ETag`` when the request carried ``If-Match``, else 409;
    - :class:`PreconditionFailedError` (``*``, weak or unmatched tags): 412;
    - :class:`~occ.NotFoundError`: 404; :class:`~occ.ValidationError`: 422
      (400 for a malformed precondition header).
    """
    app.add_exception_handler(ConflictError, _on_conflict)
    app.add_exception_handler(PreconditionFailedError, _on_precondition_failed)
    app.add_exception_handler(NotFoundError, _on_not_found)
    app.add_exception_handler(ValidationError, _on_invalid)
