"""Where the test databases are, and how each run gets databases of its own.

SQLite is embedded (a new file per test). MariaDB and PostgreSQL are the
servers named by ``OCC_MYSQL_URL`` and ``OCC_POSTGRES_URL`` (default: the
local ones); the suite never uses the database those URLs name but creates a
private one on each server the first time a test needs it
(``occ_t_<UTC time>_<random>``, see :mod:`occ.testing.databases`) and drops
it when the session ends, so concurrent runs never touch each other's tables.
With ``CI`` set, a server that cannot be reached (or that refuses to create
the database) fails the run instead of skipping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import NoReturn

import pytest
import sqlalchemy as sa

from occ.testing.databases import DatabaseUnavailableError, PrivateDatabases

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

    def at(self, url: str) -> Backend:
        """The same backend on the database ``url`` names."""
        return replace(self, url=url, async_url=_async_url(url))


def _async_url(url: str) -> str:
    u = sa.make_url(url)
    name = u.get_backend_name()
    driver = {"mysql": "aiomysql", "mariadb": "aiomysql", "postgresql": "psycopg"}[name]
    return u.set(drivername=f"{name}+{driver}").render_as_string(hide_password=False)


SQLITE = Backend("sqlite", "sqlite://", "sqlite+aiosqlite://")
MARIADB = Backend("mariadb", MYSQL_URL, _async_url(MYSQL_URL))
POSTGRESQL = Backend("postgresql", POSTGRES_URL, _async_url(POSTGRES_URL))
SQL_BACKENDS = (SQLITE, MARIADB, POSTGRESQL)
#: ``@servers_only`` on a test that takes the ``backend`` fixture (or ``engine``, ``db``):
#: run it on the SQL servers alone, for what the embedded SQLite has not (row locks,
#: concurrent write transactions, a connection to cut).
servers_only = pytest.mark.parametrize(
    "backend", [MARIADB, POSTGRESQL], indirect=True, ids=["mariadb", "postgresql"]
)


def unavailable(message: str) -> NoReturn:
    """Skip (locally) or fail (in CI): a database the test needs is missing."""
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing database is a failure)", pytrace=False)
    pytest.skip(message)


class SuiteDatabases:
    """The session's private database on each server, created the first time it is needed."""

    def __init__(self, databases: PrivateDatabases) -> None:
        self._databases = databases

    def get(self, backend: Backend) -> Backend | DatabaseUnavailableError:
        """``backend`` on this session's private database, or why there is none."""
        if backend.name == "sqlite":
            return backend
        try:
            return backend.at(self._databases.url(backend.url))
        except DatabaseUnavailableError as exc:
            return exc

    def require(self, backend: Backend) -> Backend:
        """``backend`` on this session's private database; skip or fail if there is none."""
        made = self.get(backend)
        if isinstance(made, DatabaseUnavailableError):
            unavailable(f"{backend.name}: no private database on {made}")
        return made
