"""The outbox on SQL: a write's event row, in the same transaction as the write (pure).

:class:`SQLOutbox` wraps the plan of a write (see :mod:`occ.sql._records`):

- PostgreSQL, when the event is known before the write (changes-only events,
  or full events whose value is the snapshot's base plus the changes, and
  deletes): one statement, a data-modifying CTE ``WITH occ_w AS (UPDATE ...
  RETURNING ...) INSERT INTO occ_outbox SELECT ... FROM occ_w``: the event
  row exists exactly when the update matched. No extra round trip.
- Otherwise (MariaDB/MySQL, SQLite, and full events whose value must be
  read back): the write, then ``INSERT INTO occ_outbox`` when it applied,
  in one transaction (the caller's, when the repository joined one).

A write that writes nothing (a miss, a discarded conflict, an unchanged
``save``) yields no event row: the wrapper only inserts after ``Applied``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from occ._core.model import Version
from occ._core.steps import Applied, Write
from occ.errors import ConfigurationError, ValidationError
from occ.sql._mapping import EntityMap
from occ.sql._statements import _LRU, Statements
from occ.sync._event import dumps, key_text, new_id
from occ.sync._outbox import Outbox, headers_of, partition_of
from occ.sync._tables import outbox_table

__all__ = ["SQLOutbox"]

_COLUMNS = (
    "event_id",
    "partition_no",
    "entity",
    "entity_key",
    "version",
    "previous",
    "operation",
    "changes",
    "value",
    "headers",
    "created_at",
)


def _bind(name: str) -> str:
    return f"occ_ob_{name}"


class SQLOutbox:
    """The event rows of one entity's writes on one dialect.

    Args:
        outbox: the entity's outbox configuration.
        entity: the entity's mapping.
        statements: the entity's statements (the CTE wraps its UPDATE).
        tombstones: the entity's tombstones (a delete's CTE records them too).
    """

    def __init__(
        self, outbox: Outbox, entity: EntityMap, statements: Statements, tombstones: Any
    ) -> None:
        if entity.versions.name != "int" or tombstones is None:
            raise ConfigurationError(
                f"{entity.name}: an outbox needs integer versions and tombstones (a replica "
                "orders a key's events by version, across deletes too)"
            )
        self.outbox = outbox
        self.entity = entity
        self.name = outbox.entity or entity.table.name
        self.table = outbox_table(outbox.table)
        self.statements = statements
        self.tombstones = tombstones
        dialect: Dialect = statements.dialect
        self.one_statement = dialect.name == "postgresql"
        self.insert = sa.insert(self.table)
        self._cache = _LRU(128)

    # -- shapes ------------------------------------------------------------------

    def _value_known(self, step: Write) -> bool:
        """Whether the event's value is known before the write runs."""
        if not self.outbox.full or step.action == "delete":
            return True
        base = step.base
        return base is not None and all(n in base or n in step.changes for n in self.entity.fields)

    def emits(self, step: Write) -> bool:
        """Whether the write has an event: a version bump without changes has none (the
        ORM's delete bumps the version first, then records the delete's event)."""
        return step.action != "update" or bool(step.changes)

    def single(self, step: Write) -> bool:
        """Whether the write and its event are one statement (PostgreSQL's CTE)."""
        return (
            self.one_statement
            and step.action in ("update", "delete")
            and self.emits(step)
            and self._value_known(step)
        )

    # -- events ------------------------------------------------------------------

    def _fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        fields = self.entity.fields
        return {name: value for name, value in values.items() if name in fields}

    def row(
        self,
        step: Write,
        *,
        key: Any,
        version: Version,
        previous: Version | None,
        changes: Mapping[str, Any],
        value: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The outbox row of one event (values encoded; :class:`ValidationError` if not)."""
        text = key_text(key)
        try:
            encoded_changes = dumps(self._fields(changes))
            encoded_value = None if value is None else dumps(self._fields(value))
        except TypeError as exc:
            raise ValidationError(f"{self.entity.name}: {exc}") from None
        headers = headers_of(self.outbox)
        return {
            "event_id": new_id(),
            "partition_no": partition_of(self.name, text),
            "entity": self.name,
            "entity_key": text,
            "version": version,
            "previous": previous,
            "operation": "update" if step.action == "commute" else step.action,
            "changes": encoded_changes,
            "value": encoded_value,
            "headers": None if headers is None else dumps(headers),
            "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        }

    def _known_row(self, step: Write) -> dict[str, Any]:
        """The event row of a write whose event is known before it runs (update, delete)."""
        assert step.expected_version is not None
        if step.action == "delete":
            return self.row(
                step,
                key=step.key,
                version=step.expected_version,
                previous=step.expected_version,
                changes={},
                value=None,
            )
        assert step.new_version is not None
        value = {**step.base, **step.changes} if self.outbox.full and step.base else None
        return self.row(
            step,
            key=step.key,
            version=step.new_version,
            previous=step.expected_version,
            changes=step.changes,
            value=value,
        )

    def applied_row(self, step: Write, applied: Applied) -> dict[str, Any]:
        """The event row of a write that applied (``Applied.record`` is the row when read)."""
        if step.action in ("update", "delete") and self._value_known(step):
            return self._known_row(step)
        record = applied.record or {}
        if step.action == "insert":
            return self.row(
                step,
                key=applied.key,
                version=applied.version,
                previous=None,
                changes=record,
                value=record if self.outbox.full else None,
            )
        changes = {name: record.get(name) for name in step.changes}
        previous: Version | None = step.expected_version
        if step.action == "commute":
            assert isinstance(applied.version, int)
            previous = applied.version - 1
        return self.row(
            step,
            key=applied.key,
            version=applied.version,
            previous=previous,
            changes=changes if step.action == "commute" else step.changes,
            value=record if self.outbox.full else None,
        )

    def deleted_row(self, key: Any, version: Version) -> dict[str, Any]:
        """The event row of ``key`` deleted at ``version`` (the ORM's flush)."""
        return self.row(
            Write("delete", key, version, None, {}),
            key=key,
            version=version,
            previous=version,
            changes={},
            value=None,
        )

    def inserted_row(self, key: Any, version: Version, record: Mapping[str, Any]) -> dict[str, Any]:
        """The event row of ``record`` inserted under ``key`` (the ORM's flush)."""
        return self.row(
            Write("insert", key, None, version, record),
            key=key,
            version=version,
            previous=None,
            changes=record,
            value=record if self.outbox.full else None,
        )

    def needs_record(self, step: Write) -> bool:
        """Whether the write must return its row so the event can carry the value."""
        return step.action in ("update", "commute") and not self._value_known(step)

    # -- PostgreSQL: one statement ----------------------------------------------------

    def _select_event(self, source: Any) -> Any:
        columns = [self.table.c[name] for name in _COLUMNS]
        select = sa.select(*(sa.bindparam(_bind(c.name), type_=c.type) for c in columns))
        return sa.insert(self.table).from_select(list(_COLUMNS), select.select_from(source))

    def statement(self, step: Write, *, unversioned: bool, whole_second: bool) -> Any:
        """PostgreSQL: the write and its event row as one statement (cached per shape).

        An update that returns its row selects it from the CTE (the event is a
        second CTE); otherwise the statement's rowcount is 1 when the write matched.
        """
        fields = tuple(step.changes)
        shape = (step.action, fields, step.returning, unversioned, whole_second)

        def build() -> Any:
            st = self.statements
            if step.action == "delete":
                delete, _ = st.delete(unversioned=unversioned, whole_second=whole_second)
                stmt = delete.statement.returning(self.entity.version_col)
                deleted = stmt.cte("occ_deleted")
                tomb = self.tombstones.record_from(deleted).cte("occ_tomb")
                event = self._select_event(deleted).add_cte(tomb)
                return event.execution_options(preserve_rowcount=True), ()
            update, binds = st.update(
                fields, returning=True, unversioned=unversioned, whole_second=whole_second
            )
            written = update.cte("occ_w")
            event = self._select_event(written)
            if step.returning:
                return sa.select(written).add_cte(event.cte("occ_e")), binds
            return event.execution_options(preserve_rowcount=True), binds

        return self._cache.get(shape, build)[0]

    def statement_params(self, step: Write) -> dict[str, Any]:
        """The event's bind parameters of :meth:`statement`."""
        return {_bind(name): value for name, value in self._known_row(step).items()}
