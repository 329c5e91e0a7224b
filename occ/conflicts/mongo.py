"""Conflict stores in a MongoDB collection: :class:`ConflictStore` and :class:`AsyncConflictStore`.

Each conflict is one document with the fields of the SQL table (see
:mod:`occ.conflicts.sql`): ``_id`` (the id), ``entity``, ``entity_key``,
``action``, ``kind``, ``status``, ``decision``, ``base``, ``mine``,
``changes``, ``theirs``, ``expected_version``, ``actual_version`` (JSON text
with type tags, so a stored value is written back exactly), ``attempt``,
``details``, ``created_at``, ``resolved_at``, ``resolution``.
:meth:`ConflictStore.create` adds an index on ``(entity, status)``.

The async store takes a ``pymongo.AsyncMongoClient`` collection or a Motor one.
"""

from __future__ import annotations

from occ.conflicts._async.mongo import AsyncConflictStore
from occ.conflicts._sync.mongo import ConflictStore

__all__ = ["AsyncConflictStore", "ConflictStore"]
