"""The SQL conflict store's table and statements (pure), shared by its sync and async drivers.

What the drivers do differently is the ``run_ddl`` / ``arun_ddl`` pair:
``occ/conflicts/_sync/sql.py`` is generated from ``occ/conflicts/_async/sql.py``
by ``scripts/unasync.py``, which renames one to the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine

from occ._core.model import Conflict
from occ.conflicts._query import OPEN, Filter, utcnow
from occ.conflicts._records import StoredConflict, conflict_columns, encode, from_columns, new_id
from occ.conflicts._settle import Settled

__all__ = [
    "ConflictQueries",
    "add_missing_columns",
    "arun_ddl",
    "conflict_table",
    "record",
    "run_ddl",
]

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
        sa.Column("resolved_by", sa.String(200)),
        sa.Column("resolution_detail", _TEXT),
        sa.Index(f"ix_{name}_entity_status", "entity", "status"),
        sa.Index(f"ix_{name}_created", "created_at"),
    )


#: columns added after the first release: :func:`add_missing_columns` adds them to old tables.
LATER_COLUMNS = ("resolved_by", "resolution_detail")


class ConflictQueries:
    """The store's statements (pure), shared by the sync and async stores."""

    def __init__(self, table: str | sa.Table) -> None:
        self.table = table if isinstance(table, sa.Table) else conflict_table(table)

    def insert(
        self, conflict: Conflict, status: str, decision: str, details: Any
    ) -> tuple[str, Any]:
        cid = new_id()
        row = conflict_columns(conflict, status=status, decision=decision, details=details)
        return cid, sa.insert(self.table).values(id=cid, created_at=utcnow(), **row)

    def where(self, found: Filter) -> list[Any]:
        """The WHERE conditions of a filter."""
        t = self.table
        out: list[Any] = []
        if found.status == OPEN:
            out.append(t.c.status != "resolved")
        elif found.status is not None:
            out.append(t.c.status == found.status)
        if found.entity is not None:
            out.append(t.c.entity == found.entity)
        if found.entities is not None:
            out.append(t.c.entity.in_(sorted(found.entities)))
        if found.created_before is not None:
            out.append(t.c.created_at < found.created_before)
        if found.created_after is not None:
            out.append(t.c.created_at > found.created_after)
        if found.resolved_before is not None:
            out.append(t.c.resolved_at < found.resolved_before)
        if found.ids is not None:
            out.append(t.c.id.in_(sorted(found.ids)))
        return out

    def select(self, found: Filter, limit: int | None, offset: int = 0) -> Any:
        t = self.table
        stmt = sa.select(t).where(*self.where(found)).order_by(t.c.created_at, t.c.id)
        if limit is not None:
            stmt = stmt.limit(limit).offset(offset)
        return stmt

    def count(self, found: Filter) -> Any:
        return sa.select(sa.func.count()).select_from(self.table).where(*self.where(found))

    def counts(self, found: Filter) -> Any:
        t = self.table
        return (
            sa.select(t.c.entity, t.c.status, sa.func.count())
            .where(*self.where(found))
            .group_by(t.c.entity, t.c.status)
        )

    def by_id(self, cid: str) -> Any:
        return sa.select(self.table).where(self.table.c.id == cid)

    def ids_with_prefix(self, prefix: str, limit: int) -> Any:
        """Ids starting with ``prefix`` (checked hex digits: no LIKE wildcard can be in it)."""
        t = self.table
        return sa.select(t.c.id).where(t.c.id.startswith(prefix)).order_by(t.c.id).limit(limit)

    def mark_resolved(self, stored: StoredConflict, settled: Settled) -> Any:
        t = self.table
        return (
            sa.update(t)
            .where(t.c.id == stored.id, t.c.status == stored.status)
            .values(
                status="resolved",
                resolution=settled.resolution,
                resolved_at=utcnow(),
                resolved_by=settled.by,
                resolution_detail=encode(settled.detail, path="resolution"),
            )
        )

    def delete(self, found: Filter) -> Any:
        return sa.delete(self.table).where(*self.where(found))


def add_missing_columns(conn: sa.Connection, table: sa.Table) -> list[str]:
    """Add to an existing conflict table the columns later releases added; their names."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)}
    added = []
    prep = conn.dialect.identifier_preparer
    for name in LATER_COLUMNS:
        if name not in present:
            column = table.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(
                sa.text(f"ALTER TABLE {prep.format_table(table)} ADD {prep.quote(name)} {kind}")
            )
            added.append(name)
    return added


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
