# Generated from occ/conflicts/_async/mongo.py by scripts/unasync.py: edit that file.
"""``occ.conflicts.mongo.ConflictStore``: conflicts in a MongoDB collection.

The documents and queries live in :mod:`occ.conflicts._mongo_docs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from occ._core.model import Conflict
from occ.conflicts._mongo_docs import by_prefix, document, query, record, resolved
from occ.conflicts._query import Filter
from occ.conflicts._records import StoredConflict
from occ.conflicts._settle import Settled
from occ.conflicts._sync.store import StoreBase

__all__ = ["ConflictStore"]


class ConflictStore(StoreBase):
    """Conflicts kept in a MongoDB collection.

    Args:
        collection: the collection (of the client the ``Repository`` of the
            same mode takes).
    """

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
        doc = document(conflict, status, decision, details)
        self.collection.insert_one(doc)
        return str(doc["_id"])

    def _list(self, where: Filter, limit: int | None, offset: int) -> list[StoredConflict]:
        cursor = self.collection.find(query(where)).sort([("created_at", 1), ("_id", 1)])
        cursor = cursor.skip(offset).limit(limit or 0)
        return [record(doc) for doc in cursor]

    def _count(self, where: Filter) -> int:
        return int(self.collection.count_documents(query(where)))

    def _counts(self, where: Filter) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for doc in self.collection.find(query(where), {"entity": 1, "status": 1}):
            group = (str(doc["entity"]), str(doc["status"]))
            out[group] = out.get(group, 0) + 1
        return out

    def _find(self, conflict_id: str) -> StoredConflict | None:
        doc = self.collection.find_one({"_id": {"$eq": conflict_id}})
        return None if doc is None else record(doc)

    def _ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        cursor = self.collection.find(by_prefix(prefix), {"_id": 1}).sort([("_id", 1)])
        return [str(doc["_id"]) for doc in cursor.limit(limit)]

    def _mark_resolved(self, stored: StoredConflict, settled: Settled) -> bool:
        result = self.collection.update_one(*resolved(stored, settled))
        return bool(result.matched_count == 1)

    def _delete(self, where: Filter) -> int:
        result = self.collection.delete_many(query(where))
        return int(result.deleted_count)
