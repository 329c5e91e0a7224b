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

The helpers take a sync or an async engine, connection or session alike.
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

__all__ = [
    "adispose",
    "autocommit_engine",
    "dispose",
    "driver_sql_allowed",
    "session_engine",
    "shares_one_connection",
]

_twins: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _sync(engine: Any) -> sa.Engine:
    """The sync engine of an engine (an ``AsyncEngine`` wraps one)."""
    sync: sa.Engine = getattr(engine, "sync_engine", engine)
    return sync


def _shares_one_connection(engine: sa.Engine) -> bool:
    return isinstance(engine.pool, sa_pool.StaticPool | sa_pool.SingletonThreadPool)


def shares_one_connection(engine: Any) -> bool:
    """True for an in-memory SQLite engine whose pool hands out one shared connection."""
    sync = _sync(engine)
    return sync.dialect.name == "sqlite" and _shares_one_connection(sync)


def session_engine(session: Any) -> Any:
    """The engine a caller's ``Session`` (or ``AsyncSession``: an ``AsyncEngine``) is bound to."""
    sync_session = getattr(session, "sync_session", None)
    if sync_session is not None:
        from sqlalchemy.ext.asyncio import AsyncEngine

        return AsyncEngine(session_engine(sync_session))
    bind = session.get_bind()
    return bind if isinstance(bind, sa.Engine) else bind.engine


def driver_sql_allowed(conn: Any) -> bool:
    """False if ``conn`` translates schema names, which a prebuilt driver string would bypass
    (or, for an ``AsyncConnection``, is not started)."""
    sync = getattr(conn, "sync_connection", conn)
    return sync is not None and "schema_translate_map" not in sync.get_execution_options()


def autocommit_engine(engine: Any) -> Any:
    """The autocommit sibling of ``engine`` (an ``Engine`` or ``AsyncEngine``; made once)."""
    twin = _twins.get(engine)
    if twin is not None:
        return twin
    sync = _sync(engine)
    if sync.dialect._on_connect_isolation_level == "AUTOCOMMIT":  # already autocommit
        twin = engine
    elif _shares_one_connection(sync):
        twin = engine.execution_options(isolation_level="AUTOCOMMIT")
    else:
        kwargs: dict[str, Any] = {
            "pool": sync.pool.recreate(),
            "isolation_level": "AUTOCOMMIT",
            "skip_autocommit_rollback": True,
        }
        if sync is engine:
            twin = sa.create_engine(engine.url, **kwargs)
        else:
            from sqlalchemy.ext.asyncio import create_async_engine

            twin = create_async_engine(engine.url, **kwargs)
    _twins[engine] = twin
    return twin


def dispose(engine: sa.Engine) -> None:
    """Close the connections of ``engine``'s autocommit sibling (and of ``engine``)."""
    twin = _twins.pop(engine, None)
    if twin is not None and twin is not engine:
        twin.dispose()
    engine.dispose()


async def adispose(engine: Any) -> None:
    """Close the connections of an ``AsyncEngine``'s autocommit sibling (and of ``engine``)."""
    twin = _twins.pop(engine, None)
    if twin is not None and twin is not engine:
        await twin.dispose()
    await engine.dispose()
