"""Fixtures of the fault-toolkit tests: each SQL server, and a probe table on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from tests.backends import MARIADB, POSTGRESQL, Backend, SuiteDatabases

#: client-side bounds, so a test never waits on a silent server for long.
CONNECT_ARGS = {
    "mariadb": {"connect_timeout": 5, "read_timeout": 15, "write_timeout": 15},
    "postgresql": {"connect_timeout": 5},
}


@dataclass
class Probe:
    """A one-row table ``name (id, n)`` on a server, and a direct engine to inspect it."""

    backend: Backend
    name: str
    direct: sa.Engine

    def engine(self, url: str) -> sa.Engine:
        """An engine on ``url`` (e.g. through a proxy) with bounded client timeouts."""
        return sa.create_engine(url, connect_args=CONNECT_ARGS[self.backend.name])

    def bump(self, conn: sa.Connection) -> None:
        """``UPDATE <probe> SET n = n + 1`` (the statement the tests intercept)."""
        conn.execute(sa.text(f"UPDATE {self.name} SET n = n + 1 WHERE id = 1"))

    @property
    def pattern(self) -> bytes:
        """What the bump statement contains and nothing else does."""
        return f"UPDATE {self.name}".encode()

    def n(self) -> int:
        """The stored ``n``, read directly from the server."""
        with self.direct.connect() as conn:
            return int(
                conn.execute(sa.text(f"SELECT n FROM {self.name} WHERE id = 1")).scalar_one()
            )


@pytest.fixture(params=[MARIADB, POSTGRESQL], ids=lambda b: b.name)
def server(request: pytest.FixtureRequest, private_databases: SuiteDatabases) -> Backend:
    """MariaDB, then PostgreSQL (this run's private database on each)."""
    return private_databases.require(request.param)


@pytest.fixture
def probe(server: Backend) -> Iterator[Probe]:
    """A fresh probe table holding ``(1, 0)``, dropped afterwards."""
    name = f"fault_probe_{uuid.uuid4().hex[:10]}"
    direct = sa.create_engine(server.url, connect_args=CONNECT_ARGS[server.name])
    with direct.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id INT PRIMARY KEY, n INT NOT NULL)"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1, 0)"))
    try:
        yield Probe(server, name, direct)
    finally:
        with direct.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        direct.dispose()
