"""The SQL systems: the same two operations written six ways.

``blind(key)``: a versioned update of every field with the version the caller
knows (an HTTP PUT with ``If-Match``). ``rmw(key)``: read the row, add one to
``qty``, write it back conditionally. Each system owns a range of keys of the
same table, keeps the versions it wrote, and treats a missed write as a bug
(a single writer never conflicts).
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

import occ
import occ.sql
from benchmarks._backends import OrmItem, SQLBackend, item_table

__all__ = ["SQL_SYSTEMS", "SQLSystem", "make_system"]

t = item_table


class SQLSystem:
    """One way of writing the benchmark row; subclasses implement ``blind`` and ``rmw``."""

    name: ClassVar[str]

    def __init__(self, backend: SQLBackend, engine: sa.Engine, first: int, rows: int) -> None:
        self.backend = backend
        self.engine = engine
        self.first = first
        self.rows = rows
        self.versions = [1] * rows
        self._tick = itertools.count()

    def keys(self) -> itertools.cycle[int]:
        return itertools.cycle(range(self.first, self.first + self.rows))

    def value(self, key: int) -> dict[str, Any]:
        """A whole new value for ``key`` (every field changes)."""
        n = next(self._tick)
        return {"name": f"item-{key}-{n % 97}", "qty": n, "note": f"put {n}"}

    def blind(self, key: int) -> None:
        raise NotImplementedError

    def rmw(self, key: int) -> None:
        raise NotImplementedError

    def start_round(self) -> None:
        """Called before each timed round (connection state that others may reset)."""

    def executed(self) -> int:
        """Statements this system counted itself (only the raw DB-API one does)."""
        return 0

    def close(self) -> None:
        """Release what the system holds."""


def _missed(system: SQLSystem, key: int) -> AssertionError:
    return AssertionError(f"{system.name}: conditional write of {key} missed (single writer)")


class OccSystem(SQLSystem):
    """``occ.sql.Repository`` over the Table (values are dicts)."""

    name = "occ"

    def __init__(self, backend: SQLBackend, engine: sa.Engine, first: int, rows: int) -> None:
        super().__init__(backend, engine, first, rows)
        self.repo: occ.sql.Repository[dict[str, Any]] = occ.sql.Repository(engine, t)

    def blind(self, key: int) -> None:
        i = key - self.first
        value = self.value(key)
        value["id"] = key
        saved = self.repo.save(occ.Versioned(value, self.versions[i], key))
        self.versions[i] = saved.version  # type: ignore[assignment]

    def rmw(self, key: int) -> None:
        self.repo.modify(key, _add_one)


def _add_one(value: dict[str, Any]) -> dict[str, Any]:
    value["qty"] += 1
    return value


class DBAPISystem(SQLSystem):
    """The limit: the driver's own connection in autocommit, SQL text written once."""

    name = "dbapi"

    def __init__(self, backend: SQLBackend, engine: sa.Engine, first: int, rows: int) -> None:
        super().__init__(backend, engine, first, rows)
        self._proxy = engine.raw_connection()
        self.conn: Any = self._proxy.driver_connection
        assert self.conn is not None
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        table = t.name
        self.update_all = (
            f"UPDATE {table} SET name={mark}, qty={mark}, note={mark}, version={mark} "
            f"WHERE id={mark} AND version={mark}"
        )
        self.update_qty = (
            f"UPDATE {table} SET qty={mark}, version={mark} WHERE id={mark} AND version={mark}"
        )
        self.select = f"SELECT name, qty, note, version FROM {table} WHERE id={mark}"
        self.cursor: Any = self.conn.cursor()
        self.count = 0

    def start_round(self) -> None:
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            self.conn.isolation_level = None
        elif dialect == "mysql":
            self.conn.autocommit(True)
        else:
            self.conn.autocommit = True

    def blind(self, key: int) -> None:
        i = key - self.first
        v = self.versions[i]
        value = self.value(key)
        cur = self.cursor
        cur.execute(self.update_all, (value["name"], value["qty"], value["note"], v + 1, key, v))
        self.count += 1
        if cur.rowcount != 1:
            raise _missed(self, key)
        self.versions[i] = v + 1

    def rmw(self, key: int) -> None:
        cur = self.cursor
        cur.execute(self.select, (key,))
        _name, qty, _note, v = cur.fetchone()
        cur.execute(self.update_qty, (qty + 1, v + 1, key, v))
        self.count += 2
        if cur.rowcount != 1:
            raise _missed(self, key)

    def executed(self) -> int:
        return self.count

    def close(self) -> None:
        self.cursor.close()
        self._proxy.close()


