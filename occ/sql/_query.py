"""``query`` and ``scan`` on SQL: one ``SELECT`` of the rows matching a filter (pure).

The filter is a SQLAlchemy boolean expression (``Account.balance > 10``,
``table.c.owner == "ada"``), or a mapping of field names to values that must be
equal. Rows come ordered by the fields asked for, then by the key, so the
order is total; ``scan`` pages with ``WHERE key > :last ORDER BY key LIMIT n``
(a row comparison for composite keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from occ._core.query import Query
from occ.errors import ValidationError
from occ.sql._mapping import EntityMap
from occ.sql._records import Plan

__all__ = ["query_plan"]


def _column(entity: EntityMap, name: str) -> sa.Column[Any]:
    if name in entity.key_fields:
        return entity.key_columns[entity.key_fields.index(name)]
    if name == entity.version_field:
        return entity.version_col
    column = entity.fields.get(name)
    if column is None:
        known = ", ".join((*entity.key_fields, entity.version_field, *entity.fields))
        raise ValidationError(f"{entity.name} has no field {name!r}; known fields: {known}")
    return column


def _where(entity: EntityMap, where: Any) -> list[Any]:
    if where is None:
        return []
    if isinstance(where, Mapping):
        return [_column(entity, name) == value for name, value in where.items()]
    if isinstance(where, sa.ClauseElement):
        return [where]
    raise ValidationError(
        f"{entity.name}: where must be a SQLAlchemy expression or a mapping of field to value, "
        f"got {type(where).__name__}"
    )


def query_plan(entity: EntityMap, query: Query) -> Plan:
    """The rows matching ``query``, in its order; returns a list of ``Stored``."""
    stmt = sa.select(*entity.all_columns).where(*_where(entity, query.where))
    keys = entity.key_columns
    if query.after is not None:
        after = query.after if len(keys) > 1 else (query.after,)
        if len(keys) == 1:
            stmt = stmt.where(keys[0] > after[0])
        else:
            stmt = stmt.where(sa.tuple_(*keys) > sa.tuple_(*(sa.literal(p) for p in after)))
    order = [
        _column(entity, name).desc() if descending else _column(entity, name)
        for name, descending in query.order
    ]
    named = {name for name, _ in query.order}
    ties = [c for c, name in zip(keys, entity.key_fields, strict=True) if name not in named]
    stmt = stmt.order_by(*order, *ties)
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    result = yield stmt, {}
    return [entity.from_row(row) for row in result.fetchall()]
