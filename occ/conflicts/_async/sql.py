"""``occ.conflicts.sql.AsyncConflictStore``: conflicts in a SQL table, through an ``AsyncEngine``.

The table and its statements live in :mod:`occ.conflicts._sql_table`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from occ._core.model import Conflict
from occ.conflicts._async.store import AsyncStoreBase
from occ.conflicts._query import Filter
from occ.conflicts._records import StoredConflict
from occ.conflicts._settle import Settled
from occ.conflicts._sql_table import ConflictQueries, add_missing_columns, arun_ddl, record
from occ.errors import ConfigurationError
from occ.sql._binds import AsyncEngine

__all__ = ["AsyncConflictStore"]


class AsyncConflictStore(AsyncStoreBase):
    """Conflicts kept in a SQL table, through an ``AsyncEngine``.

    Use it as an archive (``Discard(archive=store)``) or an alert sink
    (``Alert(store, then=...)``); list, inspect and resolve what it holds.

    Args:
        engine: a SQLAlchemy ``AsyncEngine`` (its own transactions, separate from the writes').
        table: the table name, or a ``Table`` from :func:`conflict_table`.
    """

    def __init__(self, engine: AsyncEngine, table: str | sa.Table = "occ_conflicts") -> None:
        if not isinstance(engine, AsyncEngine):
            raise ConfigurationError(
                f"AsyncConflictStore needs an AsyncEngine, got {type(engine).__name__}"
            )
        self.engine = engine
        self._st = ConflictQueries(table)
        self.table = self._st.table

    def __repr__(self) -> str:
        return f"AsyncConflictStore({self.table.name!r})"

    async def create(self) -> None:
        """Create the table (and its indexes) if it does not exist; add columns it lacks.

        A table made by an earlier release gets the columns added since
        (``resolved_by``, ``resolution_detail``): run it once after upgrading.
        """

        def ddl(conn: sa.Connection) -> None:
            self.table.create(conn, checkfirst=True)
            add_missing_columns(conn, self.table)

        await arun_ddl(self.engine, ddl)

    async def drop(self) -> None:
        """Drop the table if it exists."""
        await arun_ddl(self.engine, lambda conn: self.table.drop(conn, checkfirst=True))

    async def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> str:
        """Persist ``conflict`` (committed when this returns); its new id.

        Raises:
            occ.conflicts.ArchiveError: it holds a value that would not read back exactly.
        """
        cid, stmt = self._st.insert(conflict, status, decision, details)
        async with self.engine.begin() as conn:
            await conn.execute(stmt)
        return cid

    async def _list(self, where: Filter, limit: int | None, offset: int) -> list[StoredConflict]:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.select(where, limit, offset))
            return [record(row) for row in result]

    async def _count(self, where: Filter) -> int:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.count(where))
            return int(result.scalar_one())

    async def _counts(self, where: Filter) -> dict[tuple[str, str], int]:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.counts(where))
            return {(row[0], row[1]): int(row[2]) for row in result}

    async def _find(self, conflict_id: str) -> StoredConflict | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.by_id(conflict_id))
            row = result.first()
        return None if row is None else record(row)

    async def _ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.ids_with_prefix(prefix, limit))
            return [str(row[0]) for row in result]

    async def _mark_resolved(self, stored: StoredConflict, settled: Settled) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(self._st.mark_resolved(stored, settled))
        return bool(result.rowcount == 1)

    async def _delete(self, where: Filter) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(self._st.delete(where))
        return int(result.rowcount)
