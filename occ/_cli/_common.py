"""What every ``occ`` command shares: URL kinds, connections, and one-line errors."""

from __future__ import annotations

import re
from typing import Any, Literal

__all__ = [
    "COMMAND_EXTRAS",
    "CliError",
    "Kind",
    "async_sql_url",
    "connect_mongo",
    "connect_sql",
    "first_line",
    "install_hint",
    "kind_of",
    "missing_module",
    "safe_uri",
]

Kind = Literal["sql", "mongo"]

_SQL_SCHEMES = ("sqlite", "mysql", "mariadb", "postgresql", "postgres")
_SCHEMES_HELP = (
    "use sqlite:///file.db, mysql+pymysql://..., mariadb+pymysql://..., "
    "postgresql+psycopg://... or mongodb://..."
)


#: the extra of ``occ`` that installs each optional module a command imports.
_EXTRA_OF_MODULE = {
    "sqlalchemy": "sql",
    "greenlet": "sql",
    "pymysql": "sql",
    "psycopg": "sql",
    "aiosqlite": "sql",
    "aiomysql": "sql",
    "redis": "redis",
    "aio_pika": "rabbitmq",
    "nats": "nats",
    "pymongo": "mongo",
    "bson": "mongo",
    "motor": "mongo",
    "hypothesis": "testing",
    "rich": "cli",
}
#: the extras each command needs on its default database (SQLite).
COMMAND_EXTRAS: dict[str, tuple[str, ...]] = {
    "demo": ("cli", "sql", "testing"),
    "doctor": ("cli", "sql"),
    "conflicts": ("cli", "sql"),
    "relay": ("cli", "sql"),
    "sync": ("cli", "sql"),
}


class CliError(Exception):
    """Bad input or an unusable database: the command prints one line and exits non-zero."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, prefixed with its type (no traceback)."""
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def missing_module(exc: BaseException) -> str | None:
    """The optional module whose absence caused ``exc`` (or what raised it), else ``None``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ImportError) and seen.name is not None:
            top = seen.name.partition(".")[0]
            if top in _EXTRA_OF_MODULE:
                return top
        seen = seen.__cause__
    return None


def install_hint(command: str, missing: str | None = None) -> str:
    """``pip install 'occ[...]'`` naming every extra ``occ COMMAND`` needs.

    Args:
        command: ``demo``, ``doctor`` or ``conflicts``.
        missing: a module found missing; its extra is added (``pymongo``: ``mongo``).
    """
    extras = set(COMMAND_EXTRAS.get(command, ("cli",)))
    if missing is not None and missing in _EXTRA_OF_MODULE:
        extras.add(_EXTRA_OF_MODULE[missing])
    return f"pip install 'occ[{','.join(sorted(extras))}]'"


def kind_of(url: str) -> Kind:
    """``"sql"`` or ``"mongo"`` from the URL's scheme.

    Raises:
        CliError: the scheme is neither a SQL database occ supports nor MongoDB.
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise CliError(f"{url!r} is not a database URL ({_SCHEMES_HELP})")
    scheme = scheme.lower()
    if scheme in ("mongodb", "mongodb+srv"):
        return "mongo"
    if scheme.partition("+")[0] in _SQL_SCHEMES:
        return "sql"
    raise CliError(f"unsupported URL scheme {scheme!r} ({_SCHEMES_HELP})")


def async_sql_url(url: str) -> str:
    """The URL with an async driver: aiosqlite, aiomysql or psycopg (async)."""
    import sqlalchemy as sa

    u = sa.make_url(url)
    backend, driver = u.get_backend_name(), u.get_driver_name()
    wanted = {
        "sqlite": "aiosqlite",
        "mysql": "aiomysql",
        "mariadb": "aiomysql",
        "postgresql": "psycopg",
    }.get(backend)
    if wanted is None:
        raise CliError(f"no async driver known for {backend!r}")
    if driver in ("aiosqlite", "aiomysql", "asyncmy", "asyncpg", "psycopg"):
        return url
    return u.set(drivername=f"{backend}+{wanted}").render_as_string(hide_password=False)


def _safe(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is shown without its password
        return safe_uri(url)


def connect_sql(url: str, **kwargs: Any) -> Any:
    """A sync ``Engine`` on ``url``, checked with one ``SELECT 1``.

    Raises:
        CliError: the URL cannot be parsed, its driver is missing, or the server
            does not answer.
    """
    import sqlalchemy as sa

    if kind_of(url) != "sql":
        raise CliError(f"{url!r} is a MongoDB URI; this needs a SQL database URL")
    try:
        if url.startswith("sqlite"):
            kwargs.setdefault("connect_args", {"timeout": 30})
        engine = sa.create_engine(url, **kwargs)
    except Exception as exc:  # bad URL, missing driver
        raise CliError(f"cannot use {_safe(url)}: {first_line(exc)}") from exc
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # unreachable, auth, unknown database
        engine.dispose()
        raise CliError(f"cannot connect to {_safe(url)}: {first_line(exc)}") from exc
    return engine


def connect_mongo(uri: str, *, timeout_ms: int = 3000) -> Any:
    """A ``pymongo.MongoClient`` on ``uri`` that answered a ``ping``.

    Raises:
        CliError: PyMongo is missing, the URI is malformed, or the server does not answer.
    """
    if kind_of(uri) != "mongo":
        raise CliError(f"{uri!r} is not a MongoDB URI (mongodb://host:port/)")
    try:
        import pymongo
    except ImportError as exc:
        raise CliError(f"MongoDB needs PyMongo: {install_hint('', 'pymongo')}") from exc
    try:
        options = {"serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms}
        given: dict[str, Any] = {k: v for k, v in options.items() if k.lower() not in uri.lower()}
        client: Any = pymongo.MongoClient(uri, **given)
        client.admin.command("ping")
    except Exception as exc:  # malformed URI, unreachable server
        raise CliError(f"cannot connect to {safe_uri(uri)}: {first_line(exc)}") from exc
    return client


def safe_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` (for messages)."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", uri)
