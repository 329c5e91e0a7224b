"""The commutative fast path in SQL: one atomic ``UPDATE`` without a version predicate.

``UPDATE t SET hits = COALESCE(hits, 0) + :f0,
               best = CASE WHEN best IS NULL OR best < :f1 THEN :f1 ELSE best END,
               version = COALESCE(version, 0) + 1
 WHERE pk = :k0 [RETURNING ...]``

The database serializes such updates on the row lock, so they never
conflict; the version still moves by one per write. Supported: ``inc``,
``max``, ``min`` on integer-versioned entities (``Union`` has no portable
atomic SQL form: those writes take the versioned path). Statements are
built once per shape and cached.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from occ._core.commutative import FieldOp
from occ._core.steps import Applied, Missed, Stored, Write
from occ.sql._statements import _LRU, Bound, Statements

__all__ = ["commutative_plan"]

_caches: weakref.WeakKeyDictionary[Statements, _LRU] = weakref.WeakKeyDictionary()


def _expression(column: sa.Column[Any], kind: str, bind: str) -> Any:
    value = sa.bindparam(bind, type_=column.type)
    if kind == "inc":
        return sa.func.coalesce(column, 0) + value
    newer = column < value if kind == "max" else column > value
    return sa.case((sa.or_(column.is_(None), newer), value), else_=column)


def _statement(st: Statements, shape: tuple[tuple[str, str], ...], returning: bool) -> Bound:
    entity = st.entity
    cache = _caches.get(st)
    if cache is None:
        cache = _caches[st] = _LRU(64)

    def build() -> Bound:
        binds = st.field_binds(tuple(name for name, _ in shape))
        values: dict[Any, Any] = {
            entity.fields[name]: _expression(entity.fields[name], kind, bind)
            for (name, kind), (_, bind) in zip(shape, binds, strict=True)
        }
        values[entity.version_col] = sa.func.coalesce(entity.version_col, 0) + 1
        if st.token_update() is not None:
            values[entity.token_col] = st.token_update()
        stmt = sa.update(entity.table).where(st.key_clause).values(values)
        if returning:
            stmt = stmt.returning(*entity.all_columns)
        return stmt, binds

    return cache.get((shape, returning), build)


def commutative_plan(st: Statements, step: Write) -> Any:
    """The plan of a fast-path write: the update, then (MySQL/MariaDB) a read of the row.

    Without ``UPDATE ... RETURNING`` the driver runs both in one transaction,
    so the read sees the row this update just locked.
    """
    ops: Mapping[str, FieldOp] = step.changes
    shape = tuple((name, op.kind) for name, op in ops.items())
    native = st.update_returning
    stmt, binds = _statement(st, shape, native)
    params = st.params(step.key, (), {}, token=step.token)
    for name, bind in binds:
        params[bind] = ops[name].value
    result = yield stmt, params
    if native:
        rows = result.fetchall()
        return _applied(st.entity.from_row(rows[0])) if rows else Missed()
    if result.rowcount != 1:
        return Missed()
    result = yield st.read(), st.key_params(step.key)
    return _applied(st.entity.from_row(result.one()))


def _applied(stored: Stored) -> Applied:
    return Applied(stored.key, stored.version, stored.record)
