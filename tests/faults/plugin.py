"""Fixtures of the fault-injection toolkit, usable from any test module.

``tests/conftest.py`` loads this module (``pytest_plugins``). Every proxy a
test makes is closed after it, and every admin connection of the session
killer disposed of.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.backends import MARIADB, POSTGRESQL, SuiteDatabases
from tests.faults.proxy import Proxy
from tests.faults.sessions import SessionKiller


class Proxies:
    """Makes proxies in front of servers named by URL; closes them all at the end."""

    def __init__(self) -> None:
        self.made: list[Proxy] = []

    def __call__(self, url: str | sa.URL, **options: Any) -> Proxy:
        """A new :class:`Proxy` in front of the server ``url`` names (SQLAlchemy or Mongo).

        Args:
            url: a MariaDB/PostgreSQL SQLAlchemy URL or a ``mongodb://`` URI.
            options: passed to :class:`Proxy` (``max_connections``, ``timeout``, ...).
        """
        proxy = Proxy.for_url(url, **options)
        self.made.append(proxy)
        return proxy

    def close(self) -> None:
        for proxy in self.made:
            proxy.close()


@pytest.fixture
def proxies() -> Iterator[Proxies]:
    """``proxies(url, **options) -> Proxy``: proxies to any server, closed after the test."""
    made = Proxies()
    yield made
    made.close()


@pytest.fixture
def mariadb_proxy(proxies: Proxies, private_databases: SuiteDatabases) -> Proxy:
    """A proxy in front of the test MariaDB server (this run's private database)."""
    return proxies(private_databases.require(MARIADB).url)


@pytest.fixture
def postgres_proxy(proxies: Proxies, private_databases: SuiteDatabases) -> Proxy:
    """A proxy in front of the test PostgreSQL server (this run's private database)."""
    return proxies(private_databases.require(POSTGRESQL).url)


@pytest.fixture
def mongo_proxy(proxies: Proxies, mongodb_uri: str) -> Proxy:
    """A proxy in front of the test MongoDB server; connect to ``mongo_proxy.url(mongodb_uri)``."""
    return proxies(mongodb_uri)


@pytest.fixture
def session_killer() -> Iterator[SessionKiller]:
    """Kills the server session of a connection the test opened: ``session_killer.kill(conn)``."""
    killer = SessionKiller()
    yield killer
    killer.close()
