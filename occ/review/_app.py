"""Build the review app: a Starlette application to mount in yours, or to serve alone."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from occ.review import _actions, _pages
from occ.review._auth import SECURITY_HEADERS, SESSION_COOKIE, Authenticate, TokenAuth, set_cookie
from occ.review._backend import Backend, Repositories
from occ.review._context import Context, NotAllowed

__all__ = ["review_app"]

Handler = Callable[[Context, Request, Any], Awaitable[Response]]


def _guarded(ctx: Context, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            reviewer = await ctx.reviewer(request)
        except NotAllowed:
            response = ctx.plain(request, 401, "Sign in first", "You are not allowed here.")
            if isinstance(ctx.authenticate, TokenAuth):
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await handler(ctx, request, reviewer)

    return endpoint


async def _conflict(ctx: Context, request: Request, reviewer: Any) -> Response:
    record = await _pages.visible_record(ctx, reviewer, request.path_params["cid"])
    if record is None:
        return ctx.plain(request, 404, "No such conflict", "It does not exist, or is not yours.")
    return await _pages.conflict_page(ctx, request, reviewer, record)


def _login(ctx: Context, auth: TokenAuth) -> Callable[[Request], Awaitable[Response]]:
    async def login(request: Request) -> Response:
        if not auth.valid(request.query_params.get("token", "")):
            return ctx.plain(request, 401, "Sign in first", "That token is not valid.")
        response = RedirectResponse(str(request.url_for("list")), status_code=303)
        set_cookie(response, request, SESSION_COOKIE, auth.session())
        return response

    return login


class _Headers(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def review_app(
    store: Any,
    repositories: Repositories | None = None,
    *,
    authenticate: Authenticate,
    secret: bytes | str | None = None,
    title: str = "Conflicts",
    page_size: int = 50,
    bulk_limit: int = 500,
) -> Starlette:
    """The conflict review web app, to mount in a FastAPI or Starlette application.

    Args:
        store: the conflict store (SQL or MongoDB, sync or async).
        repositories: ``{entity: repository}``, or a function ``entity -> repository | None``:
            resolutions write through them (conditional writes). An entity without one
            can only be dismissed.
        authenticate: your authentication: ``authenticate(request)`` (sync or async) returns
            an :class:`~occ.review.Reviewer` (recorded as who resolved; its ``entities``
            bound what it sees) or ``None`` (401). There is no default: the app never runs open.
        secret: signs CSRF tokens; give the same one to every worker (default: random per
            process).
        title: the pages' title.
        page_size: conflicts per page.
        bulk_limit: the most conflicts one bulk action settles.

    Returns:
        A Starlette app: ``app.mount("/review", review_app(...))``.
    """
    if authenticate is None or not callable(authenticate):
        raise TypeError("review_app needs authenticate=: a function of the request -> Reviewer")
    key = secret.encode() if isinstance(secret, str) else secret or secrets.token_bytes(32)
    ctx = Context(
        Backend(store, repositories),
        authenticate,
        key,
        title=title,
        page_size=page_size,
        bulk_limit=bulk_limit,
    )
    routes: list[Any] = [
        Route("/", _guarded(ctx, _pages.list_page), name="list"),
        Route("/c/{cid}", _guarded(ctx, _conflict), name="conflict"),
        Route(
            "/c/{cid}/resolve", _guarded(ctx, _actions.resolve), methods=["POST"], name="resolve"
        ),
        Route("/bulk", _guarded(ctx, _actions.bulk), methods=["POST"], name="bulk"),
        Route("/purge", _guarded(ctx, _actions.purge), methods=["POST"], name="purge"),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    if isinstance(authenticate, TokenAuth):
        routes.append(Route("/login", _login(ctx, authenticate), name="login"))
    return Starlette(routes=routes, middleware=[Middleware(_Headers)])