class CoreSystem(SQLSystem):
    """SQLAlchemy Core as its documentation writes it: ``engine.begin()``, statement per call."""

    name = "core"

    def blind(self, key: int) -> None:
        i = key - self.first
        v = self.versions[i]
        stmt = (
            sa.update(t)
            .where(t.c.id == key, t.c.version == v)
            .values(**self.value(key), version=v + 1)
        )
        with self.engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise _missed(self, key)
        self.versions[i] = v + 1

    def rmw(self, key: int) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(t.c.name, t.c.qty, t.c.note, t.c.version).where(t.c.id == key)
            ).one()
            stmt = (
                sa.update(t)
                .where(t.c.id == key, t.c.version == row.version)
                .values(qty=row.qty + 1, version=row.version + 1)
            )
            if conn.execute(stmt).rowcount != 1:
                raise _missed(self, key)


_UPDATE_ALL = (
    sa.update(t)
    .where(t.c.id == sa.bindparam("k"), t.c.version == sa.bindparam("ev"))
    .values(
        name=sa.bindparam("name"),
        qty=sa.bindparam("qty"),
        note=sa.bindparam("note"),
        version=sa.bindparam("nv"),
    )
)
_UPDATE_QTY = (
    sa.update(t)
    .where(t.c.id == sa.bindparam("k"), t.c.version == sa.bindparam("ev"))
    .values(qty=sa.bindparam("qty"), version=sa.bindparam("nv"))
)
_SELECT = sa.select(t.c.name, t.c.qty, t.c.note, t.c.version).where(t.c.id == sa.bindparam("k"))


class CoreCachedSystem(SQLSystem):
    """SQLAlchemy Core in ``engine.begin()``, statements built once with bind parameters."""

    name = "core_cached"

    def blind(self, key: int) -> None:
        i = key - self.first
        v = self.versions[i]
        params = self.value(key)
        params.update(k=key, ev=v, nv=v + 1)
        with self.engine.begin() as conn:
            if conn.execute(_UPDATE_ALL, params).rowcount != 1:
                raise _missed(self, key)
        self.versions[i] = v + 1

    def rmw(self, key: int) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(_SELECT, {"k": key}).one()
            params = {"k": key, "ev": row.version, "nv": row.version + 1, "qty": row.qty + 1}
            if conn.execute(_UPDATE_QTY, params).rowcount != 1:
                raise _missed(self, key)


class OrmSystem(SQLSystem):
    """The ORM ``version_id_col`` path: load, compare the version, modify, flush, commit."""

    name = "orm"

    def blind(self, key: int) -> None:
        i = key - self.first
        with Session(self.engine, expire_on_commit=False) as session:
            item = session.get(OrmItem, key)
            if item is None or item.version != self.versions[i]:
                raise _missed(self, key)
            for field, value in self.value(key).items():
                setattr(item, field, value)
            session.commit()
            self.versions[i] = item.version

    def rmw(self, key: int) -> None:
        with Session(self.engine) as session:
            item = session.get(OrmItem, key)
            assert item is not None
            item.qty += 1
            session.commit()


_LOCK = _SELECT.with_for_update()


class PessimisticSystem(SQLSystem):
    """``SELECT ... FOR UPDATE`` then ``UPDATE`` in one transaction (statements cached)."""

    name = "pessimistic"

    def blind(self, key: int) -> None:
        i = key - self.first
        params = self.value(key)
        with self.engine.begin() as conn:
            row = conn.execute(_LOCK, {"k": key}).one()
            if row.version != self.versions[i]:
                raise _missed(self, key)
            params.update(k=key, ev=row.version, nv=row.version + 1)
            conn.execute(_UPDATE_ALL, params)
        self.versions[i] = row.version + 1

    def rmw(self, key: int) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(_LOCK, {"k": key}).one()
            params = {"k": key, "ev": row.version, "nv": row.version + 1, "qty": row.qty + 1}
            conn.execute(_UPDATE_QTY, params)


SQL_SYSTEMS: dict[str, type[SQLSystem]] = {
    cls.name: cls
    for cls in (
        OccSystem,
        DBAPISystem,
        CoreSystem,
        CoreCachedSystem,
        OrmSystem,
        PessimisticSystem,
    )
}


def systems_for(backend: SQLBackend) -> list[str]:
    """The systems that make sense on ``backend`` (row locks need MariaDB or PostgreSQL)."""
    return [n for n in SQL_SYSTEMS if n != "pessimistic" or backend.row_locks]


def make_system(
    name: str, backend: SQLBackend, engine: sa.Engine, first: int, rows: int
) -> SQLSystem:
    return SQL_SYSTEMS[name](backend, engine, first, rows)
