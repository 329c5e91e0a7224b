"""Fixtures of the cluster tests: the session's Galera cluster and PostgreSQL standby pair.

Modules here re-run chosen tests of the suite (:func:`tests.cluster.reuse.rerun`)
with ``backend`` bound to a Galera node, and add tests that write through all
three nodes at once or read from a lagging standby.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import occ.sql
from scripts._servers import wait_until
from tests.backends import Backend, SuiteDatabases
from tests.cluster.clusters import galera_urls, pg_standby_urls
from tests.cluster.standby import Standby


@pytest.fixture(scope="session")
def galera_servers() -> Iterator[list[str]]:
    """The URLs of the session's three Galera nodes (no database)."""
    with galera_urls() as urls:
        yield urls


@pytest.fixture(scope="session")
def galera_nodes(galera_servers: list[str], private_databases: SuiteDatabases) -> list[Backend]:
    """This run's private database on the cluster, as one Backend per node.

    The database is created through the first node; Galera replicates the
    ``CREATE DATABASE`` (and every table created later) to the others.
    """
    first = private_databases.require(Backend("galera", galera_servers[0] + "test", ""))
    name = sa.make_url(first.url).database
    nodes = []
    for server in galera_servers:
        url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
        # Named "mariadb": the tests' MariaDB branches apply to a Galera node too.
        nodes.append(Backend("mariadb", url, "").at(url))
    return nodes


@pytest.fixture
def backend(galera_nodes: list[Backend]) -> Backend:
    """The first node, for the suite's tests re-run here."""
    return galera_nodes[0]


@pytest.fixture
def node_engines(galera_nodes: list[Backend]) -> Iterator[list[sa.Engine]]:
    """One sync engine per node, on this run's database."""
    engines = [sa.create_engine(n.url, pool_size=10, max_overflow=10) for n in galera_nodes]
    yield engines
    for engine in engines:
        occ.sql.dispose(engine)


@pytest.fixture(scope="session")
def pg_pair() -> Iterator[tuple[str, str, str]]:
    """The session's PostgreSQL primary and standby URLs, and their directory."""
    with pg_standby_urls() as pair:
        yield pair


@pytest.fixture(scope="session")
def standby_backends(
    pg_pair: tuple[str, str, str], private_databases: SuiteDatabases
) -> tuple[Backend, Backend]:
    """This run's private database on the primary, and the same database on the standby."""
    primary_url, standby_url, _ = pg_pair
    primary = private_databases.require(Backend("postgresql", primary_url, ""))
    name = sa.make_url(primary.url).database
    url = sa.make_url(standby_url).set(database=name).render_as_string(hide_password=False)
    probe = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:  # the CREATE DATABASE reaches the standby by replication
        wait_until("the private database on the standby", lambda: bool(probe.connect()), 60)
    finally:
        probe.dispose()
    return primary.at(primary.url), Backend("postgresql", url, "").at(url)


@pytest.fixture
def standby(
    pg_pair: tuple[str, str, str], standby_backends: tuple[Backend, Backend]
) -> Iterator[Standby]:
    """Engines on the primary and the standby, and control of the standby's lag."""
    primary = sa.create_engine(standby_backends[0].url)
    replica = sa.create_engine(standby_backends[1].url)
    found = Standby(pg_pair[2], primary, replica)
    found.catch_up()
    yield found
    occ.sql.dispose(primary)
    occ.sql.dispose(replica)
