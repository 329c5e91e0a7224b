"""The SQL of one entity: reads and conditional writes as plans (pure).

A *plan* is a small generator that yields ``(statement, params)`` pairs and
receives their results; the sync and async drivers only execute it on a
connection, so the SQL of every operation exists once.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from occ._core.steps import Applied, Lost, Missed, Read, Stored, Write
from occ.sql._commutative import commutative_plan
from occ.sql._dberrors import is_duplicate_key, is_serialization_failure
from occ.sql._joined import joined_write_plan
from occ.sql._mapping import EntityMap
from occ.sql._statements import DriverSQL, Statements
from occ.sql._tombstones import Tombstones, tombstone_table

if TYPE_CHECKING:
    from occ.sync._outbox import Outbox
    from occ.sync._sql_outbox import SQLOutbox

#: the tombstone table every SQL repository shares.
TOMBSTONES = tombstone_table()

__all__ = ["Plan", "SQLRecords"]

#: ``(statement, parameters)``: a dict, or a list of them for a batch (``executemany``).
Plan = Generator[tuple[Any, Any], Any, Any]


class SQLRecords:
    """Plans for reading and writing the rows of one :class:`EntityMap` on one dialect."""

    def __init__(
        self,
        entity: EntityMap,
        dialect: Dialect,
        *,
        tombstones: bool = True,
        outbox: Outbox | None = None,
    ) -> None:
        self.entity = entity
        self.statements = Statements(entity, dialect)
        #: the key's versions never repeat across a delete (integer versions only).
        self.tombstones: Tombstones | None = (
            Tombstones(entity.table.fullname, dialect, TOMBSTONES)
            if tombstones and entity.versions.name == "int"
            else None
        )
        if self.tombstones is not None:
            first = self.tombstones.first_version
            #: the version of a row inserted under an explicit key: past its tombstone.
            self._first = sa.func.last_insert_id(first) if dialect.name == "mysql" else first
            self._delete_cte = dialect.name == "postgresql"
        #: the change events of every write that applies (see :mod:`occ.sync`).
        self.outbox: SQLOutbox | None = None
        if outbox is not None:
            from occ.sync._sql_outbox import SQLOutbox

            self.outbox = SQLOutbox(outbox, entity, self.statements, self.tombstones)

    def tables(self, step: Write) -> tuple[sa.Table, ...]:
        """The tables besides the entity's that the step's plan writes (created on first use)."""
        tables = []
        if self.tombstones is not None and step.action in ("insert", "delete"):
            tables.append(TOMBSTONES)
        if self.outbox is not None:
            tables.append(self.outbox.table)
        return tuple(tables)

    def needs_transaction(self, step: Write) -> bool:
        """Whether the step's plan has several statements, which run in one transaction:
        MySQL/MariaDB's update + read (no UPDATE ... RETURNING), a delete + its tombstone,
        any write of a class spread over joined tables, a write + its outbox event (one
        statement on PostgreSQL when the event is known)."""
        if self.entity.joined:
            return True
        if self.outbox is not None and not self.outbox.single(step):
            return True
        if step.action == "delete":
            return self.tombstones is not None and not self._delete_cte
        return (
            step.returning
            and step.action in ("update", "commute")
            and not self.statements.update_returning
        )

    def driver_sql_only(self, step: Read | Write) -> bool:
        """Whether every statement of the step's plan is prebuilt driver SQL."""
        if isinstance(step, Read):
            return type(self.statements.read()) is DriverSQL
        if self.entity.joined or (step.action == "update" and self.statements.evaluates_onupdate):
            return False
        if self.outbox is not None:
            return False
        if step.action == "delete":
            return self.tombstones is None
        return step.action == "update" and not step.returning

    def read_plan(self, step: Read, *, locking: bool = False, exclusive: bool = False) -> Plan:
        """Read a row by key (``FOR SHARE`` when ``locking``, ``FOR UPDATE`` under a
        :class:`~occ._core.steps.Hold` or when ``exclusive``); returns ``Stored | None``."""
        st = self.statements
        if step.hold is not None and st.touch is not None:
            yield st.touch, st.key_params(step.key)  # SQLite: the write lock, first
        statement = st.read(locking=locking, exclusive=exclusive or step.hold is not None)
        result = yield statement, st.key_params(step.key)
        row = result.first()
        return None if row is None else self.entity.from_row(row)

    def write_plan(self, step: Write) -> Plan:
        """One conditional write (and its outbox event); returns :class:`Applied` or
        :class:`Missed`."""
        outbox = self.outbox
        if outbox is None or outbox.single(step):
            return (yield from self._write_plan(step))
        applied = yield from self._write_plan(
            replace(step, returning=True) if outbox.needs_record(step) else step
        )
        if isinstance(applied, Applied) and outbox.emits(step):
            yield outbox.insert, outbox.applied_row(step, applied)
        return applied

    def _write_plan(self, step: Write) -> Plan:
        st = self.statements
        entity = self.entity
        if step.action == "commute":
            return (yield from commutative_plan(st, step))
        if entity.joined:
            first = None if self.tombstones is None else self._first
            return (yield from joined_write_plan(st, step, self.tombstones, first))
        if step.action == "insert":
            return (yield from self._insert_plan(step))
        assert step.expected_version is not None
        unversioned = step.expected_version == entity.versions.unversioned
        second = st.text_timestamps and st.whole_second(step.expected_version)
        if step.action == "delete":
            return (yield from self._delete_plan(step, unversioned, second))
        fields = tuple(step.changes)
        native = step.returning and st.update_returning
        stmt, binds = st.update(
            fields, returning=native, unversioned=unversioned, whole_second=second
        )
        params = st.params(
            step.key,
            binds,
            step.changes,
            expected=step.expected_version,
            new=step.new_version,
            token=step.token,
        )
        if self.outbox is not None and self.outbox.single(step):  # PostgreSQL: one statement
            stmt = self.outbox.statement(step, unversioned=unversioned, whole_second=second)
            params.update(self.outbox.statement_params(step))
        result = yield stmt, params
        if native:
            # Count returned rows: rowcount with RETURNING is unreliable on some SQLite builds.
            rows = result.fetchall()
            return _applied(entity.from_row(rows[0])) if rows else Missed()
        if result.rowcount != 1:
            return Missed()
        assert step.new_version is not None
        if not step.returning:
            return Applied(step.key, step.new_version, based_on=step.expected_version)
        # MySQL/MariaDB: the row is locked by our UPDATE; read it in the same transaction.
        result = yield st.read(), st.key_params(step.key)
        return _applied(entity.from_row(result.one()))

    def _insert_plan(self, step: Write) -> Plan:
        st = self.statements
        entity = self.entity
        fields = tuple(step.changes)
        tomb = self.tombstones if step.key is not None else None
        first = None if tomb is None else self._first
        stmt, binds = st.insert(fields, returning=st.insert_returning, first_version=first)
        params = st.params(None, binds, step.changes, new=step.new_version, token=step.token)
        if tomb is not None:
            params.update(tomb.params(step.key))
        result = yield stmt, params
        if st.insert_returning:
            return _applied(entity.from_row(result.one()))
        key = step.key
        if key is None:
            key = tuple(result.inserted_primary_key)
            key = key[0] if len(key) == 1 else key
        record = {name: step.changes.get(name) for name in entity.fields}
        assert step.new_version is not None
        # MySQL/MariaDB: LAST_INSERT_ID(expr) reported the version the tombstone gave.
        version = step.new_version if tomb is None else int(result.lastrowid)
        return _applied(Stored(key, version, record))

    def _delete_plan(self, step: Write, unversioned: bool, second: bool) -> Plan:
        st = self.statements
        tomb = self.tombstones
        stmt, binds = st.delete(unversioned=unversioned, whole_second=second)
        params = st.params(step.key, binds, {}, expected=step.expected_version)
        if tomb is not None:
            params.update(tomb.record_params(step.key, step.expected_version))
            if self.outbox is not None and self.outbox.single(step):  # DELETE, tomb, event
                stmt = self.outbox.statement(step, unversioned=unversioned, whole_second=second)
                params.update(self.outbox.statement_params(step))
            elif self._delete_cte:
                # One statement: the DELETE and its tombstone (rowcount 1 if it matched).
                stmt = st.delete_recording(tomb, unversioned=unversioned, whole_second=second)
        result = yield stmt, params
        if result.rowcount != 1:
            return Missed()
        if tomb is not None and not self._delete_cte:
            yield tomb.upsert, params
        assert step.expected_version is not None
        return Applied(step.key, step.expected_version, based_on=step.expected_version)

    def write_error(self, exc: sa.exc.DBAPIError, step: Write, *, joined: bool) -> Missed | Lost:
        """Map a driver error of a write to a miss or a lost reply, or raise it.

        A dropped connection loses the reply: the write may have applied (the
        flow establishes it). In a caller's transaction the transaction died
        with the connection, so the error is raised as it is.
        """
        if isinstance(exc, sa.exc.IntegrityError) and step.action == "insert":
            if is_duplicate_key(exc, self.entity):
                return Missed(duplicate=True)
            raise exc
        if is_serialization_failure(exc):
            return Missed(serialization=True)
        if exc.connection_invalidated and not joined:
            return Lost()
        raise exc


def _applied(stored: Stored) -> Applied:
    return Applied(stored.key, stored.version, stored.record)
