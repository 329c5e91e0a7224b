"""Tombstones: a key's versions never repeat, even across a delete and a re-insert.

Without them a snapshot read before a delete (version 3, say) would apply to a
row inserted later under the same key once that row reached version 3 again:
the ABA problem. So a versioned delete records the key's last version in a
small table, ``occ_tombstones`` (entity, key, version, deleted_at), in the
same transaction as the DELETE (one statement on PostgreSQL: a data-modifying
CTE); and an insert under an explicit key starts at that version + 1 (a
subquery inside the INSERT, no extra round trip). A key never deleted starts
at 1. Timestamp versions need none: a new row's first version is "now".

The table is created on first use (``CREATE TABLE IF NOT EXISTS``, in its own
transaction); :func:`tombstone_table` gives its definition for migrations.
Tombstones can be purged after a horizon (:func:`purge_statement`): a
snapshot older than the horizon may then meet ABA again.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

__all__ = ["Tombstones", "purge_statement", "tombstone_table"]

_created: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def tombstone_table(name: str = "occ_tombstones", metadata: sa.MetaData | None = None) -> sa.Table:
    """The tombstone table's definition (for Alembic migrations, or your own metadata)."""
    md = metadata if metadata is not None else sa.MetaData()
    return sa.Table(
        name,
        md,
        sa.Column("entity", sa.String(200), primary_key=True),
        sa.Column("entity_key", sa.String(500), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")),
    )


def key_text(key: Any) -> str:
    """A key as stable text (composite keys as JSON lists)."""
    parts = list(key) if isinstance(key, tuple) else [key]
    return json.dumps(parts, default=str, separators=(",", ":"))


def purge_statement(table: sa.Table, older_than: dt.datetime) -> Any:
    """``DELETE`` of the tombstones recorded before ``older_than`` (UTC, naive)."""
    return sa.delete(table).where(table.c.deleted_at < older_than)


class Tombstones:
    """The tombstone statements of one entity (its table's full name) on one dialect."""

    def __init__(self, entity: str, dialect: sa.engine.Dialect, table: sa.Table) -> None:
        self.entity = entity
        self.table = table
        self.dialect_name = dialect.name
        t = table
        self.version_of = (
            sa.select(t.c.version)
            .where(t.c.entity == sa.bindparam("occ_te"), t.c.entity_key == sa.bindparam("occ_tk"))
            .scalar_subquery()
        )
        #: the first version of a key inserted again: one past its last.
        self.first_version: Any = sa.func.coalesce(self.version_of, 0) + 1
        self.upsert = self._upsert()

    def params(self, key: Any) -> dict[str, Any]:
        return {"occ_te": self.entity, "occ_tk": key_text(key)}

    def _upsert(self) -> Any:
        t = self.table
        values: dict[str, Any] = {
            "entity": sa.bindparam("occ_te"),
            "entity_key": sa.bindparam("occ_tk"),
            "version": sa.bindparam("occ_tv"),
            "deleted_at": sa.bindparam("occ_td"),
        }
        if self.dialect_name == "mysql":
            stmt: Any = mysql.insert(t).values(values)
            return stmt.on_duplicate_key_update(
                version=sa.func.greatest(t.c.version, stmt.inserted.version),
                deleted_at=stmt.inserted.deleted_at,
            )
        module: Any = postgresql if self.dialect_name == "postgresql" else sqlite
        stmt = module.insert(t).values(values)
        newer = sa.case(
            (stmt.excluded.version > t.c.version, stmt.excluded.version), else_=t.c.version
        )
        return stmt.on_conflict_do_update(
            index_elements=[t.c.entity, t.c.entity_key],
            set_={"version": newer, "deleted_at": stmt.excluded.deleted_at},
        )

    def record_params(self, key: Any, version: Any) -> dict[str, Any]:
        """Parameters of :attr:`upsert` for ``key`` deleted at ``version``."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return {**self.params(key), "occ_tv": version, "occ_td": now}

    def delete_and_record(self, delete: Any) -> Any:
        """PostgreSQL: ``delete`` and the tombstone in one statement (a data-modifying CTE).

        ``delete`` must return the deleted row's version; the statement's
        rowcount is 1 when the delete matched.
        """
        deleted = delete.cte("occ_deleted")
        # The rowcount (1 when the DELETE matched) of an INSERT is kept only when asked.
        return self.record_from(deleted).execution_options(preserve_rowcount=True)

    def record_from(self, deleted: Any) -> Any:
        """PostgreSQL: the tombstone ``INSERT ... SELECT`` of the row a DELETE CTE returned
        (its first column is the deleted version)."""
        select = sa.select(
            sa.bindparam("occ_te"),
            sa.bindparam("occ_tk"),
            deleted.c[0],
            sa.bindparam("occ_td"),
        )
        return self.record_select(select)

    def record_select(self, select: Any) -> Any:
        """PostgreSQL: record the tombstones ``select`` gives (entity, key text, version,
        deleted at), keeping the larger version of a key recorded before."""
        t = self.table
        stmt = postgresql.insert(t).from_select(
            ["entity", "entity_key", "version", "deleted_at"], select
        )
        newer = sa.case(
            (stmt.excluded.version > t.c.version, stmt.excluded.version), else_=t.c.version
        )
        return stmt.on_conflict_do_update(
            index_elements=[t.c.entity, t.c.entity_key],
            set_={"version": newer, "deleted_at": stmt.excluded.deleted_at},
        )


def ensure(engine: Any, table: sa.Table) -> bool:
    """Whether the tombstone table must still be created on ``engine`` (first use only)."""
    with _lock:
        done = _created.setdefault(engine, set())
        return table.name not in done


def created(engine: Any, table: sa.Table) -> None:
    """Remember that the tombstone table exists on ``engine``."""
    with _lock:
        _created.setdefault(engine, set()).add(table.name)
