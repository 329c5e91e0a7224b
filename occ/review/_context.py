"""What every handler of the review app shares: configuration, the reviewer, rendering."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from occ.review._auth import (
    CSRF_COOKIE,
    Authenticate,
    Reviewer,
    csrf_token,
    reviewer_of,
    set_cookie,
)
from occ.review._backend import Backend
from occ.review._present import display, version_text

__all__ = ["Context", "NotAllowed"]


class NotAllowed(Exception):
    """The request has no reviewer: answered 401."""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("occ.review", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["shown"] = display
    env.filters["version"] = version_text
    return env


@dataclass
class Context:
    """The review app's configuration and helpers.

    Attributes:
        backend: the store and the repositories.
        authenticate: the embedding app's authentication.
        secret: signs CSRF tokens and sessions.
        title: shown on every page.
        page_size: conflicts per page of the list.
        bulk_limit: the most conflicts one bulk action settles.
    """

    backend: Backend
    authenticate: Authenticate
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    title: str = "Conflicts"
    page_size: int = 50
    bulk_limit: int = 500
    env: jinja2.Environment = field(default_factory=_environment)

    async def reviewer(self, request: Request) -> Reviewer:
        """The request's reviewer.

        Raises:
            NotAllowed: the embedding app's ``authenticate`` said nobody.
        """
        found = await reviewer_of(self.authenticate, request)
        if found is None:
            raise NotAllowed
        return found

    def render(
        self, request: Request, reviewer: Reviewer, template: str, status: int = 200, **data: Any
    ) -> HTMLResponse:
        """The page ``template`` with ``data``, a CSRF token and the reviewer."""
        token, fresh = csrf_token(self.secret, request, reviewer)
        html = self.env.get_template(template).render(
            request=request, reviewer=reviewer, csrf=token, title=self.title, **data
        )
        response = HTMLResponse(html, status_code=status)
        if fresh is not None:
            set_cookie(response, request, CSRF_COOKIE, fresh)
        return response

    def plain(self, request: Request, status: int, heading: str, message: str) -> HTMLResponse:
        """A page with a heading and a message (errors, refusals)."""
        html = self.env.get_template("message.html").render(
            request=request, title=self.title, heading=heading, message=message
        )
        return HTMLResponse(html, status_code=status)
