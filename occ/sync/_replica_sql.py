"""The SQL of a replica: apply an event only if its version is newer (pure).

The rule, for the events of one key ordered by ``(version, delete after live)``:
insert when absent, update when the incoming event is newer, otherwise
nothing. A delete removes the row and leaves a tombstone version in
``occ_replica_tombstones``, so that a late update of the deleted key cannot
bring it back. One conditional upsert per event:

- PostgreSQL and SQLite: ``INSERT ... SELECT ... WHERE NOT EXISTS (newer
  tombstone) ON CONFLICT (key) DO UPDATE SET ... WHERE t.version <
  excluded.version``;
- MariaDB/MySQL: ``INSERT ... SELECT ... ON DUPLICATE KEY UPDATE f =
  IF(t.version < VALUES(version), VALUES(f), f), ..., version = ...`` (the
  version assigned last: MySQL assigns left to right).

A changes-only event (no ``value``) updates only the version it follows:
``UPDATE ... WHERE key AND version = :previous``; anything else is a gap.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect

from occ.errors import ConfigurationError
from occ.sql._mapping import EntityMap
from occ.sql._tombstones import Tombstones, tombstone_table
from occ.sync._event import Event, EventError, key_text

__all__ = ["Outcome", "ReplicaSQL", "classify", "replica_tombstone_table", "will_apply"]

#: where replicas keep the versions of deleted keys.
REPLICA_TOMBSTONES = tombstone_table("occ_replica_tombstones")


def replica_tombstone_table(metadata: sa.MetaData | None = None) -> sa.Table:
    """The replica tombstone table's definition (for migrations)."""
    return tombstone_table("occ_replica_tombstones", metadata)


