"""Round trips counted, not timed.

SQL: listeners on the ``Engine`` *class* (``occ`` writes through an autocommit
sibling engine that instance listeners would miss) count each statement sent
(``before_cursor_execute``) plus the transaction commands a driver sends on its
own: ``COMMIT`` and ``ROLLBACK`` of non-autocommit connections, and the
``BEGIN`` psycopg sends before the first statement of a PostgreSQL transaction
(PyMySQL begins implicitly, in the same packet as the statement). SQLite runs
in-process: it has no round trips, and in autocommit mode it performs the same
BEGIN/COMMIT inside the library, so there only statements are counted.
The raw DB-API system bypasses SQLAlchemy and counts its own ``execute`` calls.

MongoDB: a ``pymongo.monitoring.CommandListener`` counts commands started
(see :mod:`benchmarks._mongo`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

__all__ = ["count_sql"]


class _SQLCounter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.count += n

    # -- listeners -----------------------------------------------------------

    def statement(self, conn: Any, cursor: Any, statement: Any, *args: Any) -> None:
        self.add()

    def transaction_end(self, conn: sa.Connection) -> None:
        if conn.dialect.name != "sqlite" and not conn._is_autocommit_isolation():
            self.add()

    def begin(self, conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql" and not conn._is_autocommit_isolation():
            self.add()


@contextmanager
def count_sql() -> Iterator[_SQLCounter]:
    """Count SQL round trips of every engine while the block runs (``.count``)."""
    counter = _SQLCounter()
    listeners = (
        ("before_cursor_execute", counter.statement),
        ("commit", counter.transaction_end),
        ("rollback", counter.transaction_end),
        ("begin", counter.begin),
    )
    for name, fn in listeners:
        event.listen(sa.Engine, name, fn)
    try:
        yield counter
    finally:
        for name, fn in listeners:
            event.remove(sa.Engine, name, fn)
