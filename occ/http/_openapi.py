"""OpenAPI for routes with preconditions: what FastAPI cannot infer from a dependency.

FastAPI shows the ``If-Match`` / ``If-None-Match`` header parameters the
dependencies declare; this adds, to every operation of a route that depends on
one, what it answers: 412, 428, 409 and 400 with problem details for writes,
304 for reads, the ``ETag`` (and ``Occ-Outcome``) response headers, and marks
``If-Match`` required where a missing one answers 428. It edits the schema
FastAPI generated, once, when it is first asked for. Pure: no FastAPI import.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from occ.http._outcomes import ALERTED_HEADER, OUTCOME_HEADER
from occ.http._problems import PROBLEM_JSON

__all__ = ["PROBLEM_SCHEMA", "document_conditions"]

#: the schema of a problem details body (RFC 9457 §3), under ``components.schemas``.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ProblemDetails",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
        "current_version": {
            "description": "The version stored now (also sent as the ETag).",
            "anyOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}],
        },
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
_ETAG = {"description": 'The version stored now, as a strong entity-tag: "3".'}
_HEADER = {"schema": {"type": "string"}}


def document_conditions(app: Any, if_match: type, if_none_match: type) -> None:
    """Document the routes of ``app`` that depend on ``if_match`` / ``if_none_match`` objects.

    Does nothing on an application without an OpenAPI schema (Starlette).
    """
    generate = getattr(app, "openapi", None)
    if generate is None or not hasattr(app, "openapi_schema"):
        return
    done: dict[str, Any] = {"schema": None}

    def openapi() -> dict[str, Any]:
        schema: dict[str, Any] = generate()
        if done["schema"] is not schema:  # once per generated schema
            _document(schema, app.routes, if_match, if_none_match)
            done["schema"] = schema
        return schema

    app.openapi = openapi


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in getattr(dependant, "dependencies", ()):
        yield sub.call
        yield from _calls(sub)


def _document(schema: dict[str, Any], routes: Any, if_match: type, if_none_match: type) -> None:
    paths = schema.get("paths", {})
    used = False
    for route in routes:
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        calls = list(_calls(dependant))
        guards = [c for c in calls if isinstance(c, if_match)]
        caches = [c for c in calls if isinstance(c, if_none_match)]
        if not (guards or caches):
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            operation = paths.get(getattr(route, "path_format", ""), {}).get(method.lower())
            if operation is None:  # not in the schema (include_in_schema=False)
                continue
            used = True
            responses = operation.setdefault("responses", {})
            _success_headers(responses, write=bool(guards))
            if guards:
                _writes(
                    operation, responses, required=any(getattr(g, "required", True) for g in guards)
                )
            if caches:
                _reads(responses)
    if used:
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ProblemDetails", copy.deepcopy(PROBLEM_SCHEMA))


def _success(responses: dict[str, Any]) -> list[dict[str, Any]]:
    return [answer for code, answer in responses.items() if str(code).startswith("2")]


def _success_headers(responses: dict[str, Any], *, write: bool) -> None:
    for answer in _success(responses):
        headers = answer.setdefault("headers", {})
        headers.setdefault("ETag", {**_ETAG, **_HEADER})
        if write:
            headers.setdefault(OUTCOME_HEADER, _outcome_header())
            headers.setdefault(ALERTED_HEADER, _alerted_header())


def _outcome_header() -> dict[str, Any]:
    return {
        "description": "What the write did: written, merged, overwritten, unchanged, "
        "retried, commutative (discarded answers 409).",
        **_HEADER,
    }


def _alerted_header() -> dict[str, Any]:
    return {"description": "true: the conflict was persisted for review.", **_HEADER}


def _problem(description: str, *, etag: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": copy.deepcopy(_PROBLEM)}
    if etag:
        answer["headers"] = {"ETag": {**_ETAG, **_HEADER}}
    return answer


def _writes(operation: dict[str, Any], responses: dict[str, Any], *, required: bool) -> None:
    for parameter in operation.get("parameters", ()):
        if parameter.get("in") == "header" and parameter.get("name", "").lower() == "if-match":
            parameter["required"] = required
            if required:  # a value is needed: drop the ``null`` of the Python default
                _not_null(parameter.get("schema", {}))
    responses.setdefault(
        "412",
        _problem(
            "Precondition Failed: the resource changed since the ETag sent in If-Match "
            "(ETag: the current version).",
            etag=True,
        ),
    )
    if required:
        responses.setdefault(
            "428", _problem("Precondition Required: send If-Match with the ETag you read.")
        )
    responses.setdefault("400", _problem("Bad Request: a malformed If-Match."))
    discarded = _problem(
        "Conflict. Discarded by the entity's policy: the body is the stored value, "
        f"ETag its version, {OUTCOME_HEADER}: discarded. Or, without If-Match, the "
        "resource changed since the version sent: problem details."
    )
    discarded["headers"] = {
        "ETag": {**_ETAG, **_HEADER},
        OUTCOME_HEADER: _outcome_header(),
        ALERTED_HEADER: _alerted_header(),
    }
    for answer in _success(responses)[:1]:
        discarded["content"].update(copy.deepcopy(answer.get("content", {})))
    responses.setdefault("409", discarded)


def _not_null(schema: dict[str, Any]) -> None:
    options = [o for o in schema.pop("anyOf", ()) if o.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options


def _reads(responses: dict[str, Any]) -> None:
    responses.setdefault(
        "304",
        {
            "description": "Not Modified: the ETag sent in If-None-Match is current.",
            "headers": {"ETag": {**_ETAG, **_HEADER}},
        },
    )
    responses.setdefault("400", _problem("Bad Request: a malformed If-None-Match."))
