"""Conditional statements, built once per shape and cached (bounded).

A shape is what changes the SQL text: the set of columns written, whether
rows come back (RETURNING), whether the expected version is the unversioned
one (``version IS NULL OR version = 0``), whether a read locks.
"""

from __future__ import annotations

import datetime
import operator
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from occ._core.model import Version
from occ.sql._mapping import TOKENS_LENGTH, EntityMap
from occ.sql._shape import evaluates_onupdate

__all__ = ["Bound", "DriverSQL", "Statements"]

#: a statement with the names of its bind parameters for the written fields.
Bound = tuple[Any, tuple[tuple[str, str], ...]]


class _LRU:
    """A small bounded cache: statements for shapes seen often stay, the rest go."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Bound] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Bound]) -> Bound:
        data = self._data
        try:
            data.move_to_end(key)
            return data[key]
        except KeyError:
            value = build()
            data[key] = value
            if len(data) > self.size:
                data.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._data)


class DriverSQL:
    """A write without result rows, compiled once: its SQL text runs as driver SQL.

    ``Connection.execute`` of a cached statement still looks up the compiled
    form and builds its parameters on every call, about half the CPU of a
    one-row UPDATE; ``exec_driver_sql`` of the text compiled here skips that.
    Events still fire (``before_cursor_execute``) and driver errors are still
    wrapped. Bind processors of the column types are applied; a connection
    with a ``schema_translate_map`` runs :attr:`statement` instead.
    """

    __slots__ = ("_order", "_positional", "_processors", "sql", "statement")

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement
        self.sql: str = compiled.string
        self._order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        )
        order = self._order or ("",)
        #: the positional parameters as a tuple, picked in C.
        self._positional: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            operator.itemgetter(*order) if len(order) > 1 else lambda p: (p[order[0]],)
        )
        self._processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[name] = processor

    def args(self, params: Mapping[str, Any]) -> Any:
        """``params`` by bind name, processed and in the driver's paramstyle."""
        processors = self._processors
        if processors:
            params = {
                name: processors[name](value) if name in processors else value
                for name, value in params.items()
            }
        if self._order is None:
            return params
        return self._positional(params)


def _plain_rows(columns: tuple[sa.Column[Any], ...], dialect: Dialect) -> bool:
    """Whether the driver's own values are the row's values: integer and string columns
    whose types convert nothing on the way out (no result processor)."""
    for column in columns:
        kind = column.type
        if not isinstance(kind, sa.Integer | sa.String) or isinstance(kind, sa.Enum):
            return False
        try:
            if kind.dialect_impl(dialect).result_processor(dialect, None) is not None:
                return False
        except Exception:  # a processor that needs the driver's column type: keep execute()
            return False
    return True


def _bind_prefix(*tables: sa.Table) -> str:
    """``occ_`` (or ``_occ_``, ...): no column name or key starts with it."""
    names = {n for t in tables for c in t.columns for n in (c.name, c.key)}
    prefix = "occ_"
    while any(name.startswith(prefix) for name in names):
        prefix = "_" + prefix
    return prefix


