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

from typing import Any

import sqlalchemy as sa
from sqlalchemy import pool as sa_pool
from sqlalchemy.engine.create import create_engine as _create_engine

__all__ = [
    "acreate_tables",
    "adispose",
    "autocommit_engine",
    "create_tables",
    "dispose",
    "driver_sql_allowed",
    "session_engine",
    "shares_one_connection",
    "transaction_options",
]


def _sync(engine: Any) -> sa.Engine:
    """The sync engine of an engine (an ``AsyncEngine`` wraps one)."""
    sync: sa.Engine = getattr(engine, "sync_engine", engine)
    return sync


def _twin_slot(engine: Any) -> tuple[dict[str, Any], str]:
    """Where the sibling of ``engine`` is kept: on its sync engine, one per mode.

    Kept on the engine itself, not in a weak mapping keyed by it: the sibling
    refers to the user's engine (its events), which would keep a weak key alive
    forever; as an attribute, both go together when the user drops the engine.
    """
    sync = _sync(engine)
    return sync.__dict__, "_occ_autocommit" if sync is engine else "_occ_autocommit_async"


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


class _Sibling(sa.Engine):
    """An engine on a pool of its own that sends its events to the user's engine too.

    Its dispatch is joined to the user engine's (as SQLAlchemy's own
    ``OptionEngine`` does), so listeners and instrumentation registered on the
    user's engine instance, before or after, see every statement sent here;
    it reports events whenever the user's engine has some.
    """

    _user: sa.Engine
    #: class-level listeners reach it through the user's engine, once (as OptionEngine).
    _sa_propagate_class_events = False

    @property
    def _has_events(self) -> bool:
        return bool(self._user._has_events or self.__dict__.get("_own_events", False))

    @_has_events.setter
    def _has_events(self, value: bool) -> None:
        self.__dict__["_own_events"] = value


def _join(twin: sa.Engine, user: sa.Engine) -> None:
    twin.__class__ = _Sibling
    twin._user = user  # type: ignore[attr-defined]
    # A fresh dispatch of the subclass (without class-level listeners), joined to the user's.
    twin.__dict__.pop("dispatch", None)
    twin.dispatch = twin.dispatch._join(user.dispatch)


def autocommit_engine(engine: Any) -> Any:
    """The autocommit sibling of ``engine`` (an ``Engine`` or ``AsyncEngine``; made once).

    Same URL, a pool recreated from the user's pool (same creator, connect
    arguments and pool events), AUTOCOMMIT set once per connection, no
    ROLLBACK on release; echo, logging name and every event of the user's
    engine apply to it.
    """
    slot, name = _twin_slot(engine)
    twin = slot.get(name)
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
            "echo": sync.echo,
            "hide_parameters": sync.hide_parameters,
        }
        if sync.logging_name:
            kwargs["logging_name"] = sync.logging_name
        if sync is engine:
            # The module's own function: instrumentation that wraps sqlalchemy.create_engine
            # would trace the sibling a second time (it already sees it through the user's).
            twin = _create_engine(engine.url, **kwargs)
            _join(twin, sync)
        else:
            from sqlalchemy.ext.asyncio import create_async_engine

            twin = create_async_engine(engine.url, **kwargs)
            _join(twin.sync_engine, sync)
    slot[name] = twin
    return twin


def transaction_options(engine: Any) -> dict[str, Any] | None:
    """Execution options that give a connection of ``engine`` a real transaction.

    ``None`` when its connections already have one; for an engine (or engine
    copy) set to ``AUTOCOMMIT``, the server's default isolation level, so that
    a write of several statements is never run as several transactions.
    """
    sync = _sync(engine)
    level = sync.get_execution_options().get("isolation_level")
    if level is None:
        level = sync.dialect._on_connect_isolation_level
    if level != "AUTOCOMMIT":
        return None
    default = sync.dialect.default_isolation_level
    if not default or default == "AUTOCOMMIT":
        default = "SERIALIZABLE" if sync.dialect.name == "sqlite" else "READ COMMITTED"
    return {"isolation_level": default}


def create_tables(bind: Any, *tables: sa.Table) -> None:
    """``CREATE TABLE IF NOT EXISTS`` for ``tables``: on an ``Engine`` each in a transaction
    of its own, or on a caller's ``Connection`` (inside its transaction).

    On an engine, a table that another thread or process created between the
    check and the ``CREATE`` (a relay and a repository starting together) is
    not an error: the check is made again after a failed ``CREATE``.
    """
    if isinstance(bind, sa.Engine):
        for table in tables:
            try:
                with bind.begin() as conn:
                    table.create(conn, checkfirst=True)
            except sa.exc.DBAPIError:
                if not _exists(bind, table):
                    raise
        return
    for table in tables:
        table.create(bind, checkfirst=True)


def _exists(conn: Any, table: sa.Table) -> bool:
    return bool(sa.inspect(conn).has_table(table.name, schema=table.schema))


async def acreate_tables(bind: Any, *tables: sa.Table) -> None:
    """:func:`create_tables` for an ``AsyncEngine`` or ``AsyncConnection``."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    if isinstance(bind, AsyncEngine):
        for table in tables:
            try:
                async with bind.begin() as conn:
                    await conn.run_sync(table.create, checkfirst=True)
            except sa.exc.DBAPIError:
                async with bind.connect() as conn:
                    if not await conn.run_sync(_exists, table):
                        raise
        return
    for table in tables:
        await bind.run_sync(table.create, checkfirst=True)


def dispose(engine: sa.Engine) -> None:
    """Close the connections of ``engine``'s autocommit sibling (and of ``engine``)."""
    slot, name = _twin_slot(engine)
    twin = slot.pop(name, None)
    if twin is not None and twin is not engine:
        twin.dispose()
    engine.dispose()


async def adispose(engine: Any) -> None:
    """Close the connections of an ``AsyncEngine``'s autocommit sibling (and of ``engine``)."""
    slot, name = _twin_slot(engine)
    twin = slot.pop(name, None)
    if twin is not None and twin is not engine:
        await twin.dispose()
    await engine.dispose()
