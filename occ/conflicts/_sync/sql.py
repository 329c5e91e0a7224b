# Generated from occ/conflicts/_async/sql.py by scripts/unasync.py: edit that file.
"""``occ.conflicts.sql.ConflictStore``: conflicts in a SQL table, through an ``Engine``.

The table and its statements live in :mod:`occ.conflicts._sql_table`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from occ._core.model import Conflict
from occ.conflicts._query import Filter
from occ.conflicts._records import StoredConflict
from occ.conflicts._settle import Settled
from occ.conflicts._sql_table import ConflictQueries, add_missing_columns, record, run_ddl
from occ.conflicts._sync.store import StoreBase
from occ.errors import ConfigurationError
from occ.sql._binds import Engine

__all__ = ["ConflictStore"]


class ConflictStore(StoreBase):
    """Conflicts kept in a SQL table, through an ``Engine``.

    Use it as an archive (``Discard(archive=store)``) or an alert sink
    (``Alert(store, then=...)``); list, inspect and resolve what it holds.

    Args:
        engine: a SQLAlchemy ``Engine`` (its own transactions, separate from the writes').
        table: the table name, or a ``Table`` from :func:`conflict_table`.
    """

    def __init__(self, engine: Engine, table: str | sa.Table = "occ_conflicts") -> None:
        if not isinstance(engine, Engine):
            raise ConfigurationError(f"ConflictStore needs an Engine, got {type(engine).__name__}")
        self.engine = engine
        self._st = ConflictQueries(table)
        self.table = self._st.table

    def __repr__(self) -> str:
        return f"ConflictStore({self.table.name!r})"

    def create(self) -> None:
        """Create the table (and its indexes) if it does not exist; add columns it lacks.

        A table made by an earlier release gets the columns added since
        (``resolved_by``, ``resolution_detail``): run it once after upgrading.
        """

        def ddl(conn: sa.Connection) -> None:
            self.table.create(conn, checkfirst=True)
            add_missing_columns(conn, self.table)

        run_ddl(self.engine, ddl)

    def drop(self) -> None:
        """Drop the table if it exists."""
        run_ddl(self.engine, lambda conn: self.table.drop(conn, checkfirst=True))

    def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> str:
        """Persist ``conflict`` (committed when this returns); its new id.

        Raises:
            occ.conflicts.ArchiveError: it holds a value that would not read back exactly.
        """
        cid, stmt = self._st.insert(conflict, status, decision, details)
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return cid

    def _list(self, where: Filter, limit: int | None, offset: int) -> list[StoredConflict]:
        with self.engine.connect() as conn:
            result = conn.execute(self._st.select(where, limit, offset))
            return [record(row) for row in result]

    def _count(self, where: Filter) -> int:
        with self.engine.connect() as conn:
            result = conn.execute(self._st.count(where))
            return int(result.scalar_one())

    def _counts(self, where: Filter) -> dict[tuple[str, str], int]:
        with self.engine.connect() as conn:
            result = conn.execute(self._st.counts(where))
            return {(row[0], row[1]): int(row[2]) for row in result}

    def _find(self, conflict_id: str) -> StoredConflict | None:
        with self.engine.connect() as conn:
            result = conn.execute(self._st.by_id(conflict_id))
            row = result.first()
        return None if row is None else record(row)

    def _ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        with self.engine.connect() as conn:
            result = conn.execute(self._st.ids_with_prefix(prefix, limit))
            return [str(row[0]) for row in result]

    def _mark_resolved(self, stored: StoredConflict, settled: Settled) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(self._st.mark_resolved(stored, settled))
        return bool(result.rowcount == 1)

    def _delete(self, where: Filter) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(self._st.delete(where))
        return int(result.rowcount)