class Statements:
    """Builds and caches the statements of one entity for one dialect."""

    def __init__(self, entity: EntityMap, dialect: Dialect, *, cache_size: int = 256) -> None:
        self.entity = entity
        self.dialect = dialect
        self.update_returning = bool(getattr(dialect, "update_returning", False))
        self.insert_returning = bool(getattr(dialect, "insert_returning", False))
        self.locking_reads = dialect.name in ("mysql", "postgresql")
        self._cache = _LRU(cache_size)
        t = entity.table
        #: prefix of occ's bind parameter names, chosen so that none equals a column's
        #: name or key (SQLAlchemy reserves those in the SET and VALUES clauses).
        self.bind = _bind_prefix(*entity.tables)
        b = self.bind
        self._single_key = len(entity.key_columns) == 1
        self._key_binds = tuple(f"{b}k{i}" for i in range(len(entity.key_columns)))
        self._k0 = self._key_binds[0]
        self._ev = f"{b}ev"
        self._nv = f"{b}nv"
        self._key_clause = sa.and_(
            *(
                col == sa.bindparam(bind)
                for bind, col in zip(self._key_binds, entity.key_columns, strict=True)
            ),
            *entity.criterion,
        )
        #: a Python-side ``onupdate`` (a callable or a value) is evaluated per statement by
        #: SQLAlchemy's execution context: such UPDATEs run as statements, not driver SQL.
        self.evaluates_onupdate = evaluates_onupdate(t, entity.version_col)
        self._version_eq = entity.version_col == sa.bindparam(self._ev)
        self._version_unversioned = sa.or_(entity.version_col.is_(None), self._version_eq)
        self._es = f"{b}es"
        self._tok = f"{b}tok"
        #: the SET of the token column: this write's token first, the older ones after it.
        self._push_token: Any = (
            None
            if entity.token_col is None
            else self.push_token(sa.bindparam(self._tok, type_=sa.String))
        )
        #: SQLite keeps datetimes as text: a timestamp another program stored without
        #: fractional seconds ("2024-01-01 10:00:00", as CURRENT_TIMESTAMP writes it) is
        #: matched in that spelling too, so a row occ can read it can also write.
        self._version_whole_second = sa.or_(
            self._version_eq, entity.version_col == sa.bindparam(self._es, type_=sa.String)
        )
        self.text_timestamps = dialect.name == "sqlite" and entity.versions.name == "timestamp"
        select = sa.select(*entity.all_columns).select_from(entity.shape.selectable)
        select = select.where(self._key_clause)
        # PostgreSQL cannot lock the nullable side of an outer join (subclass tables).
        of = t if dialect.name == "postgresql" and len(entity.tables) > 1 else None
        select_locking = select.with_for_update(read=True, of=of)
        self._table = t
        # Reads whose columns need no result processing run as driver SQL too.
        plain = _plain_rows(entity.all_columns, dialect)
        self._read = DriverSQL(select, dialect) if plain else select
        self._read_locking = (
            DriverSQL(select_locking, dialect) if plain and self.locking_reads else select_locking
        )
        select_exclusive = select.with_for_update(of=of)
        #: SQLite has no row locks: a no-op UPDATE of the row takes the database's write
        #: lock in the transaction, which holds every other writer off until it ends.
        self.touch: Any = (
            DriverSQL(
                sa.update(t)
                .where(self._key_clause)
                .values({entity.version_col: entity.version_col}),
                dialect,
            )
            if dialect.name == "sqlite"
            else None
        )
        #: ``SELECT ... FOR UPDATE``: the row lock of the lock fallback on hot keys.
        self._read_exclusive = (
            DriverSQL(select_exclusive, dialect)
            if plain and self.locking_reads
            else select_exclusive
        )

    def __len__(self) -> int:
        return len(self._cache)

    def push_token(self, token: Any) -> Any:
        """The token column's new value: ``token`` (an SQL expression) first, then the older
        tokens, cut to the last 8 (the entity must keep tokens)."""
        token_col = self.entity.token_col
        assert token_col is not None
        return sa.func.substr(
            token
            + sa.literal_column("' '", sa.String)
            + sa.func.coalesce(token_col, sa.literal_column("''", sa.String)),
            sa.literal_column("1", sa.Integer),
            sa.literal_column(str(TOKENS_LENGTH), sa.Integer),
        )

    def token_update(self) -> Any:
        """The SET expression of the token column (``None`` when the entity keeps no tokens)."""
        return self._push_token

    def field_binds(self, fields: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """``(field, bind name)`` for each written field."""
        b = self.bind
        return tuple((name, f"{b}f{i}") for i, name in enumerate(fields))

    @property
    def key_binds(self) -> tuple[str, ...]:
        """The bind names of the key's parts, in the order of the key's fields."""
        return self._key_binds

    @property
    def key_clause(self) -> Any:
        """``key_col = :bind [AND ...]`` with occ's key bind names."""
        return self._key_clause

    def key_params(self, key: Any) -> dict[str, Any]:
        if self._single_key:
            return {self._k0: key}
        return dict(zip(self._key_binds, key, strict=True))

    def _guard(self, unversioned: bool, whole_second: bool = False) -> Any:
        if unversioned:
            return self._version_unversioned
        return self._version_whole_second if whole_second else self._version_eq

    def whole_second(self, expected: Any) -> bool:
        """Whether the guard must also match ``expected`` spelled without fractional seconds."""
        return self.text_timestamps and expected.microsecond == 0

    def read(self, *, locking: bool = False, exclusive: bool = False) -> Any:
        """``SELECT`` of every column by key (``FOR SHARE`` when ``locking``, ``FOR UPDATE``
        when ``exclusive``, where supported).

        It runs as :class:`DriverSQL` when no column's type processes results.
        """
        if exclusive and self.locking_reads:
            return self._read_exclusive
        return self._read_locking if locking and self.locking_reads else self._read

    def update(
        self,
        fields: tuple[str, ...],
        *,
        returning: bool,
        unversioned: bool,
        whole_second: bool = False,
    ) -> Bound:
        """``UPDATE t SET f=:f0, ..., version=:nv WHERE key AND version=:ev [RETURNING *]``."""

        def build() -> Bound:
            binds = self.field_binds(fields)
            values: dict[Any, Any] = {
                self.entity.fields[name]: sa.bindparam(bind) for name, bind in binds
            }
            values[self.entity.version_col] = sa.bindparam(self._nv)
            if self._push_token is not None:
                values[self.entity.token_col] = self._push_token
            stmt = (
                sa.update(self._table)
                .where(self._key_clause, self._guard(unversioned, whole_second))
                .values(values)
            )
            if returning:
                return stmt.returning(*self.entity.all_columns), binds
            if self.evaluates_onupdate:
                return stmt, binds
            return DriverSQL(stmt, self.dialect), binds

        return self._cache.get(("u", fields, returning, unversioned, whole_second), build)

    def delete(self, *, unversioned: bool, whole_second: bool = False) -> Bound:
        def build() -> Bound:
            guard = self._guard(unversioned, whole_second)
            stmt = sa.delete(self._table).where(self._key_clause, guard)
            return DriverSQL(stmt, self.dialect), ()

        return self._cache.get(("d", unversioned, whole_second), build)

    def delete_recording(self, tombstones: Any, *, unversioned: bool, whole_second: bool) -> Any:
        """PostgreSQL: the versioned DELETE and its tombstone, one statement (cached)."""

        def build() -> Bound:
            guard = self._guard(unversioned, whole_second)
            delete = (
                sa.delete(self._table)
                .where(self._key_clause, guard)
                .returning(sa.func.coalesce(self.entity.version_col, 0))  # NULL: unversioned
            )
            return tombstones.delete_and_record(delete), ()

        return self._cache.get(("dt", unversioned, whole_second), build)[0]

    def insert(
        self,
        fields: tuple[str, ...],
        *,
        returning: bool,
        first_version: Any = None,
        skip_taken: bool = False,
        ordered: bool = False,
    ) -> Bound:
        """``INSERT`` of the given fields (the key among them when given) and the version.

        ``first_version``: an SQL expression of the version (a tombstone lookup)
        instead of the ``nv`` parameter. For batches (run with a list of
        parameter sets): ``skip_taken`` skips a row whose key is taken
        (``ON CONFLICT (key) DO NOTHING``, PostgreSQL and SQLite), ``ordered``
        returns the rows in the order of the parameter sets.
        """

        def build() -> Bound:
            keys = zip(self.entity.key_fields, self.entity.key_columns, strict=True)
            columns = {**dict(keys), **self.entity.fields}
            binds = self.field_binds(fields)
            values: dict[Any, Any] = {columns[name]: sa.bindparam(bind) for name, bind in binds}
            values[self.entity.version_col] = (
                sa.bindparam(self._nv) if first_version is None else first_version
            )
            if self.entity.token_col is not None:
                values[self.entity.token_col] = sa.bindparam(self._tok, type_=sa.String)
            stmt: Any = sa.insert(self._table)
            if skip_taken:
                module: Any = postgresql if self.dialect.name == "postgresql" else sqlite
                stmt = module.insert(self._table)
            stmt = stmt.values(values)
            if skip_taken:
                stmt = stmt.on_conflict_do_nothing(index_elements=list(self.entity.key_columns))
            if returning:
                stmt = stmt.returning(*self.entity.all_columns, sort_by_parameter_order=ordered)
            return stmt, binds

        shape = ("i", fields, returning, first_version is not None, skip_taken, ordered)
        return self._cache.get(shape, build)

    def params(
        self,
        key: Any,
        binds: tuple[tuple[str, str], ...],
        values: Mapping[str, Any],
        *,
        expected: Version | None = None,
        new: Version | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        params = self.key_params(key) if key is not None else {}
        for name, bind in binds:
            params[bind] = values[name]
        if expected is not None:
            params[self._ev] = expected
            if self.text_timestamps and isinstance(expected, datetime.datetime):
                params[self._es] = expected.strftime("%Y-%m-%d %H:%M:%S")
        if new is not None:
            params[self._nv] = new
        if self._push_token is not None:
            params[self._tok] = token or ""
        return params
