"""The statements of batch writes and reads by key list, built once per shape and cached (pure).

A batch of conditional updates is one ``UPDATE`` joined to a derived table of
the batch's rows — key, expected version, new version, values, write token —
guarded row by row exactly as a single write is (``t.version = occ_v.ev``):

- PostgreSQL: ``UPDATE t SET … FROM unnest(:k0, :ev, :nv, :f0, …) AS occ_v(k0, ev, nv,
  f0, …) WHERE t.pk = occ_v.k0 AND t.version = occ_v.ev RETURNING …``, the rows sent
  as one typed array per column: the ``UPDATE … FROM (VALUES …)`` form whose text
  does not depend on the batch's size, so it is prepared once.
- SQLite and MariaDB: a ``VALUES`` list as the derived table (``UPDATE t SET … FROM
  (WITH … VALUES …)``; MariaDB's multi-table ``UPDATE t, (…) AS occ_v SET …``; MySQL
  spells ``VALUES`` rows differently, so there it is ``SELECT … UNION ALL``). Its
  text depends on the number of rows: a batch is padded to the next power of two
  with rows of NULLs, which match nothing, so a shape compiles at most a dozen times.

Deletes are the same join on PostgreSQL (with the tombstones recorded in the
same statement) and an expanding ``(key, version) IN (…)`` elsewhere; reads by
key list an expanding ``IN``; inserts an ``INSERT … RETURNING`` sent with a
list of parameter sets, which SQLAlchemy's ``insertmanyvalues`` turns into
multi-row statements.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from occ._core.steps import Write
from occ.sql._statements import _LRU, DriverSQL, Statements, _plain_rows
from occ.sql._tombstones import Tombstones, key_text

__all__ = ["BulkStatements", "bucket"]

#: the rows of one batch statement (SQLite also keeps under its 32,766 parameters).
ROWS = 1000
_SQLITE_PARAMETERS = 32766


def bucket(n: int, limit: int) -> int:
    """The number of rows a statement for ``n`` rows is built for: the next power of two
    (at most ``limit``)."""
    size = 1
    while size < n:
        size *= 2
    return min(size, limit)


class BulkStatements:
    """Builds and caches the batch statements of one entity on one dialect."""

    def __init__(self, st: Statements, tombstones: Tombstones | None) -> None:
        self.st = st
        self.entity = entity = st.entity
        self.dialect = st.dialect
        self.name = st.dialect.name
        self.tombstones = tombstones
        self.unnest = self.name == "postgresql"
        self.plain = _plain_rows(entity.all_columns, st.dialect)
        self._cache = _LRU(64)
        #: the parameter names of a derived table of n rows of a width, row by row.
        self._names: dict[tuple[int, int], tuple[str, ...]] = {}
        b = st.bind
        self._keys = f"{b}keys"
        self._versioned = f"{b}kv"
        self._unversioned = f"{b}ku"
        self.key_names = tuple(f"k{i}" for i in range(len(entity.key_columns)))
        widest = len(self.key_names) + 3 + len(entity.fields)
        limit = _SQLITE_PARAMETERS // widest if self.name == "sqlite" else ROWS
        #: the most rows one statement carries; a larger batch is sent in several.
        self.rows = max(1, min(ROWS, limit))
        self._key_in = self._in(self._keys, entity.key_columns)

    @property
    def union_rows(self) -> bool:
        """MySQL proper (not MariaDB) has no ``VALUES`` list without ``ROW`` (known once the
        dialect has connected)."""
        return self.name == "mysql" and not getattr(self.dialect, "is_mariadb", False)

    # -- reads by key list -------------------------------------------------------------

    def _in(self, name: str, columns: Sequence[sa.Column[Any]]) -> Any:
        param: Any = sa.bindparam(name, expanding=True)
        if len(columns) == 1:
            return columns[0].in_(param)
        return sa.tuple_(*columns).in_(param)

    def read(self, *, locking: bool | str = False) -> Any:
        """``SELECT`` of every column where the key is in ``:keys`` (``FOR SHARE`` when
        ``locking``, ``FOR UPDATE`` for ``"update"``)."""

        def build() -> Any:
            stmt = sa.select(*self.entity.all_columns).where(self._key_in)
            if locking == "update":
                stmt = stmt.with_for_update()
            elif locking and self.st.locking_reads:
                stmt = stmt.with_for_update(read=True)
            return stmt, ()

        return self._cache.get(("r", locking), build)[0]

    def keys_params(self, keys: Sequence[Any]) -> dict[str, Any]:
        return {self._keys: list(keys)}

    # -- the rows of a batch as a derived table ------------------------------------------

    def row_types(self, fields: tuple[str, ...]) -> list[tuple[str, Any]]:
        """The columns of the derived table of an update: key, versions, values, token."""
        entity = self.entity
        version = entity.version_col.type
        cols = [(name, c.type) for name, c in zip(self.key_names, entity.key_columns, strict=True)]
        cols += [("ev", version), ("nv", version)]
        cols += [(f"f{j}", entity.fields[name].type) for j, name in enumerate(fields)]
        if entity.token_col is not None:
            cols.append(("tok", sa.String()))
        return cols

    def _rows(self, cols: list[tuple[str, Any]], n: int | None) -> Any:
        b = self.st.bind
        if n is None:  # PostgreSQL: one array per column
            arrays = [sa.bindparam(f"{b}a_{name}", type_=postgresql.ARRAY(t)) for name, t in cols]
            return (
                sa.func.unnest(*arrays)
                .table_valued(*(name for name, _ in cols))
                .render_derived(name="occ_v")
            )
        rows = [
            [sa.bindparam(f"{b}r{i}_{j}", type_=t) for j, (_, t) in enumerate(cols)]
            for i in range(n)
        ]
        if self.union_rows:
            first = [p.label(name) for p, (name, _) in zip(rows[0], cols, strict=True)]
            return sa.union_all(sa.select(*first), *(sa.select(*r) for r in rows[1:])).subquery(
                "occ_v"
            )
        columns = [sa.column(name, t) for name, t in cols]
        listed = sa.values(*columns, name="occ_rows").data([tuple(r) for r in rows])
        return sa.select(listed.cte("occ_rows", nesting=True)).subquery("occ_v")

    def rows_params(
        self, cols: list[tuple[str, Any]], rows: list[tuple[Any, ...]], n: int | None
    ) -> dict[str, Any]:
        """The parameters of a derived table of ``rows`` (padded to ``n`` with NULLs)."""
        b = self.st.bind
        if n is None:
            return {f"{b}a_{name}": [row[j] for row in rows] for j, (name, _) in enumerate(cols)}
        width = len(cols)
        names = self._names.get((n, width))
        if names is None:
            names = self._names[(n, width)] = tuple(
                f"{b}r{i}_{j}" for i in range(n) for j in range(width)
            )
        padding = [(None,) * width] * (n - len(rows))
        return dict(zip(names, itertools.chain.from_iterable([*rows, *padding]), strict=True))

    def _joined(self, v: Any) -> list[Any]:
        """The key join and the version guard of each row (expecting 0 matches NULL too)."""
        entity = self.entity
        col = entity.version_col
        keys = [c == v.c[name] for name, c in zip(self.key_names, entity.key_columns, strict=True)]
        zero = sa.literal_column("0", sa.Integer)  # no parameter: these run as driver SQL
        guard = sa.or_(col == v.c.ev, sa.and_(col.is_(None), v.c.ev == zero))
        return [*keys, guard]

    def row_of(self, write: Write, fields: tuple[str, ...]) -> tuple[Any, ...]:
        """One row of an update's derived table."""
        key = write.key if len(self.key_names) > 1 else (write.key,)
        row = (*key, write.expected_version, write.new_version)
        row += tuple(write.changes[name] for name in fields)
        if self.entity.token_col is not None:
            row += (write.token or "",)
        return row

    # -- updates ----------------------------------------------------------------------

    def update(self, fields: tuple[str, ...], *, returning: bool, n: int | None) -> Any:
        """The batch ``UPDATE`` of ``fields`` for ``n`` rows (``None``: any, PostgreSQL);
        ``RETURNING`` every column (``returning``) or the key (PostgreSQL, SQLite)."""

        def build() -> Any:
            entity = self.entity
            v = self._rows(self.row_types(fields), n)
            values: dict[Any, Any] = {
                entity.fields[name]: v.c[f"f{j}"] for j, name in enumerate(fields)
            }
            values[entity.version_col] = v.c.nv
            if entity.token_col is not None:
                values[entity.token_col] = self.st.push_token(v.c.tok)
            stmt = sa.update(entity.table).where(*self._joined(v)).values(values)
            # A Python-side onupdate is evaluated by SQLAlchemy per statement: not driver SQL.
            driver = not self.st.evaluates_onupdate
            if self.name == "mysql":
                return (DriverSQL(stmt, self.dialect) if driver else stmt), ()
            stmt = stmt.returning(*(entity.all_columns if returning else entity.key_columns))
            return (DriverSQL(stmt, self.dialect) if self.plain and driver else stmt), ()

        return self._cache.get(("u", fields, returning, n, self.union_rows), build)[0]

    # -- deletes ----------------------------------------------------------------------

    def delete(self) -> Any:
        """The batch ``DELETE``: PostgreSQL joins ``unnest`` (and records the tombstones in
        the same statement, returning their key texts); elsewhere ``(key, version) IN (…)``
        or, expecting 0, ``key IN (…) AND version IS NULL OR 0``, returning the keys."""

        def build() -> Any:
            entity = self.entity
            t = entity.table
            tomb = self.tombstones
            if self.unnest:
                keys = zip(self.key_names, entity.key_columns, strict=True)
                cols = [(name, c.type) for name, c in keys]
                cols.append(("ev", entity.version_col.type))
                if tomb is not None:
                    cols.append(("tk", sa.String()))
                v = self._rows(cols, None)
                stmt = sa.delete(t).where(*self._joined(v))
                if tomb is None:
                    return stmt.returning(*entity.key_columns), ()
                # a row without a version (NULL) is deleted at 0
                version = sa.func.coalesce(entity.version_col, sa.literal_column("0", sa.Integer))
                deleted = stmt.returning(v.c.tk, version).cte("occ_deleted")
                recorded = sa.select(
                    sa.bindparam("occ_te"), deleted.c.tk, deleted.c[1], sa.bindparam("occ_td")
                )
                return tomb.record_select(recorded).returning(tomb.table.c.entity_key), ()
            col = entity.version_col
            versioned = self._in(self._versioned, (*entity.key_columns, col))
            unversioned = sa.and_(
                self._in(self._unversioned, entity.key_columns),
                sa.or_(col.is_(None), col == sa.literal_column("0", sa.Integer)),
            )
            stmt = sa.delete(t).where(sa.or_(versioned, unversioned))
            return stmt.returning(*entity.key_columns), ()

        return self._cache.get(("d",), build)[0]

    def delete_params(self, writes: Sequence[Write]) -> dict[str, Any]:
        keyed = [w.key if len(self.key_names) > 1 else (w.key,) for w in writes]
        if self.unnest:
            cols = [*self.key_names, "ev"]
            rows = [(*key, w.expected_version) for key, w in zip(keyed, writes, strict=True)]
            if self.tombstones is not None:
                cols.append("tk")
                rows = [(*row, key_text(w.key)) for row, w in zip(rows, writes, strict=True)]
            params = self.rows_params([(c, None) for c in cols], rows, None)
            if self.tombstones is not None:
                params["occ_te"] = self.tombstones.entity
                params["occ_td"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            return params
        versioned, unversioned = [], []
        for key, w in zip(keyed, writes, strict=True):
            if w.expected_version == 0:
                unversioned.append(key if len(key) > 1 else key[0])
            else:
                versioned.append((*key, w.expected_version))
        return {self._versioned: versioned, self._unversioned: unversioned}

    # -- inserts ----------------------------------------------------------------------

    def insert(self, fields: tuple[str, ...], *, keyed: bool, first_version: Any) -> Any:
        """``INSERT … RETURNING`` for a list of parameter sets: under given keys (a taken one
        skipped where the dialect can: PostgreSQL, SQLite), or keys the database assigns
        (rows returned in order)."""
        stmt, binds = self.st.insert(
            fields,
            returning=True,
            first_version=first_version if keyed else None,
            skip_taken=keyed and self.name in ("postgresql", "sqlite"),
            ordered=not keyed,
        )
        return stmt, binds
