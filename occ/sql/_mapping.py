"""How a SQLAlchemy model maps to records: fields, key, version column, values.

Pure: no connection is opened here.
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from occ._core.model import Record, Version, freeze
from occ._core.settle import TOKEN_WINDOW
from occ._core.steps import Stored
from occ._core.versions import IntVersions, TimestampVersions, VersionScheme
from occ.errors import ConfigurationError, ValidationError
from occ.sql._shape import ClassFields, discriminator_field, shape_of

__all__ = ["EntityMap"]

_MISSING = object()


class EntityMap:
    """Fields, key and version of one table or mapped class.

    Records use attribute names (for a mapped class) or column keys (for a
    ``Table``); they hold every column except the key and the version.
    """

    def __init__(
        self,
        model: Any,
        *,
        version_column: str,
        version_type: str,
        dialect: Dialect,
        token_column: str | None = None,
        polymorphic: bool = True,
    ) -> None:
        self.model = model
        shape = shape_of(model, polymorphic=polymorphic)
        self.shape = shape
        self.name = shape.name
        self.mapper: Mapper[Any] | None = shape.mapper
        #: the base table: it holds the key and the version.
        self.table: sa.Table = shape.tables[0]
        columns = shape.columns
        pk_columns = list(self.table.primary_key.columns)
        if not pk_columns:
            raise ConfigurationError(f"{self.name} has no primary key: occ writes by key")
        self.key_fields: tuple[str, ...] = shape.key_fields
        self.key_columns: tuple[sa.Column[Any], ...] = tuple(pk_columns)
        own = shape.own or tuple(columns)  # not a subclass's column
        version_field = next(
            (
                k
                for k, c in columns.items()
                if k in own and (k == version_column or c.name == version_column)
            ),
            None,
        )
        if version_field is None:
            raise ConfigurationError(
                f"{self.name} has no version column {version_column!r}; add one "
                "(an Integer, or a DateTime with version_type='timestamp') or pass "
                "version_column='<name>'"
            )
        self.version_field = version_field
        self.version_col: sa.Column[Any] = columns[version_field]
        if self.version_col in pk_columns:
            raise ConfigurationError(f"{self.name}: the version column cannot be the key")
        if self.version_col.table is not self.table:
            raise ConfigurationError(
                f"{self.name}.{version_field} is a column of {self.version_col.table.name}; "
                f"the version of an inheritance hierarchy lives on its base table "
                f"({self.table.name}): one version per row, whichever tables a write changes"
            )
        self.versions: VersionScheme = _scheme(self, version_type, dialect)
        #: several tables (joined inheritance): a write is several statements, none atomic alone.
        self.joined = len(shape.tables) > 1 or any(
            len(tables) > 1 for _, _, tables in shape.classes.values()
        )
        #: atomic fast-path operations (``Union`` has no portable SQL form; none for
        #: timestamp versions, which the database cannot advance by itself, nor over joined
        #: tables).
        self.commutative: frozenset[str] = (
            frozenset({"inc", "max", "min"})
            if self.versions.name == "int" and not self.joined
            else frozenset()
        )
        self._mysql = dialect.name == "mysql"
        #: the column keeping the last write tokens (see :meth:`tokens_of`), if any.
        self.token_col = _token_column(
            self.name, columns, token_column, (*pk_columns, self.version_col)
        )
        self.fields: dict[str, sa.Column[Any]] = {
            k: c
            for k, c in columns.items()
            if k != version_field and c not in pk_columns and c is not self.token_col
        }
        #: every column, in the order selects and RETURNING clauses list them.
        self.all_columns: tuple[sa.Column[Any], ...] = (
            *self.key_columns,
            self.version_col,
            *self.fields.values(),
            *((self.token_col,) if self.token_col is not None else ()),
        )
        #: what a row of the class (or a subclass) meets: its discriminator values, as SQL
        #: text (prebuilt statements carry no bound values of their own).
        self.criterion: tuple[Any, ...] = tuple(
            sa.text(str(c.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
            for c in shape.criterion
        )
        #: every table a read joins (base first).
        self.tables: tuple[sa.Table, ...] = tuple(dict.fromkeys(c.table for c in self.all_columns))
        self._field_names = tuple(self.fields)
        self._classes = ClassFields(shape, self._field_names)
        #: the fields of the model's own class (without its subclasses').
        self._own = self._classes.own
        #: the attribute naming a row's class (single-table inheritance), never written by occ.
        self._discriminator = discriminator_field(shape)
        #: every name a dict value may hold.
        self._value_names = frozenset((*self.fields, *self.key_fields, self.version_field))
        self._key_python = tuple(_python_type(c) for c in self.key_columns)
        self._key_ranges = tuple(int_range(c, dialect) for c in self.key_columns)
        #: a single-column key of exactly this type passes check_key() at once.
        self._key_exact: type | None = (
            self._key_python[0]
            if len(self.key_columns) == 1
            and self._key_python[0] in (int, str, float, bytes, decimal.Decimal, uuid.UUID)
            else None
        )

    # -- keys -------------------------------------------------------------

    def check_key(self, key: Any) -> Any:
        """Validate a key's shape and type; composite keys are tuples."""
        kind = type(key)
        if kind is self._key_exact:
            if kind is not int:
                return key
            low, high = self._key_ranges[0]
            if low <= int(key) <= high:
                return key
        if len(self.key_fields) > 1:
            if not isinstance(key, tuple) or len(key) != len(self.key_fields):
                raise ValidationError(
                    f"{self.name} has a composite key {self.key_fields}; pass a tuple of "
                    f"{len(self.key_fields)} values, got {key!r}"
                )
            parts = key
        else:
            parts = (key,)
        checks = zip(self.key_fields, parts, self._key_python, self._key_ranges, strict=True)
        for name, part, expected, (low, high) in checks:
            if part is None or isinstance(part, list | dict | tuple | set):
                raise ValidationError(f"{self.name}.{name}: {part!r} is not a key value")
            if expected is not None and not _fits(part, expected):
                raise ValidationError(
                    f"{self.name}.{name} holds {expected.__name__} values, got "
                    f"{type(part).__name__} {part!r}"
                )
            if type(part) is int and not low <= part <= high:
                raise ValidationError(
                    f"{self.name}.{name}: {part} is outside what the column holds ({low} to {high})"
                )
        return key

    def key_params(self, key: Any) -> tuple[Any, ...]:
        return key if len(self.key_fields) > 1 else (key,)

    def key_of(self, value: Any) -> Any:
        if len(self.key_fields) == 1:
            return self._get(value, self.key_fields[0])
        return tuple(self._get(value, name) for name in self.key_fields)

    # -- values -----------------------------------------------------------

    def check_changes(self, changes: Any) -> dict[str, Any]:
        """Changes must be a mapping of known, writable fields."""
        if not isinstance(changes, Mapping):
            raise ValidationError(
                f"changes must be a mapping of field names to values, got {type(changes).__name__}"
            )
        own = self._own
        bad = [name for name in changes if name not in own or name == self._discriminator]
        if bad:
            name = bad[0]
            if name == self._discriminator:
                raise ValidationError(
                    f"{self.name}.{name} is the discriminator: a row's class cannot change"
                )
            if name in self.fields:
                raise ValidationError(
                    f"{self.name}.{name} is a column of a subclass; update it through a "
                    f"repository of that class (Repository(engine, Subclass))"
                )
            if name in self.key_fields:
                raise ValidationError(
                    f"{self.name}.{name} is the key: it cannot be changed by an update"
                )
            if name == self.version_field:
                raise ValidationError(
                    f"{self.name}.{name} is the version: occ sets it; pass the version you "
                    "read as expected_version instead"
                )
            raise ValidationError(
                f"{self.name} has no column {name!r}; known columns: {', '.join(own)}"
            )
        return dict(changes)

    def check_value(self, value: Any) -> None:
        if self.mapper is None:
            if type(value) is not dict and not isinstance(value, Mapping):
                raise ValidationError(
                    f"values of table {self.name} are dicts, got {type(value).__name__}"
                )
            if not self._value_names.issuperset(value):
                unknown = set(value) - self._value_names
                raise ValidationError(f"{self.name} has no column(s) {sorted(unknown)}")
        elif not isinstance(value, self.model):
            raise ValidationError(f"expected a {self.name} instance, got {type(value).__name__}")
        else:
            self._classes.check(value)

    def _get(self, value: Any, name: str) -> Any:
        if self.mapper is None:
            return value.get(name)
        return getattr(value, name, None)

    def to_record(self, value: Any) -> dict[str, Any]:
        """The fields of a value (without key and version)."""
        if self.mapper is None:
            return {name: value.get(name) for name in self._field_names}
        names = self._classes.names_of(value)
        return {name: getattr(value, name, None) for name in names}

    def insert_record(self, value: Any) -> dict[str, Any]:
        """The fields to insert: a None left for a column with a default takes the default.

        Scalar defaults are filled in here (so the returned value shows them even
        without RETURNING); callable and server defaults are left to the database.
        """
        out: dict[str, Any] = {}
        for name, field_value in self.to_record(value).items():
            if field_value is None:
                column = self.fields[name]
                default = column.default
                if default is not None and getattr(default, "is_scalar", False):
                    out[name] = default.arg  # type: ignore[attr-defined]
                    continue
                if default is not None or column.server_default is not None:
                    continue
            out[name] = field_value
        if self._discriminator is not None and out.get(self._discriminator) is None:
            out[self._discriminator] = self._classes.identity_of(value)
        return out

    def insert(self, value: Any) -> tuple[Any, dict[str, Any], bool]:
        """The key (``None``: the database assigns it) and the record to insert, key included."""
        record = self.insert_record(value)
        key = self.key_of(value)
        if isinstance(key, tuple) and any(part is None for part in key):
            raise ValidationError(f"{self.name}: every part of a composite key is required")
        if key is None:
            return None, record, True
        self.check_key(key)
        if key == 0 and self._mysql and self.key_columns[0].autoincrement:
            raise ValidationError(
                f"{self.name} key 0 on MySQL/MariaDB: AUTO_INCREMENT would store a new "
                "id instead of 0; use another key or leave it unset"
            )
        keys = dict(zip(self.key_fields, self.key_params(key), strict=True))
        return key, {**keys, **record}, False

    def insert_tables(self, record: Any) -> tuple[sa.Table, ...]:
        """The tables a new row spans (its class's: joined inheritance), base first."""
        return self._classes.tables_of(record)

    def version_of(self, value: Any) -> Any:
        return self._get(value, self.version_field)

    def with_version(self, value: Any, version: Version) -> Any:
        """``value``, its version attribute (or key) set to ``version``."""
        if self.mapper is None:
            value[self.version_field] = version
        else:
            setattr(value, self.version_field, version)
        return value

    def is_model(self, value: Any) -> bool:
        """Whether ``value`` is an instance of the mapped class."""
        return self.mapper is not None and isinstance(value, self.model)

    def base_fields(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The columns among a mapping's items, checked (key and version dropped)."""
        return self.check_changes(
            {k: v for k, v in base.items() if k in self._own and k != self._discriminator}
        )

    def to_value(self, stored: Stored) -> Any:
        """A fresh user value (mapped instance or dict) for a stored row."""
        key_parts = self.key_params(stored.key)
        if self.mapper is None:
            out = dict(zip(self.key_fields, key_parts, strict=True))
            out[self.version_field] = stored.version
            out.update(freeze(stored.record))
            return out
        mapper = self._classes.mapper_of(stored.record)
        record = stored.record
        if self._classes.polymorphic:
            record = self._classes.record_of(dict(record))
        obj = mapper.class_manager.new_instance()
        for name, part in zip(self.key_fields, key_parts, strict=True):
            set_committed_value(obj, name, part)
        set_committed_value(obj, self.version_field, stored.version)
        for name, field_value in freeze(record).items():
            set_committed_value(obj, name, field_value)
        if mapper.relationships:
            # Detached, as if loaded and then closed: what the row does not hold (its
            # relationships) raises DetachedInstanceError when read, never a silent None;
            # session.add() or merge() attaches it and lets them load.
            make_transient_to_detached(obj)
        return obj

    def diff(self, value: Any, base: Record | None) -> dict[str, Any]:
        """Fields of ``value`` that differ from ``base`` (all of them if ``base`` is None)."""
        record = self.to_record(value)
        if base is None:
            return record
        changed = {k: v for k, v in record.items() if base.get(k, _MISSING) != v}
        if self._discriminator in changed:
            raise ValidationError(
                f"{self.name}.{self._discriminator} is the discriminator: "
                "a row's class cannot change"
            )
        return changed

    def from_row(self, row: Any) -> Stored:
        """A :class:`Stored` from a row selected as :attr:`all_columns`."""
        n = len(self.key_columns)
        key = row[0] if n == 1 else tuple(row[:n])
        version = row[n]
        if version is None:
            version = self.versions.unversioned
        if self.token_col is None:
            record = dict(zip(self._field_names, row[n + 1 :], strict=True))
            tokens: tuple[str, ...] | None = None
        else:
            record = dict(zip(self._field_names, row[n + 1 : -1], strict=True))
            tokens = tuple((row[-1] or "").split())
        if self._classes.polymorphic:
            record = self._classes.record_of(record)
        return Stored(key, version, record, tokens)


def _python_type(column: sa.Column[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


#: what a token column must hold: TOKEN_WINDOW tokens of 16 hex digits, space separated.
TOKENS_LENGTH = TOKEN_WINDOW * 17 - 1


def _token_column(
    entity: str,
    columns: Mapping[str, sa.Column[Any]],
    name: str | None,
    taken: tuple[sa.Column[Any], ...],
) -> sa.Column[Any] | None:
    """The column named ``name`` (attribute or column name), checked to hold the tokens."""
    if name is None:
        return None
    column = next((c for k, c in columns.items() if name in (k, c.name)), None)
    if column is None:
        raise ConfigurationError(
            f"{entity} has no token column {name!r}; add a String({TOKENS_LENGTH}) column "
            "(nullable) or leave token_column unset"
        )
    length = getattr(column.type, "length", None)
    if (
        column in taken
        or not isinstance(column.type, sa.String)
        or (length is not None and length < TOKENS_LENGTH)
    ):
        raise ConfigurationError(
            f"{entity}.{column.name} cannot keep write tokens: it needs its own String column "
            f"of at least {TOKENS_LENGTH} characters (or Text)"
        )
    return column


def int_range(column: sa.Column[Any], dialect: Dialect) -> tuple[int, int]:
    """The values an integer column holds on ``dialect`` (64-bit for other types)."""
    kind = column.type
    bits = 64
    if isinstance(kind, sa.SmallInteger):
        bits = 16
    elif isinstance(kind, sa.Integer) and not isinstance(kind, sa.BigInteger):
        bits = 64 if dialect.name == "sqlite" else 32
    if getattr(kind, "unsigned", False):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _fits(value: Any, expected: type) -> bool:
    if expected is int:
        return type(value) is int
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


def _scheme(entity: EntityMap, version_type: str, dialect: Dialect) -> VersionScheme:
    col = entity.version_col
    if version_type == "int":
        if not isinstance(col.type, sa.Integer):
            raise ConfigurationError(
                f"{entity.name}.{col.name} is {col.type!r}; integer versions need an "
                "Integer column (or pass version_type='timestamp' for a DateTime column)"
            )
        low, high = int_range(col, dialect)
        return IntVersions(bits=max(16, (high - low).bit_length()))
    if version_type == "timestamp":
        if not isinstance(col.type, sa.DateTime):
            raise ConfigurationError(
                f"{entity.name}.{col.name} is {col.type!r}; timestamp versions need a DateTime"
            )
        _check_microseconds(entity.name, col, dialect)
        aware = bool(col.type.timezone) and dialect.name != "mysql"
        return TimestampVersions(aware=aware)
    raise ConfigurationError(f"version_type must be 'int' or 'timestamp', got {version_type!r}")


def _check_microseconds(entity: str, col: sa.Column[Any], dialect: Dialect) -> None:
    """Refuse a timestamp column that would truncate microseconds (two writes, one version)."""
    impl = col.type.dialect_impl(dialect)
    if dialect.name == "mysql":
        fsp = getattr(impl, "fsp", None) or getattr(col.type, "fsp", None)
        if not fsp or fsp < 6:
            raise ConfigurationError(
                f"{entity}.{col.name} is {impl.compile(dialect)} on MySQL/MariaDB, which drops "
                "microseconds: two writes in one second would store the same version. Declare "
                "it as sqlalchemy.dialects.mysql.DATETIME(fsp=6) (or TIMESTAMP(fsp=6))"
            )
        assert isinstance(impl, mysql.DATETIME | mysql.TIMESTAMP | sa.DateTime)
    elif dialect.name == "postgresql":
        precision = getattr(impl, "precision", None)
        if precision is not None and precision < 6:
            raise ConfigurationError(
                f"{entity}.{col.name} keeps {precision} fractional digits; timestamp versions "
                "need microseconds (precision 6, the default)"
            )
