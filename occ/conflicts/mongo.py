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

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

from occ._core.flow import strict_writes
from occ._core.model import Conflict
from occ.conflicts._records import (
    StoredConflict,
    Take,
    conflict_columns,
    from_columns,
    new_id,
    plan_resolution,
)
from occ.errors import NotFoundError

__all__ = ["AsyncConflictStore", "ConflictStore"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _document(conflict: Conflict, status: str, decision: str, details: Any) -> dict[str, Any]:
    doc = conflict_columns(conflict, status=status, decision=decision, details=details)
    return {"_id": new_id(), "created_at": _now(), **doc}


def _record(doc: Mapping[str, Any]) -> StoredConflict:
    return from_columns({**doc, "id": doc["_id"]})


def _query(status: str | None, entity: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = {"$eq": status}
    if entity is not None:
        query["entity"] = {"$eq": entity}
    return query


def _resolved(record: StoredConflict, take: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {"_id": {"$eq": record.id}, "status": {"$eq": record.status}},
        {"$set": {"status": "resolved", "resolution": take, "resolved_at": _now()}},
    )


class ConflictStore:
    """Conflicts kept in a MongoDB collection (PyMongo, sync).

    Args:
        collection: a ``pymongo.collection.Collection``.
    """

    is_async: ClassVar[bool] = False

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def __repr__(self) -> str:
        return f"ConflictStore({self.collection.name!r})"

    def create(self) -> None:
        """Create the ``(entity, status)`` and ``created_at`` indexes."""
        self.collection.create_index([("entity", 1), ("status", 1)])
        self.collection.create_index([("created_at", 1)])

    def drop(self) -> None:
        """Drop the collection."""
        self.collection.drop()

    def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> str:
        """Persist ``conflict`` (acknowledged when this returns); its new id."""
        doc = _document(conflict, status, decision, details)
        self.collection.insert_one(doc)
        return str(doc["_id"])

    def list(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[StoredConflict]:
        """Stored conflicts, oldest first, optionally of one status and entity."""
        cursor = self.collection.find(_query(status, entity)).sort([("created_at", 1), ("_id", 1)])
        cursor = cursor.skip(offset).limit(limit or 0)
        return [_record(doc) for doc in cursor]

    def count(self, *, status: str | None = None, entity: str | None = None) -> int:
        """How many conflicts are stored (of one status and entity)."""
        return int(self.collection.count_documents(_query(status, entity)))

    def get(self, conflict_id: str) -> StoredConflict:
        """One stored conflict; :class:`~occ.NotFoundError` if there is none with that id."""
        doc = self.collection.find_one({"_id": {"$eq": conflict_id}})
        if doc is None:
            raise NotFoundError("conflict", conflict_id)
        return _record(doc)

    def resolve(
        self,
        conflict_id: str,
        repository: Any,
        *,
        take: Take = "mine",
        values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Settle a stored conflict (see :meth:`occ.conflicts.sql.ConflictStore.resolve`)."""
        record = self.get(conflict_id)
        writes = plan_resolution(record, take, values)
        c = record.conflict
        if writes is None:
            result = repository.find(c.key)
        else:
            with strict_writes():
                result = repository.update(
                    c.key, writes, expected_version=c.actual_version, base=c.theirs
                )
        self.collection.update_one(*_resolved(record, take))
        return result


class AsyncConflictStore:
    """Conflicts kept in a MongoDB collection, through PyMongo's async client or Motor.

    Args:
        collection: a ``pymongo.asynchronous`` collection or a Motor collection.
    """

    is_async: ClassVar[bool] = True

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def __repr__(self) -> str:
        return f"AsyncConflictStore({self.collection.name!r})"

    async def create(self) -> None:
        """Create the ``(entity, status)`` and ``created_at`` indexes."""
        await self.collection.create_index([("entity", 1), ("status", 1)])
        await self.collection.create_index([("created_at", 1)])

    async def drop(self) -> None:
        """Drop the collection."""
        await self.collection.drop()

    async def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> str:
        """Persist ``conflict`` (acknowledged when this returns); its new id."""
        doc = _document(conflict, status, decision, details)
        await self.collection.insert_one(doc)
        return str(doc["_id"])

    async def list(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[StoredConflict]:
        """Stored conflicts, oldest first, optionally of one status and entity."""
        cursor = self.collection.find(_query(status, entity)).sort([("created_at", 1), ("_id", 1)])
        cursor = cursor.skip(offset).limit(limit or 0)
        return [_record(doc) async for doc in cursor]

    async def count(self, *, status: str | None = None, entity: str | None = None) -> int:
        """How many conflicts are stored (of one status and entity)."""
        return int(await self.collection.count_documents(_query(status, entity)))

    async def get(self, conflict_id: str) -> StoredConflict:
        """One stored conflict; :class:`~occ.NotFoundError` if there is none with that id."""
        doc = await self.collection.find_one({"_id": {"$eq": conflict_id}})
        if doc is None:
            raise NotFoundError("conflict", conflict_id)
        return _record(doc)

    async def resolve(
        self,
        conflict_id: str,
        repository: Any,
        *,
        take: Take = "mine",
        values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Settle a stored conflict through an async repository."""
        record = await self.get(conflict_id)
        writes = plan_resolution(record, take, values)
        c = record.conflict
        if writes is None:
            result = await repository.find(c.key)
        else:
            with strict_writes():
                result = await repository.update(
                    c.key, writes, expected_version=c.actual_version, base=c.theirs
                )
        await self.collection.update_one(*_resolved(record, take))
        return result
