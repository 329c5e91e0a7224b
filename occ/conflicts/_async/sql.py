"""``occ.conflicts.sql.AsyncConflictStore``: conflicts in a SQL table, through an ``AsyncEngine``.

The table and its statements live in :mod:`occ.conflicts._sql_table`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from occ._core.model import Conflict
from occ.conflicts._async.store import AsyncStoreBase
from occ.conflicts._records import StoredConflict, Take
from occ.conflicts._sql_table import ConflictQueries, arun_ddl, record
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
        """Create the table (and its indexes) if it does not exist."""
        await arun_ddl(self.engine, lambda conn: self.table.create(conn, checkfirst=True))

    async def drop(self) -> None:
        """Drop the table if it exists."""
        await arun_ddl(self.engine, lambda conn: self.table.drop(conn, checkfirst=True))

    async def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> str:
        """Persist ``conflict`` (committed when this returns); its new id."""
        cid, stmt = self._st.insert(conflict, status, decision, details)
        async with self.engine.begin() as conn:
            await conn.execute(stmt)
        return cid

    async def _list(
        self, status: str | None, entity: str | None, limit: int | None, offset: int
    ) -> list[StoredConflict]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                self._st.select(status=status, entity=entity, limit=limit, offset=offset)
            )
            return [record(row) for row in result]

    async def _count(self, status: str | None, entity: str | None) -> int:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.count(status=status, entity=entity))
            return int(result.scalar_one())

    async def _find(self, conflict_id: str) -> StoredConflict | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.by_id(conflict_id))
            row = result.first()
        return None if row is None else record(row)

    async def _mark_resolved(self, stored: StoredConflict, take: Take) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(self._st.mark_resolved(stored, take))
