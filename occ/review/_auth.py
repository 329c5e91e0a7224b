"""Who reviews, and the checks around every request: authentication, CSRF, headers.

The embedding application authenticates: ``authenticate(request)`` returns a
:class:`Reviewer` (its name is recorded with each resolution, its
``entities`` bound what it sees) or ``None`` (the request is refused, 401).
Every action is a POST carrying a CSRF token: the HMAC, under the app's
secret, of a random cookie (``SameSite=Strict``, ``HttpOnly``) and the
reviewer's name, so another site can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "CSRF_COOKIE",
    "SECURITY_HEADERS",
    "Authenticate",
    "Reviewer",
    "TokenAuth",
    "check_csrf",
    "csrf_token",
    "is_loopback",
    "loopback_only",
    "reviewer_of",
]

CSRF_COOKIE = "occ_review_csrf"
SESSION_COOKIE = "occ_review_session"

#: sent with every page: no framing, no third-party anything, nothing cached, no referrer
#: sent elsewhere (same-origin, not no-referrer: Chromium then posts forms with Origin: null).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Reviewer:
    """Someone allowed to review conflicts.

    Attributes:
        name: recorded as who resolved a conflict.
        entities: the entities they may see and settle (``None``: every one).
    """

    name: str
    entities: frozenset[str] | None = None

    @classmethod
    def of(cls, name: str, entities: Collection[str] | None = None) -> Reviewer:
        """A reviewer who may see ``entities`` (``None``: all)."""
        return cls(name, None if entities is None else frozenset(entities))

    def may_see(self, entity: str) -> bool:
        """Whether this reviewer may see conflicts on ``entity``."""
        return self.entities is None or entity in self.entities


#: the embedding app's authentication: the request's reviewer, or ``None`` (sync or async).
Authenticate = Callable[[Request], "Reviewer | Awaitable[Reviewer | None] | None"]


async def reviewer_of(authenticate: Authenticate, request: Request) -> Reviewer | None:
    """Run ``authenticate`` (a coroutine function or a plain one) on ``request``."""
    found: Any = authenticate(request)
    if inspect.isawaitable(found):
        found = await found
    if found is not None and not isinstance(found, Reviewer):
        raise TypeError(f"authenticate() must return a Reviewer or None, got {found!r}")
    return found


def _mac(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()


def csrf_token(secret: bytes, request: Request, reviewer: Reviewer) -> tuple[str, str | None]:
    """The form token for this reviewer, and a new cookie value to set (``None``: keep)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = None
    if not cookie or len(cookie) < 32:
        cookie = fresh = secrets.token_urlsafe(32)
    return _mac(secret, "csrf", cookie, reviewer.name), fresh


def check_csrf(secret: bytes, request: Request, reviewer: Reviewer, token: str) -> bool:
    """Whether the posted ``token`` matches the cookie and the reviewer, and the origin is ours."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return False
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not token:
        return False
    return hmac.compare_digest(_mac(secret, "csrf", cookie, reviewer.name), token)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """Set an HttpOnly, SameSite=Strict cookie scoped to where the app is mounted."""
    path = request.scope.get("root_path", "") or "/"
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=path,
    )


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address) is on this machine."""
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def loopback_only(name: str = "local") -> Authenticate:
    """An ``authenticate`` that lets in any client on this machine, and nobody else."""

    def authenticate(request: Request) -> Reviewer | None:
        client = request.client.host if request.client else None
        return Reviewer(name) if is_loopback(client) else None

    return authenticate


class TokenAuth:
    """An ``authenticate`` for a shared secret token (``occ conflicts serve --token``).

    A client sends ``Authorization: Bearer TOKEN``, or opens ``/login?token=TOKEN``
    once: that sets a session cookie (the token's HMAC) and redirects to the list.

    Args:
        token: the token (at least 16 characters).
        secret: the app's secret, to sign the session cookie.
        name: the reviewer name recorded.
    """

    def __init__(self, token: str, secret: bytes, name: str = "token") -> None:
        if len(token) < 16:
            raise ValueError("a review token needs at least 16 characters")
        self.token = token
        self.secret = secret
        self.name = name

    def session(self) -> str:
        """The session cookie's value."""
        return _mac(self.secret, "session", self.token)

    def valid(self, token: str) -> bool:
        """Whether ``token`` is the token."""
        return hmac.compare_digest(token.encode(), self.token.encode())

    def __call__(self, request: Request) -> Reviewer | None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and self.valid(given.strip()):
            return Reviewer(self.name)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie and hmac.compare_digest(cookie, self.session()):
            return Reviewer(self.name)
        return None
