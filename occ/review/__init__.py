"""The conflict review web app: list, compare and settle stored conflicts in a browser.

Mount it in your FastAPI or Starlette application, behind your own
authentication::

    from occ.review import Reviewer, review_app

    def reviewer(request):            # yours: session, header, SSO...
        user = request.session.get("user")
        return Reviewer.of(user["name"], entities={"account"}) if user else None

    app.mount("/review", review_app(store, {"account": accounts}, authenticate=reviewer,
                                    secret=SECRET))

or run it alone: ``occ conflicts serve --url URL --token TOKEN``. Needs the
``review`` extra (Starlette, Jinja2, python-multipart; uvicorn to serve).
"""

from __future__ import annotations

try:
    import jinja2 as _jinja2  # noqa: F401
    import starlette as _starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("occ.review needs the review extra: pip install 'occ[review]'") from exc

from occ.review._app import review_app
from occ.review._auth import Reviewer, TokenAuth, loopback_only

__all__ = ["Reviewer", "TokenAuth", "loopback_only", "review_app"]
