"""Bulk writes of versioned classes: versioned, or refused with what to use instead.

- ``session.execute(update(Model), rows)`` (ORM bulk UPDATE by primary key):
  each row that carries its version is a versioned write (checked, bumped,
  conflicts as in a flush); the rows without one are written by SQLAlchemy
  and get the next version from the version column's ``onupdate``.
- ``session.execute(update(Model).where(...).values(...))``: SQLAlchemy's own
  statement, and the version column's ``onupdate`` bumps every row it changes.
- ``session.execute(insert(Model), rows)``, ``bulk_insert_mappings`` and new
  objects in ``bulk_save_objects``: rows start at the first version (the
  version column's default); a row that carries another version is refused.
- ``bulk_update_mappings`` and persistent objects in ``bulk_save_objects`` (the
  legacy bulk API, which fires no ORM event, so nothing could check the
  versions the rows carry): refused when its first statement is about to run
  (a ``before_execute`` listener on connections), naming
  ``session.execute(update(Model), rows)`` instead.
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import IteratorResult, Result
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.orm import Mapper, ORMExecuteState, Session

from occ.errors import ValidationError
from occ.orm._flush import run_write
from occ.orm._registry import (
    any_versioned,
    checked_entity,
    flow_config,
    options_for,
    versioned_table,
    versioning,
)
from occ.orm._session import flushing
from occ.sql._mapping import EntityMap

__all__: list[str] = []

#: the session of each connection a session began a transaction on.
_sessions: weakref.WeakKeyDictionary[sa.Connection, weakref.ref[Session]] = (
    weakref.WeakKeyDictionary()
)
#: set while occ runs an ORM bulk statement itself (it passes the legacy-bulk guard).
_OCC_BULK: ContextVar[bool] = ContextVar("occ_orm_bulk", default=False)


@event.listens_for(Session, "do_orm_execute")
def _orm_bulk(state: ORMExecuteState) -> Result[Any] | None:
    """Version an ORM INSERT or UPDATE statement of a versioned class."""
    if not (state.is_update or state.is_insert):
        return None
    mapper = state.bind_mapper
    if mapper is None or options_for(mapper.class_) is None:
        return None
    entity = checked_entity(mapper.class_)
    rows = state.parameters if isinstance(state.parameters, list) else None
    if state.is_insert:
        _refuse_versions(entity, rows or [state.parameters or {}], "insert()")
    elif rows and all(name in row for row in rows for name in entity.key_fields):
        # ORM bulk UPDATE by primary key (rows keyed by attribute, the key among them).
        # A row whose version is None carries none: the column's onupdate moves it.
        field = entity.version_field
        carrying = [row for row in rows if row.get(field) is not None]
        rest = [
            {k: v for k, v in row.items() if k != field} for row in rows if row.get(field) is None
        ]
        if carrying:
            _write_rows(state, mapper, carrying)
            if not rest:
                return IteratorResult(SimpleResultMetaData([]), iter([]))
        state.parameters = rest
    token = _OCC_BULK.set(True)
    try:
        return state.invoke_statement()
    finally:
        _OCC_BULK.reset(token)


def _write_rows(state: ORMExecuteState, mapper: Mapper[Any], rows: list[dict[str, Any]]) -> None:
    """Each row as a versioned write, expecting the version it carries."""
    connection = state.session.connection(bind_arguments={"mapper": mapper})
    base, options = versioning(mapper.class_, connection.dialect)
    entity = base.entity
    for row in rows:
        parts = tuple(row[name] for name in entity.key_fields)
        key = entity.check_key(parts if len(parts) > 1 else parts[0])
        fields = {k: v for k, v in row.items() if k not in entity.key_fields}
        expected = entity.versions.check(
            fields.pop(entity.version_field), what=f"{entity.name}.{entity.version_field}"
        )
        run_write(
            base.records,
            flow_config(mapper.class_, base, options),
            connection,
            action="update",
            key=key,
            expected=expected,
            changes=entity.check_changes(fields),
            base=None,
            results=[],
        )


def _refuse_versions(entity: EntityMap, rows: Any, what: str) -> None:
    """Refuse new rows that carry a version other than the first."""
    names = {entity.version_field, entity.version_col.key}
    initial = entity.versions.initial() if entity.versions.name == "int" else None
    for row in rows:
        for name in names:
            value = row.get(name)
            if value is not None and value != initial:
                raise ValidationError(
                    f"{what}: a new {entity.name} row carries version {value!r}; a new "
                    "row starts at the first version (leave the version out)"
                )


@event.listens_for(Session, "after_begin")
def _session_of(session: Session, transaction: Any, connection: sa.Connection) -> None:
    """Remember which session a connection serves (to tell its flush from the bulk API)."""
    if any_versioned():
        _sessions[connection] = weakref.ref(session)


# On every Connection (not on any Engine: an engine with a listener would route occ's
# unobserved statements through SQLAlchemy again); a cheap type check for all others.
@event.listens_for(sa.engine.Connection, "before_execute")
def _legacy_bulk(
    conn: sa.Connection, statement: Any, multiparams: Any, params: Any, options: Any
) -> None:
    """Refuse the legacy bulk API's UPDATEs of a versioned class, and its INSERT rows
    that carry a version."""
    if not isinstance(statement, sa.Update | sa.Insert):
        return
    mapper = versioned_table(statement.table)
    if mapper is None or options.get("compiled_cache") is not mapper._compiled_cache:
        return  # not versioned, or not the ORM's persistence (a flush or the bulk API)
    ref = _sessions.get(conn)
    session = ref() if ref is not None else None
    if _OCC_BULK.get() or (session is not None and flushing(session)):
        return
    name = mapper.class_.__name__
    if isinstance(statement, sa.Update):
        raise ValidationError(
            f"bulk_save_objects() / bulk_update_mappings() of {name}, a versioned class: "
            "SQLAlchemy runs them without an event, so the versions they carry cannot be "
            f"checked; use session.execute(sa.update({name}), rows) (a row that carries its "
            "version is checked, the others get the next version) or load, change and flush"
        )
    what = "bulk_insert_mappings() / bulk_save_objects()"
    _refuse_versions(checked_entity(mapper.class_), multiparams or [params], what)
