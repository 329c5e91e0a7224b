"""Synchronous push over HTTP: the same ``apply`` as a Starlette endpoint (``occ[http]``).

``POST`` an event (its JSON) to the route and the replica of its entity
applies it if newer. Idempotent: ``applied``, ``stale`` and ``duplicate``
all answer 200 with ``{"outcome": ..., "version": ...}`` and the
``Occ-Outcome`` header, so a client that retries after a lost reply is never
told it failed. An invalid event answers 422 (problem details with the
reason, nothing written); a changes-only event that does not follow the
version held answers 409 (``gap``: push the full value, or the missing events).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from occ._modes import acall
from occ.http import OUTCOME_HEADER, PROBLEM_JSON, Problem
from occ.sync._event import EventError, decode

__all__ = ["push_route"]


def _problem(request: Request, status: int, slug: str, title: str, detail: str) -> Response:
    body = Problem(status, slug, title, detail).body(instance=request.url.path)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def push_route(replicas: Iterable[Any], path: str = "/occ/events") -> Route:
    """A Starlette ``Route`` that applies pushed events to ``replicas`` (one per entity).

    Args:
        replicas: replicas (sync or async, SQL or Mongo), each applying one entity.
        path: where clients ``POST`` events.
    """
    by_entity = {replica.entity: replica for replica in replicas}

    async def endpoint(request: Request) -> Response:
        try:
            event = decode(await request.body())
            replica = by_entity.get(event.entity)
            if replica is None:
                raise EventError(f"no replica here applies {event.entity!r} events", event)
            outcome = await acall(replica.apply, event, "the replica's apply")
        except EventError as exc:
            return _problem(request, 422, "invalid-event", "Unprocessable Content", exc.reason)
        if outcome == "gap":
            detail = (
                f"version {event.previous} of this key is not held here: "
                "push the full value, or the missing events first"
            )
            return _problem(request, 409, "gap", "Conflict", detail)
        body = {"outcome": outcome, "version": event.version}
        return JSONResponse(body, headers={OUTCOME_HEADER: outcome})

    return Route(path, endpoint, methods=["POST"])
