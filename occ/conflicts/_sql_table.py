"""The SQL conflict store's table and statements (pure), shared by its sync and async drivers.

What the drivers do differently is the ``run_ddl`` / ``arun_ddl`` pair:
``occ/_sync/conflict_store_sql.py`` is generated from
``occ/_async/conflict_store_sql.py`` by ``scripts/unasync.py``, which renames
one to the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

from occ._core.model import Conflict
from occ.conflicts._records import StoredConflict, conflict_columns, from_columns, new_id

__all__ = ["ConflictQueries", "arun_ddl", "conflict_table", "record", "run_ddl"]

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


class ConflictQueries:
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


def record(row: Any) -> StoredConflict:
    """The :class:`StoredConflict` of a row of the table."""
    return from_columns(row._mapping)


def run_ddl(engine: sa.Engine, ddl: Callable[[sa.Connection], Any]) -> None:
    """Run ``ddl`` on a connection of ``engine``, in one transaction."""
    with engine.begin() as conn:
        ddl(conn)


async def arun_ddl(engine: AsyncEngine, ddl: Callable[[sa.Connection], Any]) -> None:
    """Run ``ddl`` on a (sync facade of a) connection of ``engine``, in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(ddl)
