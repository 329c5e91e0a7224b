"""Autocommit sibling engines: one round trip per single-statement write.

A single-row write outside a caller's transaction needs no BEGIN/COMMIT.
Switching a pooled connection to autocommit per checkout costs round trips
on MySQL (``SET AUTOCOMMIT``, then a reset on return), so `occ` keeps one
sibling engine per user engine: same URL, a pool recreated from the user's
pool (same creator, connect arguments and pool events), AUTOCOMMIT set once
per connection, and no ROLLBACK on release.

In-memory SQLite shares one connection (StaticPool/SingletonThreadPool): a
second pool would open another, empty database. Switching that connection to
autocommit and back on every checkout (SQLAlchemy sets ``isolation_level``
and runs a ``PRAGMA`` each way) cost more than twice the write itself in the
benchmarks, while SQLite in autocommit mode runs the same BEGIN/COMMIT inside
the library, in-process: so repositories on such an engine
(:func:`shares_one_connection`) write in an ordinary ``engine.begin()``
transaction instead.

It also holds the few things the sync and async drivers do differently, as
``name`` / ``async_name`` pairs: ``occ/sql/_sync.py`` is generated from
``occ/sql/_async.py`` by ``scripts/unasync.py``, which renames one to the other.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
    from sqlalchemy.orm import Session

__all__ = [
    "async_autocommit_engine",
    "async_driver_sql_allowed",
    "async_session_engine",
    "async_shares_one_connection",
    "autocommit_engine",
    "dispose",
    "dispose_async",
    "driver_sql_allowed",
    "session_engine",
    "shares_one_connection",
]

_twins: weakref.WeakKeyDictionary[sa.Engine, sa.Engine] = weakref.WeakKeyDictionary()


def _shares_one_connection(engine: sa.Engine) -> bool:
    return isinstance(engine.pool, sa_pool.StaticPool | sa_pool.SingletonThreadPool)


def shares_one_connection(engine: sa.Engine) -> bool:
    """True for an in-memory SQLite engine whose pool hands out one shared connection."""
    return engine.dialect.name == "sqlite" and _shares_one_connection(engine)


def async_shares_one_connection(engine: AsyncEngine) -> bool:
    """:func:`shares_one_connection` for an ``AsyncEngine``."""
    return shares_one_connection(engine.sync_engine)


def session_engine(session: Session) -> sa.Engine:
    """The engine a caller's ``Session`` is bound to."""
    bind = session.get_bind()
    return bind if isinstance(bind, sa.Engine) else bind.engine


def async_session_engine(session: AsyncSession) -> AsyncEngine:
    """The engine a caller's ``AsyncSession`` is bound to (a proxy of its sync engine)."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    return AsyncEngine(session_engine(session.sync_session))


def driver_sql_allowed(conn: sa.Connection) -> bool:
    """False if ``conn`` translates schema names, which a prebuilt driver string would bypass."""
    return "schema_translate_map" not in conn.get_execution_options()


def async_driver_sql_allowed(conn: AsyncConnection) -> bool:
    """:func:`driver_sql_allowed` for an ``AsyncConnection`` (False if it is not started)."""
    sync = conn.sync_connection
    return sync is not None and driver_sql_allowed(sync)


def autocommit_engine(engine: sa.Engine) -> sa.Engine:
    """The autocommit sibling of ``engine`` (created once, shared by repositories)."""
    twin = _twins.get(engine)
    if twin is not None:
        return twin
    if engine.dialect._on_connect_isolation_level == "AUTOCOMMIT":  # already autocommit
        twin = engine
    elif _shares_one_connection(engine):
        twin = engine.execution_options(isolation_level="AUTOCOMMIT")
    else:
        kwargs: dict[str, Any] = {
            "pool": engine.pool.recreate(),
            "isolation_level": "AUTOCOMMIT",
            "skip_autocommit_rollback": True,
        }
        twin = sa.create_engine(engine.url, **kwargs)
    _twins[engine] = twin
    return twin


def dispose(engine: sa.Engine) -> None:
    """Close the connections of ``engine``'s autocommit sibling (and of ``engine``)."""
    twin = _twins.pop(engine, None)
    if twin is not None and twin is not engine:
        twin.dispose()
    engine.dispose()


_async_twins: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def async_autocommit_engine(engine: Any) -> Any:
    """The autocommit sibling of an ``AsyncEngine`` (see :func:`autocommit_engine`)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    twin = _async_twins.get(engine)
    if twin is not None:
        return twin
    sync = engine.sync_engine
    if sync.dialect._on_connect_isolation_level == "AUTOCOMMIT":
        twin = engine
    elif _shares_one_connection(sync):
        twin = engine.execution_options(isolation_level="AUTOCOMMIT")
    else:
        twin = create_async_engine(
            engine.url,
            pool=sync.pool.recreate(),
            isolation_level="AUTOCOMMIT",
            skip_autocommit_rollback=True,
        )
    _async_twins[engine] = twin
    return twin


async def dispose_async(engine: Any) -> None:
    """Close the connections of an ``AsyncEngine``'s autocommit sibling (and of ``engine``)."""
    twin = _async_twins.pop(engine, None)
    if twin is not None and twin is not engine:
        await twin.dispose()
    await engine.dispose()
