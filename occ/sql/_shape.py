"""Where a model's rows live: tables, key, version column, fields, discriminator (pure).

A ``Table`` or a plain mapped class lives in one table. Inheritance spreads a
class over more: single-table subclasses share their base's table (a
discriminator column says which class a row is), joined-table subclasses add
a table each, joined to the base by the key. The version column is the base
table's: one version per row of the hierarchy, whichever tables a write touches.

A class's rows are the rows of its own class and of its subclasses: reads of a
subclass are restricted to its discriminator values, and reads of a class with
subclasses (when it has a discriminator column) return each row as the class
it was stored as, with that class's fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper

from occ.errors import ConfigurationError, ValidationError

__all__ = [
    "ClassFields",
    "Shape",
    "discriminator_field",
    "evaluates_onupdate",
    "fetched_on_update",
    "shape_of",
]


@dataclass(frozen=True)
class Shape:
    """The layout of one model's rows.

    Attributes:
        name: the model's name (class name, or table name).
        mapper: the mapper of a mapped class, ``None`` for a ``Table``.
        tables: the tables a row of the model spans, base table first.
        selectable: what reads select from (a table, or tables joined by key).
        columns: every writable column (key and version included) by field
            name: attribute names for a mapped class, column keys for a table;
            with polymorphic reads, the subclasses' columns too.
        key_fields: the fields of the base table's primary key.
        criterion: extra conditions a row of the model meets (discriminator values).
        discriminator: the field naming each row's class, when reads are polymorphic.
        classes: by discriminator value, the mapper, the field names and the tables
            of that class.
        own: the field names of the model's own class.
    """

    name: str
    mapper: Mapper[Any] | None
    tables: tuple[sa.Table, ...]
    selectable: Any
    columns: dict[str, sa.Column[Any]]
    key_fields: tuple[str, ...]
    criterion: tuple[Any, ...]
    discriminator: str | None
    classes: dict[Any, tuple[Mapper[Any], tuple[str, ...], tuple[sa.Table, ...]]]
    own: tuple[str, ...]


def shape_of(model: Any, *, polymorphic: bool) -> Shape:
    """The :class:`Shape` of a ``Table`` or a mapped class.

    Args:
        model: a ``Table`` or a declarative (or imperatively) mapped class.
        polymorphic: read rows of subclasses as their own class (needs a
            discriminator column); otherwise every row is read as ``model``.

    Raises:
        ConfigurationError: not a table or mapped class, mapped to something
            other than tables, or an attribute spread over several columns.
    """
    if isinstance(model, sa.Table):
        columns = {c.key: c for c in model.columns}
        return Shape(
            model.name,
            None,
            (model,),
            model,
            columns,
            _key_fields(model, columns),
            (),
            None,
            {},
            (),
        )
    try:
        mapper = sa_inspect(model)
    except sa.exc.NoInspectionAvailable:
        raise ConfigurationError(
            f"{model!r} is neither a SQLAlchemy mapped class nor a Table"
        ) from None
    if not isinstance(mapper, Mapper):
        raise ConfigurationError(f"{model!r} is not a mapped class")
    name = model.__name__
    tables = _tables(mapper, name)
    fields = _fields(mapper, tables, name)
    columns = dict(fields)
    classes: dict[Any, tuple[Mapper[Any], tuple[str, ...], tuple[sa.Table, ...]]] = {}
    discriminator = None
    selectable: Any = mapper.persist_selectable if len(tables) > 1 else tables[0]
    subclasses = [m for m in mapper.self_and_descendants if m is not mapper and not m.concrete]
    if polymorphic and subclasses and mapper.polymorphic_on is not None:
        discriminator = _discriminator(mapper, name)
    if discriminator is not None:
        joined = set(tables)
        for sub in (mapper, *subclasses):
            sub_tables = _tables(sub, name)
            sub_fields = _fields(sub, sub_tables, name)
            columns.update(sub_fields)
            if sub.polymorphic_identity is not None:
                classes[sub.polymorphic_identity] = (sub, tuple(sub_fields), sub_tables)
            table = sub_tables[-1]
            if table not in joined and sub.inherit_condition is not None:
                joined.add(table)
                selectable = selectable.outerjoin(table, sub.inherit_condition)
    return Shape(
        name,
        mapper,
        tables,
        selectable,
        columns,
        _key_fields(tables[0], columns),
        _criterion(mapper),
        discriminator,
        classes,
        tuple(fields),
    )


def _tables(mapper: Mapper[Any], name: str) -> tuple[sa.Table, ...]:
    """The tables of a class, base first (more than one with joined inheritance)."""
    tables: list[sa.Table] = []
    for level in mapper.iterate_to_root():
        table = level.local_table
        if not isinstance(table, sa.Table):
            raise ConfigurationError(
                f"{name} is mapped to {type(table).__name__} {table}, not a Table: occ "
                "writes rows of tables (map the class to a Table)"
            )
        if table not in tables:
            tables.insert(0, table)
        if level.concrete:
            break
    return tuple(tables)


def _fields(
    mapper: Mapper[Any], tables: tuple[sa.Table, ...], name: str
) -> dict[str, sa.Column[Any]]:
    """The columns of a class by attribute name (key included), from its tables only."""
    out: dict[str, sa.Column[Any]] = {}
    for prop in mapper.column_attrs:
        columns = [c for c in prop.columns if isinstance(c, sa.Column) and c.table in tables]
        if not columns:
            continue  # a SQL expression (column_property(select(...))): read-only, not stored
        if len(columns) > 1 and not all(c.primary_key for c in columns):
            raise ConfigurationError(
                f"{name}.{prop.key} maps {len(columns)} columns "
                f"({', '.join(str(c) for c in columns)}): occ writes one column per attribute"
            )
        base = next((c for c in columns if c.table is tables[0]), columns[0])
        out[prop.key] = base
    return out


def _key_fields(table: sa.Table, columns: dict[str, sa.Column[Any]]) -> tuple[str, ...]:
    pk = list(table.primary_key.columns)
    by_column = {c: k for k, c in columns.items()}
    missing = [c for c in pk if c not in by_column]
    if missing:
        raise ConfigurationError(
            f"{table.name}: key column(s) {', '.join(c.name for c in missing)} are not mapped"
        )
    return tuple(by_column[c] for c in pk)


def _criterion(mapper: Mapper[Any]) -> tuple[Any, ...]:
    """``discriminator IN (...)`` for a subclass (its rows and its subclasses' rows)."""
    on = mapper.polymorphic_on
    if mapper.inherits is None or mapper.concrete or on is None:
        return ()
    identities = [
        m.polymorphic_identity
        for m in mapper.self_and_descendants
        if m.polymorphic_identity is not None and not m.concrete
    ]
    return (on.in_(identities),) if identities else ()


def _discriminator(mapper: Mapper[Any], name: str) -> str:
    on = mapper.polymorphic_on
    try:
        if not isinstance(on, sa.Column):
            raise sa.orm.exc.UnmappedColumnError(str(on))
        return str(mapper.get_property_by_column(on).key)
    except sa.orm.exc.UnmappedColumnError:
        raise ConfigurationError(
            f"{name}.polymorphic_on is a SQL expression; occ reads each row as its class "
            "by a discriminator column mapped to an attribute"
        ) from None


def discriminator_field(shape: Shape) -> str | None:
    """The attribute of a mapped class's discriminator column, if it has one."""
    mapper = shape.mapper
    if mapper is None or not isinstance(mapper.polymorphic_on, sa.Column):
        return None
    on = mapper.polymorphic_on
    assert on is not None
    try:
        return str(mapper.get_property_by_column(on).key)
    except sa.orm.exc.UnmappedColumnError:
        return None


class ClassFields:
    """The fields of each value and row: those of the class it is (inheritance).

    Without polymorphic reads every value and row has the model's own fields.
    """

    def __init__(self, shape: Shape, fields: tuple[str, ...]) -> None:
        self.shape = shape
        self.polymorphic = shape.discriminator is not None
        known = set(fields)
        self.own = tuple(n for n in shape.own if n in known) if shape.own else fields
        self._by_identity = {
            identity: (mapper, tuple(n for n in names if n in known), tables)
            for identity, (mapper, names, tables) in shape.classes.items()
        }
        self._by_class: dict[type, tuple[str, ...]] = {}

    def _entry(self, identity: Any) -> tuple[Mapper[Any], tuple[str, ...], tuple[sa.Table, ...]]:
        try:
            return self._by_identity[identity]
        except KeyError:
            raise ConfigurationError(
                f"a {self.shape.name} row has discriminator {identity!r}, which no mapped "
                f"subclass of {self.shape.name} declares (polymorphic_identity)"
            ) from None

    def _mapper(self, value: Any) -> Mapper[Any]:
        mapper: Mapper[Any] = sa.orm.object_mapper(value)
        return mapper

    def check(self, value: Any) -> None:
        """Refuse a subclass instance that the model's rows cannot hold."""
        mapper = self._mapper(value)
        if mapper is self.shape.mapper:
            return
        if not self.polymorphic or mapper.polymorphic_identity not in self._by_identity:
            raise ValidationError(
                f"a {self.shape.name} repository reads every row as a {self.shape.name} "
                f"(no discriminator column tells the classes apart); write this "
                f"{type(value).__name__} through Repository(engine, {type(value).__name__})"
            )

    def names_of(self, value: Any) -> tuple[str, ...]:
        """The field names of a value's class."""
        if not self.polymorphic:
            return self.own
        names = self._by_class.get(type(value))
        if names is None:
            names = self._entry(self._mapper(value).polymorphic_identity)[1]
            self._by_class[type(value)] = names
        return names

    def identity_of(self, value: Any) -> Any:
        """The discriminator value of a value's class."""
        return self._mapper(value).polymorphic_identity

    def mapper_of(self, record: Any) -> Mapper[Any]:
        """The mapper of the class a stored record is."""
        if not self.polymorphic:
            assert self.shape.mapper is not None
            return self.shape.mapper
        return self._entry(record[self.shape.discriminator])[0]

    def record_of(self, full: dict[str, Any]) -> dict[str, Any]:
        """A polymorphic row's fields, cut down to those of the class it is."""
        assert self.shape.discriminator is not None
        names = self._entry(full[self.shape.discriminator])[1]
        return {name: full[name] for name in names if name in full}

    def tables_of(self, record: Any) -> tuple[sa.Table, ...]:
        """The tables a new row of a record's class spans."""
        if not self.polymorphic:
            return self.shape.tables
        return self._entry(record[self.shape.discriminator])[2]


def evaluates_onupdate(table: sa.Table, written: sa.Column[Any]) -> bool:
    """Whether an UPDATE of ``table`` that writes ``written`` evaluates a Python-side
    ``onupdate`` (a callable or a value) of another column."""
    return any(
        c.onupdate is not None
        and not c.onupdate.is_clause_element
        and not c.onupdate.is_sequence
        and c is not written
        for c in table.columns
    )


def fetched_on_update(columns: dict[str, sa.Column[Any]]) -> tuple[str, ...]:
    """The fields the database itself sets on UPDATE: a SQL ``onupdate`` or ``server_onupdate``."""
    return tuple(
        name
        for name, c in columns.items()
        if c.server_onupdate is not None
        or (c.onupdate is not None and c.onupdate.is_clause_element)
    )
