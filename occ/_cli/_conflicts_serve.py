"""``occ conflicts serve``: the review web app on a conflict store, standalone.

It never runs open: with ``--token`` (or ``$OCC_REVIEW_TOKEN``) every
request needs the token (``Authorization: Bearer``, or ``/login?token=`` once
in a browser); without one it binds to a loopback address only, lets in
clients of this machine only, and says so.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from occ._cli._common import CliError
from occ._cli._stores import OpenStore, load_model

__all__ = ["TOKEN_ENV", "add_serve_parser", "build_app", "serve"]

#: the environment variable ``serve`` reads when ``--token`` is not given.
TOKEN_ENV = "OCC_REVIEW_TOKEN"


def add_serve_parser(verbs: Any, common: argparse.ArgumentParser) -> None:
    """Add ``occ conflicts serve``."""
    serve_ = verbs.add_parser(
        "serve",
        parents=[common],
        help="serve the review web app",
        description="Serve the conflict review web app. Without --token it listens on "
        "127.0.0.1 only and admits only clients of this machine.",
    )
    serve_.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve_.add_argument("--port", type=int, default=8765, help="port (8765)")
    serve_.add_argument(
        "--token", help=f"require this token (default: ${TOKEN_ENV}); needed off loopback"
    )
    serve_.add_argument("--version-column", default="version", help="entities' version column")
    serve_.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="ENTITY=MODULE:CLASS",
        help="write ENTITY through your model (repeatable); others are reflected",
    )


def build_app(opened: OpenStore, token: str | None, models: dict[str, Any], version: str) -> Any:
    """The review app over ``opened``: token or loopback-only authentication."""
    import secrets

    from occ.review import TokenAuth, loopback_only, review_app

    secret = secrets.token_bytes(32)
    built: dict[str, Any] = {}

    def repository(entity: str) -> Any:
        if entity not in built:
            try:
                built[entity] = opened.repository(entity, None, version, models.get(entity))
            except CliError:  # no such table: the conflict can only be dismissed
                built[entity] = None
        return built[entity]

    auth = TokenAuth(token, secret) if token else loopback_only()
    return review_app(opened.store, repository, authenticate=auth, secret=secret)


def _models(specs: list[str]) -> dict[str, Any]:
    out = {}
    for spec in specs:
        entity, sep, target = spec.partition("=")
        if not sep:
            raise CliError(f"--model takes ENTITY=module:Class, got {spec!r}")
        out[entity] = load_model(target)
    return out


def serve(opened: OpenStore, args: argparse.Namespace) -> int:
    """Run the review app until interrupted."""
    from occ.review._auth import is_loopback

    try:
        import uvicorn
    except ImportError:
        raise CliError("serving needs uvicorn: pip install 'occ[review]'") from None
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 16:
        raise CliError("the token needs at least 16 characters (try: openssl rand -hex 16)")
    if token is None and not is_loopback(args.host):
        raise CliError(
            f"refusing to serve on {args.host} without a token: pass --token (or set "
            f"{TOKEN_ENV}), or bind to 127.0.0.1"
        )
    app = build_app(opened, token, _models(args.model), args.version_column)
    where = f"http://{args.host}:{args.port}/"
    if token is None:
        print(
            f"warning: no token: anyone on this machine who can reach {where} may resolve "
            "conflicts; pass --token to require one",
            file=sys.stderr,
        )
        print(f"review conflicts at {where}", file=sys.stderr, flush=True)
    else:
        print(f"review conflicts at {where}login?token=<your token>", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
