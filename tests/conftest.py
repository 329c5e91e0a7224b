"""Fixtures shared by the whole suite: SQL engines on every backend, Hypothesis profile."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import occ.policies
import occ.sql
from occ.testing.databases import PrivateDatabases
from tests.backends import IN_CI, SQL_BACKENDS, Backend, SuiteDatabases

pytest_plugins = ["tests.mongo_server", "tests.faults.plugin"]

# occ's pytest plugin registers its Hypothesis profiles and loads none: this suite opts in.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "occ-ci" if IN_CI else "occ-dev"))


@pytest.fixture(scope="session")
def private_databases() -> Iterator[SuiteDatabases]:
    """This run's own database on each SQL server, dropped when the session ends."""
    with PrivateDatabases() as databases:
        yield SuiteDatabases(databases)


@pytest.fixture(params=SQL_BACKENDS, ids=lambda b: b.name)
def backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    private_databases: SuiteDatabases,
) -> Backend:
    """Each SQL backend in turn (SQLite on a fresh file, the servers on this run's database)."""
    b = private_databases.require(request.param)
    if b.name == "sqlite":
        b = b.sqlite_file(str(tmp_path_factory.mktemp("sqlite")))
    return b


def make_engine(backend: Backend) -> sa.Engine:
    if backend.name == "sqlite":
        return sa.create_engine(backend.url, connect_args={"timeout": 30})
    return sa.create_engine(backend.url, pool_size=10, max_overflow=10)


@pytest.fixture
def engine(backend: Backend) -> Iterator[sa.Engine]:
    """A sync engine on the backend."""
    eng = make_engine(backend)
    yield eng
    occ.sql.dispose(eng)


@pytest.fixture
async def async_engine(backend: Backend) -> AsyncIterator[AsyncEngine]:
    """An async engine on the backend (aiosqlite, aiomysql, psycopg async)."""
    kwargs = {"connect_args": {"timeout": 30}} if backend.name == "sqlite" else {}
    eng = create_async_engine(backend.async_url, **kwargs)
    yield eng
    await occ.sql.adispose(eng)


@pytest.fixture(autouse=True)
def _clean_policy_registry() -> Iterator[None]:
    yield
    occ.policies.clear()


@pytest.fixture
def db(engine: sa.Engine) -> sa.Engine:
    """The sync engine with the test tables freshly created."""
    from tests.sql.models import create_all

    create_all(engine)
    return engine


@pytest.fixture
async def adb(async_engine: AsyncEngine, engine: sa.Engine) -> AsyncEngine:
    """The async engine with the test tables freshly created."""
    from tests.sql.models import create_all

    create_all(engine)
    return async_engine


@pytest.fixture
def pg_db(private_databases: SuiteDatabases) -> Iterator[sa.Engine]:
    """PostgreSQL alone (for behaviour only PostgreSQL has), tables created."""
    from tests.backends import POSTGRESQL
    from tests.sql.models import create_all

    eng = make_engine(private_databases.require(POSTGRESQL))
    create_all(eng)
    yield eng
    occ.sql.dispose(eng)
