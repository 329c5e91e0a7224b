"""The unobserved fast path: prebuilt SQL straight on a pooled DB-API connection.

A single-statement autocommit write through SQLAlchemy's ``Connection`` costs
about as much CPU as the driver's own ``execute``: checkout bookkeeping, the
execution context, the result object. When nothing observes the engine — no
listener of a statement, transaction or error event on the user's engine or
its autocommit sibling (class-level listeners included), and no echo or
``sqlalchemy.engine`` INFO logging — :class:`RawRunner` runs a plan whose
statements are all :class:`~occ.sql._statements.DriverSQL` on a DB-API
connection of the sibling's pool instead. The moment something listens, every
statement goes through a ``Connection`` again, so events, instrumentation and
echo see all of it. Driver errors are wrapped as SQLAlchemy's, and a
connection the dialect calls disconnected is invalidated, as ``Connection``
would do. Sync engines only.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from occ.sql._statements import DriverSQL

__all__ = ["RawRunner", "raw_runner"]

#: the events a statement run here would have fired on a ``Connection``.
_EVENTS = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
    "engine_connect",
)


class _Rows:
    """The part of a ``CursorResult`` a plan reads: ``rowcount``, ``first()``."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount = rowcount
        self._rows = rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows


class RawRunner:
    """Runs plans of driver SQL on the raw pooled connections of an autocommit ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.pool = engine.pool
        self.dialect = engine.dialect
        self._error: type[Any] = engine.dialect.loaded_dbapi.Error
        dispatch = engine.dispatch
        #: the listener collections to watch (each is truthy while it has a listener).
        self._watched = (
            *(getattr(dispatch, name) for name in _EVENTS),
            engine.dialect.dispatch.handle_error,
        )
        self._logger = engine.logger

    def observed(self) -> bool:
        """True when a listener, echo or logging would miss a statement run here."""
        if self.engine._has_events and any(self._watched):
            return True
        return bool(self._logger.isEnabledFor(logging.INFO))

    def run(self, plan: Any) -> Any:
        """Run ``plan`` (every statement a :class:`DriverSQL`) on one pooled connection."""
        fairy = self.pool.connect()
        sql = ""
        args: Any = None
        try:
            cursor = fairy.cursor()
            try:
                stmt, params = next(plan)
                while True:
                    assert type(stmt) is DriverSQL
                    sql, args = stmt.sql, stmt.args(params)
                    cursor.execute(sql, args)
                    rows = list(cursor.fetchall()) if cursor.description is not None else []
                    stmt, params = plan.send(_Rows(cursor.rowcount, rows))
            finally:
                cursor.close()
        except StopIteration as stop:
            fairy._checkin(transaction_was_reset=True)
            return stop.value
        except self._error as exc:
            lost = self.dialect.is_disconnect(exc, fairy.dbapi_connection, None)
            if lost:
                fairy.invalidate(exc)  # and checked in
            else:
                fairy._checkin(transaction_was_reset=True)
            raise sa.exc.DBAPIError.instance(
                sql,
                args,
                exc,
                self._error,
                hide_parameters=self.engine.hide_parameters,
                connection_invalidated=lost,
                dialect=self.dialect,
            ) from exc
        except BaseException:
            fairy.invalidate()  # and checked in: its state is unknown
            raise


def raw_runner(engine: Any) -> RawRunner | None:
    """A runner for a sync autocommit sibling engine; ``None`` for an async one."""
    if not isinstance(engine, sa.Engine):
        return None
    return RawRunner(engine)