def _python_type(column: sa.Column[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def coerce(name: str, column: sa.Column[Any], value: Any) -> Any:
    """An event's JSON value as the column's Python value (``EventError`` if it does not fit)."""
    if value is None:
        if not column.nullable and not column.primary_key:
            raise EventError(f"field {name!r} cannot be null in this replica")
        return None
    kind = _python_type(column)
    if kind is None:
        return value
    try:
        if kind is None or (isinstance(value, kind) and not (kind is int and type(value) is bool)):
            return value
        if kind is float and type(value) is int:
            return float(value)
        if kind is decimal.Decimal and isinstance(value, str | int | float):
            return decimal.Decimal(str(value))
        if kind in (dt.datetime, dt.date, dt.time) and isinstance(value, str):
            return kind.fromisoformat(value)
        if kind is bytes and isinstance(value, str) and value.startswith("\\x"):
            return bytes.fromhex(value[2:])
        if kind is uuid.UUID and isinstance(value, str):
            return uuid.UUID(value)
    except (ValueError, decimal.InvalidOperation, ArithmeticError) as exc:
        raise EventError(f"field {name!r}: {value!r} does not fit {kind.__name__}: {exc}") from None
    raise EventError(f"field {name!r}: {value!r} does not fit {kind.__name__}")


class ReplicaSQL:
    """Statements and checks of one replica (a model or Table) on one dialect.

    Args:
        entity: the replica's mapping (its key, version and fields).
        dialect: the database's dialect.
        name: the source entity name the replica accepts.
        fields: the fields it keeps (default: every field of the model).
    """

    def __init__(
        self, entity: EntityMap, dialect: Dialect, name: str, fields: Sequence[str] | None
    ) -> None:
        self.entity = entity
        self.name = name
        self.dialect = dialect.name
        kept = tuple(entity.fields) if fields is None else tuple(fields)
        unknown = [f for f in kept if f not in entity.fields]
        if unknown:
            raise ConfigurationError(f"{entity.name} has no fields {unknown}")
        self.fields = kept
        #: whose tombstones these are: this replica's table (two replicas of one entity in
        #: one database keep their own).
        self.tomb_entity = entity.table.fullname
        self.tombstones = Tombstones(self.tomb_entity, dialect, REPLICA_TOMBSTONES)
        self.table = REPLICA_TOMBSTONES
        t = entity.table
        self._key_clause = sa.and_(
            *(
                c == sa.bindparam(f"k_{f}")
                for f, c in zip(entity.key_fields, entity.key_columns, strict=True)
            )
        )
        tomb = REPLICA_TOMBSTONES
        self._tomb_clause = sa.and_(
            tomb.c.entity == sa.bindparam("occ_te"), tomb.c.entity_key == sa.bindparam("occ_tk")
        )
        self.held = sa.select(
            sa.select(entity.version_col).where(self._key_clause).scalar_subquery(),
            sa.select(tomb.c.version).where(self._tomb_clause).scalar_subquery(),
        )
        self.delete = sa.delete(t).where(
            self._key_clause, entity.version_col <= sa.bindparam("occ_v")
        )
        self._upserts: dict[tuple[str, ...], Any] = {}
        self._updates: dict[tuple[str, ...], Any] = {}
        self._many: dict[tuple[str, ...], Any] = {}
        many_keys: Any = sa.bindparam("occ_keys", expanding=True)
        if len(entity.key_columns) == 1:
            where = entity.key_columns[0].in_(many_keys)
        else:
            where = sa.tuple_(*entity.key_columns).in_(many_keys)
        self._held_rows = sa.select(*entity.key_columns, entity.version_col).where(where)
        self._held_tombs = sa.select(tomb.c.entity_key, tomb.c.version).where(
            tomb.c.entity == sa.bindparam("occ_te"),
            tomb.c.entity_key.in_(sa.bindparam("occ_texts", expanding=True)),
        )

    # -- events -> parameters ----------------------------------------------------------

    def key_params(self, event: Event) -> dict[str, Any]:
        """The event's key as bind parameters (``EventError`` if it has the wrong shape)."""
        if event.entity != self.name:
            raise EventError(f"this replica applies {self.name!r} events, not {event.entity!r}")
        entity = self.entity
        parts = event.key if isinstance(event.key, tuple) else (event.key,)
        if len(parts) != len(entity.key_columns):
            raise EventError(
                f"{self.name} keys have {len(entity.key_columns)} part(s), got {event.key!r}"
            )
        out = {
            f"k_{f}": coerce(f, c, p)
            for f, c, p in zip(entity.key_fields, entity.key_columns, parts, strict=True)
        }
        out.update(self.tombstones.params(event.key))
        out["occ_tk"] = key_text(event.key)
        return out

    def values(self, event: Event, source: Mapping[str, Any], *, whole: bool) -> dict[str, Any]:
        """The kept fields of ``source`` (all of them when ``whole``), coerced to the columns."""
        columns = self.entity.fields
        out: dict[str, Any] = {}
        for name in self.fields:
            if name in source:
                out[name] = coerce(name, columns[name], source[name])
            elif whole:
                raise EventError(f"{self.name} event v{event.version} has no field {name!r}")
        return out

    # -- statements ---------------------------------------------------------------------

    def upsert(self, fields: tuple[str, ...]) -> Any:
        """Insert when absent and not tombstoned at or past the version; else update if newer."""
        stmt = self._upserts.get(fields)
        if stmt is None:
            stmt = self._upserts[fields] = self._build_upsert(fields)
        return stmt

    def _build_upsert(self, fields: tuple[str, ...]) -> Any:
        entity = self.entity
        t = entity.table
        tomb = REPLICA_TOMBSTONES
        columns = {**dict(zip(entity.key_fields, entity.key_columns, strict=True)), **entity.fields}
        names = (*entity.key_fields, *fields)
        binds = [
            sa.bindparam(f"k_{n}" if n in entity.key_fields else f"f_{n}", type_=columns[n].type)
            for n in names
        ]
        version = sa.bindparam("occ_v", type_=entity.version_col.type)
        newer_tomb = sa.exists().where(self._tomb_clause, tomb.c.version >= version)
        select = sa.select(*binds, version).where(~newer_tomb)
        target = [columns[n] for n in names] + [entity.version_col]
        module: Any = {"mysql": mysql, "postgresql": postgresql}.get(self.dialect, sqlite)
        stmt = self._if_newer(module.insert(t).from_select(target, select), fields)
        # The rowcount of an INSERT (1: inserted or updated) is kept only when asked.
        return stmt.execution_options(preserve_rowcount=True)

    def _if_newer(self, stmt: Any, fields: Sequence[str]) -> Any:
        """``stmt`` (an INSERT) updating ``fields`` and the version of an existing row
        only when the incoming version is newer."""
        entity = self.entity
        version = entity.version_col
        columns = [entity.fields[n] for n in fields]
        if self.dialect == "mysql":
            newer = version < stmt.inserted[version.name]
            updates: list[tuple[Any, Any]] = [
                (c.name, sa.func.IF(newer, stmt.inserted[c.name], c)) for c in columns
            ]
            # Last: MySQL assigns left to right, and the fields compare the old version.
            updates.append((version.name, sa.func.IF(newer, stmt.inserted[version.name], version)))
            return stmt.on_duplicate_key_update(updates)
        sets = {c.name: stmt.excluded[c.name] for c in columns}
        sets[version.name] = stmt.excluded[version.name]
        return stmt.on_conflict_do_update(
            index_elements=list(entity.key_columns),
            set_=sets,
            where=version < stmt.excluded[version.name],
        )

    def upsert_many(
        self, rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], int]]
    ) -> tuple[Any, list[dict[str, Any]]]:
        """The upsert of many ``(key params, values, version)`` rows, each applied only if
        newer (their tombstones were checked by :meth:`held_many`), and its parameters:
        one statement built once per field set, executed for all rows at once (the
        driver sends them as multi-row statements)."""
        entity = self.entity
        fields = tuple(rows[0][1])
        stmt = self._many.get(fields)
        if stmt is None:
            module: Any = {"mysql": mysql, "postgresql": postgresql}.get(self.dialect, sqlite)
            stmt = self._many[fields] = self._if_newer(module.insert(entity.table), fields)
        data = []
        for key, values, version in rows:
            pairs = zip(entity.key_fields, entity.key_columns, strict=True)
            item = {c.key: key[f"k_{f}"] for f, c in pairs}
            item.update({entity.fields[n].key: v for n, v in values.items()})
            item[entity.version_col.key] = version
            data.append(item)
        return stmt, data

    def held_many(self, keys: Sequence[Mapping[str, Any]]) -> tuple[Any, Any, dict[str, Any]]:
        """Two selects (built once): ``(key..., version)`` of the rows and ``(key text,
        version)`` of the tombstones of ``keys``, and their parameters."""
        entity = self.entity
        parts = [tuple(k[f"k_{f}"] for f in entity.key_fields) for k in keys]
        params = {
            "occ_keys": [p[0] for p in parts] if len(parts[0]) == 1 else parts,
            "occ_texts": [k["occ_tk"] for k in keys],
            "occ_te": self.tomb_entity,
        }
        return self._held_rows, self._held_tombs, params

    def row_texts(self, rows: Sequence[Any]) -> dict[str, Any]:
        """``{key text: version}`` of the rows :meth:`held_many` selected."""
        n = len(self.entity.key_columns)
        return {key_text(tuple(r[:n]) if n > 1 else r[0]): r[n] for r in rows}

    def update_after(self, fields: tuple[str, ...]) -> Any:
        """A changes-only event: ``UPDATE ... SET changes, version WHERE key AND version =
        :previous`` (the version it follows, and no other)."""
        stmt = self._updates.get(fields)
        if stmt is None:
            entity = self.entity
            values: dict[Any, Any] = {entity.fields[n]: sa.bindparam(f"f_{n}") for n in fields}
            values[entity.version_col] = sa.bindparam("occ_v")
            stmt = self._updates[fields] = (
                sa.update(entity.table)
                .where(self._key_clause, entity.version_col == sa.bindparam("occ_p"))
                .values(values)
            )
        return stmt

    def tomb_params(self, event: Event, key: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters of the tombstone upsert of a delete event."""
        return {**self.tombstones.record_params(event.key, event.version), **key}


#: what applying one event did.
Outcome = Literal["applied", "stale", "duplicate", "gap"]


def classify(event: Event, row: int | None, tomb: int | None) -> Outcome:
    """Why ``event`` did not apply, given the versions held (row, tombstone):
    ``duplicate`` (the same version is held), ``stale`` (a newer one), or ``gap``
    (a changes-only event whose previous version is not held)."""
    held = (row, 0) if row is not None else None
    if tomb is not None and (held is None or (tomb, 1) > held):
        held = (tomb, 1)
    if held is not None and held == event.order:
        return "duplicate"
    if held is not None and held > event.order:
        return "stale"
    return "gap"


def will_apply(event: Event, row: int | None, tomb: int | None) -> bool:
    """Whether ``event`` is newer than what is held (row and tombstone versions)."""
    if tomb is not None and tomb >= event.version:
        return False
    if row is None:
        return True
    return (row, 0) < event.order
