"""``occ.conflicts.mongo.AsyncConflictStore``: conflicts in a MongoDB collection.

The documents and queries live in :mod:`occ.conflicts._mongo_docs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from occ._core.model import Conflict
from occ.conflicts._async.store import AsyncStoreBase
from occ.conflicts._mongo_docs import by_prefix, document, query, record, resolved
from occ.conflicts._query import Filter
from occ.conflicts._records import StoredConflict
from occ.conflicts._settle import Settled

__all__ = ["AsyncConflictStore"]


class AsyncConflictStore(AsyncStoreBase):
    """Conflicts kept in a MongoDB collection.

    Args:
        collection: the collection (of the client the ``AsyncRepository`` of the
            same mode takes).
    """

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
        doc = document(conflict, status, decision, details)
        await self.collection.insert_one(doc)
        return str(doc["_id"])

    async def _list(self, where: Filter, limit: int | None, offset: int) -> list[StoredConflict]:
        cursor = self.collection.find(query(where)).sort([("created_at", 1), ("_id", 1)])
        cursor = cursor.skip(offset).limit(limit or 0)
        return [record(doc) async for doc in cursor]

    async def _count(self, where: Filter) -> int:
        return int(await self.collection.count_documents(query(where)))

    async def _counts(self, where: Filter) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        async for doc in self.collection.find(query(where), {"entity": 1, "status": 1}):
            group = (str(doc["entity"]), str(doc["status"]))
            out[group] = out.get(group, 0) + 1
        return out

    async def _find(self, conflict_id: str) -> StoredConflict | None:
        doc = await self.collection.find_one({"_id": {"$eq": conflict_id}})
        return None if doc is None else record(doc)

    async def _ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        cursor = self.collection.find(by_prefix(prefix), {"_id": 1}).sort([("_id", 1)])
        return [str(doc["_id"]) async for doc in cursor.limit(limit)]

    async def _mark_resolved(self, stored: StoredConflict, settled: Settled) -> bool:
        result = await self.collection.update_one(*resolved(stored, settled))
        return bool(result.matched_count == 1)

    async def _delete(self, where: Filter) -> int:
        result = await self.collection.delete_many(query(where))
        return int(result.deleted_count)
