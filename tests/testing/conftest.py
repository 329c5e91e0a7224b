"""Fixtures of the occ.testing tests: the workload tables on each SQL backend."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.testing.workloads import create_tables


def _no_fsync(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


@pytest.fixture
def tables(engine: sa.Engine) -> sa.Engine:
    """The workload tables; SQLite skips fsync (durability is not what these tests prove)."""
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _no_fsync)
        engine.dispose()
    create_tables(engine)
    return engine


@pytest.fixture
def atables(async_engine: AsyncEngine, tables: sa.Engine) -> AsyncEngine:
    """The async engine on the same database, with the workload tables."""
    if async_engine.dialect.name == "sqlite":
        sa.event.listen(async_engine.sync_engine, "connect", _no_fsync)
    return async_engine
