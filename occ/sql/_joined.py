"""Writes of a class spread over joined tables (joined-table inheritance), as plans (pure).

The version lives on the base table, so every write starts there: one
conditional ``UPDATE base SET <its fields>, version = :new WHERE key AND
version = :expected`` checks the version and locks the row; only if it
matched do the subclass tables get their ``UPDATE ... WHERE key``. A delete
checks and bumps the version the same way, then deletes the subclass rows and
the base row; an insert writes the base row first (which may assign the key),
then one row per subclass table. Drivers run these plans in one transaction
(:meth:`~occ.sql._records.SQLRecords.needs_transaction`): none of them is a
single statement.
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa

from occ._core.steps import Applied, Missed, Stored, Write
from occ.sql._statements import _LRU, Bound, Statements
from occ.sql._tombstones import Tombstones

__all__ = ["joined_write_plan"]

_caches: weakref.WeakKeyDictionary[Statements, _LRU] = weakref.WeakKeyDictionary()


def _key_columns(st: Statements, table: sa.Table) -> tuple[sa.Column[Any], ...]:
    """The columns of ``table`` that hold the key, in the order of the key's fields."""
    entity = st.entity
    if table is entity.table:
        return entity.key_columns
    assert entity.mapper is not None
    owner = next(m for m in entity.mapper.self_and_descendants if m.local_table is table)
    out = []
    for name in entity.key_fields:
        prop = owner.get_property(name)
        out.append(next(c for c in prop.columns if getattr(c, "table", None) is table))
    return tuple(out)


def _statement(st: Statements, kind: str, table: sa.Table, names: tuple[str, ...]) -> Bound:
    """``UPDATE sub SET ... WHERE key``, ``INSERT INTO sub (key, ...)`` or ``DELETE FROM t``."""
    cache = _caches.get(st)
    if cache is None:
        cache = _caches[st] = _LRU(64)

    def build() -> Bound:
        binds = st.field_binds(names)
        keys = _key_columns(st, table)
        key_binds = st.key_binds
        values: dict[Any, Any] = {
            st.entity.fields[name]: sa.bindparam(bind) for name, bind in binds
        }
        where = sa.and_(*(c == sa.bindparam(b) for c, b in zip(keys, key_binds, strict=True)))
        stmt: Any
        if kind == "update":
            stmt = sa.update(table).where(where).values(values)
        elif kind == "delete":
            stmt = sa.delete(table).where(where)
        else:
            values.update({c: sa.bindparam(b) for c, b in zip(keys, key_binds, strict=True)})
            stmt = sa.insert(table).values(values)
        return stmt, binds

    return cache.get((kind, table, names), build)


def _by_table(st: Statements, names: Any) -> dict[sa.Table, tuple[str, ...]]:
    """The written fields grouped by the table each lives in."""
    groups: dict[sa.Table, list[str]] = {}
    for name in names:
        groups.setdefault(st.entity.fields[name].table, []).append(name)
    return {table: tuple(fields) for table, fields in groups.items()}


def _hierarchy_tables(st: Statements) -> tuple[sa.Table, ...]:
    """Every table a row of the class or of a subclass may have a row in, base first."""
    entity = st.entity
    assert entity.mapper is not None
    tables = dict.fromkeys(entity.shape.tables)
    for mapper in entity.mapper.self_and_descendants:
        if not mapper.concrete and isinstance(mapper.local_table, sa.Table):
            tables.setdefault(mapper.local_table)
    return tuple(tables)


def joined_write_plan(
    st: Statements, step: Write, tombstones: Tombstones | None, first: Any
) -> Any:
    """The plan of one write (insert, update, delete) of a joined-table class.

    ``tombstones``: a delete records the key's last version, and an insert under
    an explicit key starts past it (``first``, the SQL of that version).
    """
    entity = st.entity
    if step.action == "insert":
        return (yield from _insert(st, step, tombstones, first))
    assert step.expected_version is not None
    groups = _by_table(st, step.changes)
    stmt, binds = st.update(
        groups.pop(entity.table, ()),
        returning=False,
        unversioned=step.expected_version == entity.versions.unversioned,
        whole_second=st.whole_second(step.expected_version),
    )
    params = st.params(
        step.key,
        binds,
        step.changes,
        expected=step.expected_version,
        new=step.new_version,
        token=step.token,
    )
    result = yield stmt, params
    if result.rowcount != 1:
        return Missed()
    if step.action == "delete":
        for table in reversed(_hierarchy_tables(st)):
            stmt, binds = _statement(st, "delete", table, ())
            yield stmt, st.key_params(step.key)
        if tombstones is not None:
            yield tombstones.upsert, tombstones.record_params(step.key, step.new_version)
        return Applied(step.key, step.expected_version, based_on=step.expected_version)
    for table, names in groups.items():
        stmt, binds = _statement(st, "update", table, names)
        yield stmt, st.params(step.key, binds, step.changes)
    assert step.new_version is not None
    if not step.returning:
        return Applied(step.key, step.new_version, based_on=step.expected_version)
    result = yield st.read(), st.key_params(step.key)
    return _applied(entity.from_row(result.one()))


def _insert(st: Statements, step: Write, tombstones: Tombstones | None, first: Any) -> Any:
    entity = st.entity
    tables = entity.insert_tables(step.changes)
    keys = set(entity.key_fields)
    groups = _by_table(st, [name for name in step.changes if name not in keys])
    base = tuple(name for name in step.changes if name in keys) + groups.pop(entity.table, ())
    past = tombstones is not None and step.key is not None
    stmt, binds = st.insert(base, returning=False, first_version=first if past else None)
    params = st.params(None, binds, step.changes, new=step.new_version, token=step.token)
    if past:
        assert tombstones is not None
        params.update(tombstones.params(step.key))
    result = yield stmt, params
    key = step.key
    if key is None:
        inserted = tuple(result.inserted_primary_key)
        key = inserted[0] if len(inserted) == 1 else inserted
    for table in tables[1:]:
        names = groups.get(table, ())
        stmt, binds = _statement(st, "insert", table, names)
        yield stmt, st.params(key, binds, step.changes)
    result = yield st.read(), st.key_params(key)
    return _applied(entity.from_row(result.one()))


def _applied(stored: Stored) -> Applied:
    return Applied(stored.key, stored.version, stored.record)
