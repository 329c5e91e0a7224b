"""The flush hooks: each INSERT, UPDATE and DELETE of a versioned object.

``before_update`` writes the object itself with one conditional statement per
table (the base table's carries the version check) on the flush's
connection, then marks what it wrote as committed, so SQLAlchemy has nothing
left to write. ``before_delete`` checks and bumps the version the same way
and lets SQLAlchemy delete the row it has locked. ``before_insert`` gives a
new object the first version, or, for a *row switch* (an object deleted and a
new one added under the same key in one flush), writes the new object over
the row as an update that expects the deleted object's version.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import InstanceState, Mapper
from sqlalchemy.orm.attributes import set_committed_value

from occ._core.flow import FlowConfig, write_flow
from occ._core.model import Action, Conflict, Record, freeze
from occ._core.steps import Applied, Missed, Read, Write
from occ._sync.drive import drive
from occ.errors import ConflictError, ValidationError
from occ.orm._registry import flow_config, options_for, versioning
from occ.orm._session import deleted_in_flush, post_update_pending
from occ.sql._records import SQLRecords
from occ.sql._shape import fetched_on_update
from occ.sql._sync.repository import execute

__all__ = ["run_write"]

_MISSING = object()


def _committed(state: InstanceState[Any], name: str, *, load: bool = False) -> Any:
    """The value ``name`` was loaded with (``_MISSING`` if unknown)."""
    attr = state.attrs[name]
    history = attr.load_history() if load else attr.history
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    return _MISSING


def _tap(plan: Any, results: list[Any]) -> Generator[Any, Any, Any]:
    """``plan``, keeping each statement's result (for the values SQLAlchemy evaluated)."""
    try:
        request = next(plan)
        while True:
            result = yield request
            results.append(result)
            request = plan.send(result)
    except StopIteration as stop:
        return stop.value


def run_write(
    records: SQLRecords,
    config: FlowConfig,
    connection: sa.Connection,
    *,
    action: Action,
    key: Any,
    expected: Any,
    changes: dict[str, Any],
    base: Record | None,
    results: list[Any],
) -> Applied:
    """One versioned write on a flush's (or session's) connection; each statement's result is
    appended to ``results``."""
    steps = write_flow(
        config,
        action=action,
        key=key,
        expected=expected,
        changes=changes,
        base=base,
        returning=False,
    )

    def write(step: Write) -> Any:
        if step.action == "delete":
            # Check and bump the version; SQLAlchemy then deletes the locked row.
            step = replace(step, action="update", changes={}, returning=False)
        results.clear()
        try:
            return execute(connection, _tap(records.write_plan(step), results))
        except sa.exc.DBAPIError as exc:
            missed = records.write_error(exc, step, joined=True)
            if isinstance(missed, Missed) and missed.serialization:
                name = records.entity.name
                raise ConflictError(_conflict(name, key, action, expected, changes, base)) from exc
            return missed

    def read(step: Read) -> Any:
        # Inside the flush's transaction: a locking read sees the latest row.
        return execute(connection, records.read_plan(step, locking=True))

    return drive(steps, read=read, write=write)


def _conflict(
    entity: str, key: Any, action: Action, expected: Any, changes: Any, base: Any
) -> Conflict:
    """A serialization conflict (the database aborted the transaction)."""
    mine = {**base, **changes} if base is not None else dict(changes)
    return Conflict(
        entity=entity,
        key=key,
        action=action,
        kind="serialization",
        base=base,
        mine=mine,
        changes=dict(changes),
        theirs=None,
        expected_version=expected,
        actual_version=None,
        attempt=1,
    )


