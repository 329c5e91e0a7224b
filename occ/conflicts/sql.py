"""Conflict stores in a SQL table: :class:`ConflictStore` (sync) and :class:`AsyncConflictStore`.

The table (default name ``occ_conflicts``; :meth:`ConflictStore.create` makes it):

============================  =================  ===========================================
column                        type               holds
============================  =================  ===========================================
``id``                        VARCHAR(32) PK     a random hex id
``entity``                    VARCHAR(200)       model / table name (indexed with ``status``)
``entity_key``                TEXT (JSON)        the row's key
``action``                    VARCHAR(10)        ``update`` or ``delete``
``kind``                      VARCHAR(20)        ``version``, ``deleted``, ``serialization``
``status``                    VARCHAR(20)        ``pending``, ``discarded``, ``overwritten``,
                                                 ``resolved``
``decision``                  VARCHAR(50)        the decision's label when it happened
``base``, ``mine``,           TEXT (JSON)        the three values and my changed fields
``theirs``, ``changes``
``expected_version``,         TEXT (JSON)        the versions (int or tagged datetime)
``actual_version``
``attempt``                   INTEGER            attempt number of the write
``details``                   TEXT (JSON)        the decision's details (merge entries, ...)
``created_at``                DATETIME(6)        when it was stored (UTC, naive)
``resolved_at``               DATETIME(6) NULL   when :meth:`resolve` settled it
``resolution``                VARCHAR(20) NULL   ``mine``, ``theirs`` or ``values``
============================  =================  ===========================================

JSON values use tags for types JSON lacks (``{"$datetime": ...}``, ``{"$set": [...]}``, ...).
On MySQL/MariaDB the TEXT columns are LONGTEXT.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

from occ._core.flow import strict_writes
from occ._core.model import Conflict
from occ.conflicts._records import (
    StoredConflict,
    Take,
    conflict_columns,
    from_columns,
    new_id,
    plan_resolution,
)
from occ.errors import ConfigurationError, NotFoundError

__all__ = ["AsyncConflictStore", "ConflictStore", "conflict_table"]

_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_STAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def conflict_table(name: str = "occ_conflicts", metadata: sa.MetaData | None = None) -> sa.Table:
    """The conflict table's definition (for Alembic migrations, or your own metadata)."""
    md = metadata if metadata is not None else sa.MetaData()
    return sa.Table(
        name,
        md,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("entity", sa.String(200), nullable=False),
        sa.Column("entity_key", _TEXT, nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decision", sa.String(50), nullable=False),
        sa.Column("base", _TEXT),
        sa.Column("mine", _TEXT),
        sa.Column("changes", _TEXT),
        sa.Column("theirs", _TEXT),
        sa.Column("expected_version", _TEXT),
        sa.Column("actual_version", _TEXT),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("details", _TEXT),
        sa.Column("created_at", _STAMP, nullable=False),
        sa.Column("resolved_at", _STAMP),
        sa.Column("resolution", sa.String(20)),
        sa.Index(f"ix_{name}_entity_status", "entity", "status"),
        sa.Index(f"ix_{name}_created", "created_at"),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class _Statements:
    """The store's statements (pure), shared by the sync and async stores."""

    def __init__(self, table: str | sa.Table) -> None:
        self.table = table if isinstance(table, sa.Table) else conflict_table(table)

    def insert(
        self, conflict: Conflict, status: str, decision: str, details: Any
    ) -> tuple[str, Any]:
        cid = new_id()
        row = conflict_columns(conflict, status=status, decision=decision, details=details)
        return cid, sa.insert(self.table).values(id=cid, created_at=_now(), **row)

    def select(
        self, *, status: str | None, entity: str | None, limit: int | None, offset: int = 0
    ) -> Any:
        t = self.table
        stmt = sa.select(t).order_by(t.c.created_at, t.c.id)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        if entity is not None:
            stmt = stmt.where(t.c.entity == entity)
        if limit is not None:
            stmt = stmt.limit(limit).offset(offset)
        return stmt

    def count(self, *, status: str | None, entity: str | None) -> Any:
        t = self.table
        stmt = sa.select(sa.func.count()).select_from(t)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        if entity is not None:
            stmt = stmt.where(t.c.entity == entity)
        return stmt

    def by_id(self, cid: str) -> Any:
        return sa.select(self.table).where(self.table.c.id == cid)

    def mark_resolved(self, record: StoredConflict, resolution: str) -> Any:
        t = self.table
        return (
            sa.update(t)
            .where(t.c.id == record.id, t.c.status == record.status)
            .values(status="resolved", resolution=resolution, resolved_at=_now())
        )


def _record(row: Any) -> StoredConflict:
    return from_columns(row._mapping)


class ConflictStore:
    """Conflicts kept in a SQL table, through a sync ``Engine``.

    Use it as an archive (``Discard(archive=store)``) or an alert sink
    (``Alert(store, then=...)``); list, inspect and resolve what it holds.

    Args:
        engine: a SQLAlchemy ``Engine`` (its own transactions, separate from the writes').
        table: the table name, or a ``Table`` from :func:`conflict_table`.
    """

    is_async: ClassVar[bool] = False

    def __init__(self, engine: sa.Engine, table: str | sa.Table = "occ_conflicts") -> None:
        if not isinstance(engine, sa.Engine):
            raise ConfigurationError(
                f"ConflictStore needs an Engine, got {type(engine).__name__} "
                "(for an AsyncEngine use AsyncConflictStore)"
            )
        self.engine = engine
        self._st = _Statements(table)
        self.table = self._st.table

    def __repr__(self) -> str:
        return f"ConflictStore({self.table.name!r})"

    def create(self) -> None:
        """Create the table (and its indexes) if it does not exist."""
        self.table.create(self.engine, checkfirst=True)

    def drop(self) -> None:
        """Drop the table if it exists."""
        self.table.drop(self.engine, checkfirst=True)

    def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> str:
        """Persist ``conflict`` (committed when this returns); its new id."""
        cid, stmt = self._st.insert(conflict, status, decision, details)
        with self.engine.begin() as conn:
            conn.execute(stmt)
        return cid

    def list(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[StoredConflict]:
        """Stored conflicts, oldest first, optionally of one status and entity."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._st.select(status=status, entity=entity, limit=limit, offset=offset)
            )
            return [_record(row) for row in rows]

    def count(self, *, status: str | None = None, entity: str | None = None) -> int:
        """How many conflicts are stored (of one status and entity)."""
        with self.engine.connect() as conn:
            return int(conn.execute(self._st.count(status=status, entity=entity)).scalar_one())

    def get(self, conflict_id: str) -> StoredConflict:
        """One stored conflict; :class:`~occ.NotFoundError` if there is none with that id."""
        with self.engine.connect() as conn:
            row = conn.execute(self._st.by_id(conflict_id)).first()
        if row is None:
            raise NotFoundError("conflict", conflict_id)
        return _record(row)

    def resolve(
        self,
        conflict_id: str,
        repository: Any,
        *,
        take: Take = "mine",
        values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Settle a stored conflict: write mine, keep theirs, or write given values.

        The write goes through ``repository`` (of the conflict's entity) as a
        versioned update expecting the version stored when the conflict
        happened, with the entity's policy switched off: if the row moved since,
        :class:`~occ.ConflictError` is raised and the conflict stays open.

        Returns:
            The stored value after the resolution (a ``Versioned``, or ``None``
            for ``take="theirs"`` when the row was deleted).
        """
        record = self.get(conflict_id)
        writes = plan_resolution(record, take, values)
        c = record.conflict
        if writes is None:
            result = repository.find(c.key)
        else:
            with strict_writes():
                result = repository.update(
                    c.key, writes, expected_version=c.actual_version, base=c.theirs
                )
        with self.engine.begin() as conn:
            conn.execute(self._st.mark_resolved(record, take))
        return result


class AsyncConflictStore:
    """Conflicts kept in a SQL table, through an ``AsyncEngine``: :class:`ConflictStore`, awaited.

    Args:
        engine: a SQLAlchemy ``AsyncEngine``.
        table: the table name, or a ``Table`` from :func:`conflict_table`.
    """

    is_async: ClassVar[bool] = True

    def __init__(self, engine: AsyncEngine, table: str | sa.Table = "occ_conflicts") -> None:
        if not isinstance(engine, AsyncEngine):
            raise ConfigurationError(
                f"AsyncConflictStore needs an AsyncEngine, got {type(engine).__name__}"
            )
        self.engine = engine
        self._st = _Statements(table)
        self.table = self._st.table

    def __repr__(self) -> str:
        return f"AsyncConflictStore({self.table.name!r})"

    async def create(self) -> None:
        """Create the table (and its indexes) if it does not exist."""
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda sync: self.table.create(sync, checkfirst=True))

    async def drop(self) -> None:
        """Drop the table if it exists."""
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda sync: self.table.drop(sync, checkfirst=True))

    async def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> str:
        """Persist ``conflict`` (committed when this returns); its new id."""
        cid, stmt = self._st.insert(conflict, status, decision, details)
        async with self.engine.begin() as conn:
            await conn.execute(stmt)
        return cid

    async def list(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[StoredConflict]:
        """Stored conflicts, oldest first, optionally of one status and entity."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                self._st.select(status=status, entity=entity, limit=limit, offset=offset)
            )
            return [_record(row) for row in result]

    async def count(self, *, status: str | None = None, entity: str | None = None) -> int:
        """How many conflicts are stored (of one status and entity)."""
        async with self.engine.connect() as conn:
            result = await conn.execute(self._st.count(status=status, entity=entity))
            return int(result.scalar_one())

    async def get(self, conflict_id: str) -> StoredConflict:
        """One stored conflict; :class:`~occ.NotFoundError` if there is none with that id."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(self._st.by_id(conflict_id))).first()
        if row is None:
            raise NotFoundError("conflict", conflict_id)
        return _record(row)

    async def resolve(
        self,
        conflict_id: str,
        repository: Any,
        *,
        take: Take = "mine",
        values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Settle a stored conflict through an async repository.

        See :meth:`ConflictStore.resolve`.
        """
        record = await self.get(conflict_id)
        writes = plan_resolution(record, take, values)
        c = record.conflict
        if writes is None:
            result = await repository.find(c.key)
        else:
            with strict_writes():
                result = await repository.update(
                    c.key, writes, expected_version=c.actual_version, base=c.theirs
                )
        async with self.engine.begin() as conn:
            await conn.execute(self._st.mark_resolved(record, take))
        return result
