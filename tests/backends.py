"""Where the test databases are, and how to reach them.

SQLite is embedded. MariaDB and PostgreSQL default to the local servers and
are overridden by ``OCC_MYSQL_URL`` and ``OCC_POSTGRES_URL``. With ``CI`` set,
a database that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

IN_CI = bool(os.environ.get("CI"))

MYSQL_URL = os.environ.get("OCC_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get(
    "OCC_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Backend:
    """A SQL backend under test: its sync and async URLs."""

    name: str
    url: str
    async_url: str

    def sqlite_file(self, directory: str) -> Backend:
        path = os.path.join(directory, "occ-test.sqlite3")
        return Backend(self.name, f"sqlite:///{path}", f"sqlite+aiosqlite:///{path}")


def _async_url(url: str) -> str:
    u = sa.make_url(url)
    name = u.get_backend_name()
    driver = {"mysql": "aiomysql", "mariadb": "aiomysql", "postgresql": "psycopg"}[name]
    return u.set(drivername=f"{name}+{driver}").render_as_string(hide_password=False)


SQLITE = Backend("sqlite", "sqlite://", "sqlite+aiosqlite://")
MARIADB = Backend("mariadb", MYSQL_URL, _async_url(MYSQL_URL))
POSTGRESQL = Backend("postgresql", POSTGRES_URL, _async_url(POSTGRES_URL))
SQL_BACKENDS = (SQLITE, MARIADB, POSTGRESQL)


@functools.cache
def unreachable(url: str) -> str | None:
    """Why ``url`` cannot be reached, or ``None`` if it can."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def require(backend: Backend) -> None:
    """Skip (locally) or fail (in CI) when the backend's server is down."""
    if backend.name == "sqlite":
        return
    why = unreachable(backend.url)
    if why is None:
        return
    message = f"{backend.name} at {backend.url} is unreachable: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing database is a failure)", pytrace=False)
    pytest.skip(message)