class _FlushWrite:
    """One versioned write of one object, run on the flush's connection."""

    def __init__(self, mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
        self.base, options = versioning(mapper.class_, connection.dialect)
        self.entity = self.base.entity
        self.records = self.base.records
        self.connection = connection
        self.target = target
        self.state: InstanceState[Any] = sa.inspect(target)
        self.config = flow_config(mapper.class_, self.base, options)
        #: the results of the statements of the last write.
        self.results: list[Any] = []

    def key(self) -> Any:
        parts = []
        for name in self.entity.key_fields:
            value = _committed(self.state, name, load=True)
            if self.state.attrs[name].history.added and value is not _MISSING:
                raise ValidationError(
                    f"{self.entity.name}.{name}: a versioned object's key cannot change"
                )
            parts.append(getattr(self.target, name) if value is _MISSING else value)
        return tuple(parts) if len(parts) > 1 else parts[0]

    def expected(self, state: InstanceState[Any] | None = None) -> tuple[Any, Any]:
        """(expected version, committed version) of ``state`` (default: the target's):
        a version set by the app is expected."""
        state = state or self.state
        field = self.entity.version_field
        committed = _committed(state, field, load=True)
        if committed is _MISSING or committed is None:
            committed = self.entity.versions.unversioned
        added = state.attrs[field].history.added
        expected = added[0] if added else committed
        if expected is None:
            expected = self.entity.versions.unversioned
        return self.entity.versions.check(expected, what=f"{self.entity.name}.{field}"), committed

    def changes_and_base(
        self, base_state: InstanceState[Any] | None = None
    ) -> tuple[dict[str, Any], Record | None]:
        """The fields set on the target, and the record the row had (``base_state``'s:
        default, the target's own committed values)."""
        changes: dict[str, Any] = {}
        base: dict[str, Any] | None = {}
        for name in self.entity.fields:
            history = self.state.attrs[name].history
            if history.added:
                changes[name] = history.added[0]
            value = _committed(base_state or self.state, name)
            if value is _MISSING:
                base = None
            elif base is not None:
                base[name] = value
        for name, value in changes.items():
            if isinstance(value, sa.ClauseElement) or hasattr(value, "__clause_element__"):
                raise ValidationError(
                    f"{self.entity.name}.{name} is set to a SQL expression; a versioned "
                    "flush writes values (read the value, compute it, assign it)"
                )
        return changes, None if base is None else freeze(base)

    def run(
        self, action: Action, changes: dict[str, Any], base: Record | None, expected: Any
    ) -> Applied:
        self.results = []
        return run_write(
            self.records,
            self.config,
            self.connection,
            action=action,
            key=self.key(),
            expected=expected,
            changes=changes,
            base=base,
            results=self.results,
        )

    def must_write(self, applied: Applied, action: Action, expected: Any, base: Any) -> None:
        """Raise if the policy kept the stored row of a write the flush cannot skip."""
        if applied.outcome == "written" or applied.record is None:
            return
        conflict = replace(
            _conflict(self.entity.name, applied.key, action, expected, {}, base),
            kind="version",
            theirs=applied.record,
            actual_version=applied.version,
        )
        raise ConflictError(
            conflict,
            f"{conflict.describe()}; the policy kept the stored row ({applied.outcome}), and "
            f"a flush cannot skip the {action} it was asked for",
        )

    def commit(self, applied: Applied, changes: dict[str, Any]) -> None:
        """Make the object match what is stored, so SQLAlchemy has nothing left to write."""
        if applied.outcome != "written" and applied.record:
            values = dict(applied.record)
        else:
            values = {**changes, **self._evaluated()}
            # What the database computed (a SQL onupdate, server_onupdate) loads when read,
            # expired as SQLAlchemy's own flush does (the object may still be pending).
            fetched = [n for n in fetched_on_update(self.entity.fields) if n not in changes]
            if fetched:
                self.state._expire_attributes(self.state.dict, fetched)
        for name, value in values.items():
            set_committed_value(self.target, name, value)
        set_committed_value(self.target, self.entity.version_field, applied.version)

    def _evaluated(self) -> dict[str, Any]:
        """The Python-side ``onupdate`` values SQLAlchemy evaluated for the write's UPDATEs."""
        out: dict[str, Any] = {}
        names = {column: name for name, column in self.entity.fields.items()}
        for result in self.results:
            compiled = getattr(getattr(result, "context", None), "compiled", None)
            if compiled is None or not compiled.isupdate or not compiled.update_prefetch:
                continue
            params = result.context.compiled_parameters[0]
            for column in compiled.update_prefetch:
                name = names.get(column)
                if name is not None and column.key in params:
                    out[name] = params[column.key]
        return out


@event.listens_for(Mapper, "before_update")
def _before_update(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    if options_for(mapper.class_) is None:
        return
    write = _FlushWrite(mapper, connection, target)
    changes, base = write.changes_and_base()
    expected, committed = write.expected()
    if not changes:
        if post_update_pending(write.state):
            # A post_update relationship changes this row after the flush's UPDATEs:
            # check and bump the version now, in the same transaction.
            applied = write.run("update", {}, base, expected)
            write.must_write(applied, "update", expected, base)
            write.commit(applied, {})
            return
        # Nothing to write (relationship-only change, or only a version was sent back).
        write.key()
        set_committed_value(target, write.entity.version_field, committed)
        return
    write.commit(write.run("update", changes, base, expected), changes)


@event.listens_for(Mapper, "before_delete")
def _before_delete(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    if options_for(mapper.class_) is None:
        return
    write = _FlushWrite(mapper, connection, target)
    _, base = write.changes_and_base()
    expected, _ = write.expected()
    applied = write.run("delete", {}, base, expected)
    # The policy kept the stored row, but a flush cannot skip a delete: raise.
    write.must_write(applied, "delete", expected, base)
    set_committed_value(target, write.entity.version_field, applied.version)
    if write.records.outbox is not None:  # the delete's change event (occ.sync)
        row = write.records.outbox.deleted_row(applied.key, applied.version)
        connection.execute(write.records.outbox.insert, row)


@event.listens_for(Mapper, "after_insert")
def _after_insert(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    """The insert's change event, when the class has an outbox (occ.sync)."""
    if options_for(mapper.class_) is None:
        return
    records = versioning(mapper.class_, connection.dialect)[0].records
    if records.outbox is not None:
        entity = records.entity
        key = entity.key_of(target)
        version = getattr(target, entity.version_field)
        row = records.outbox.inserted_row(key, version, entity.to_record(target))
        connection.execute(records.outbox.insert, row)


@event.listens_for(Mapper, "before_insert")
def _before_insert(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    if options_for(mapper.class_) is None:
        return
    deleted = deleted_in_flush(mapper, target)
    if deleted is not None:
        _row_switch(mapper, connection, target, deleted)
        return
    base, _ = versioning(mapper.class_, connection.dialect)
    entity = base.entity
    current = getattr(target, entity.version_field, None)
    initial = entity.versions.initial()
    if current is None:
        setattr(target, entity.version_field, initial)
    elif not (type(current) is int and current == initial):
        raise ValidationError(
            f"this {entity.name} already carries version {current!r}: a new row starts "
            "at the first version; to change a stored row load it (or merge it) instead"
        )


def _row_switch(mapper: Mapper[Any], connection: sa.Connection, target: Any, old: Any) -> None:
    """A new object replaces one deleted in the same flush under its key: SQLAlchemy turns
    the pair into an UPDATE of the row; `occ` writes it as one, expecting the version the
    deleted object was loaded with (or one the app set on either object)."""
    write = _FlushWrite(mapper, connection, target)
    old_state: InstanceState[Any] = sa.inspect(old)
    changes, base = write.changes_and_base(base_state=old_state)
    carried = write.state.attrs[write.entity.version_field].history.added
    if carried and carried[0] is not None:
        expected, _ = write.expected()
    else:
        expected, _ = write.expected(old_state)
    write.commit(write.run("update", changes, base, expected), changes)
