"""The MongoDB conflict store's documents and queries (pure), shared by its two drivers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from occ._core.model import Conflict
from occ.conflicts._query import OPEN, Filter, utcnow
from occ.conflicts._records import StoredConflict, conflict_columns, encode, from_columns, new_id
from occ.conflicts._settle import Settled

__all__ = ["by_prefix", "document", "query", "record", "resolved"]


def document(conflict: Conflict, status: str, decision: str, details: Any) -> dict[str, Any]:
    """The document that stores ``conflict``, with a new ``_id``."""
    doc = conflict_columns(conflict, status=status, decision=decision, details=details)
    return {"_id": new_id(), "created_at": utcnow(), **doc}


def record(doc: Mapping[str, Any]) -> StoredConflict:
    """The :class:`StoredConflict` of a stored document."""
    return from_columns({**doc, "id": doc["_id"]})


def query(found: Filter) -> dict[str, Any]:
    """The filter document of a :class:`Filter` (every value compared with ``$eq``/``$in``)."""
    out: dict[str, Any] = {}
    if found.status == OPEN:
        out["status"] = {"$ne": "resolved"}
    elif found.status is not None:
        out["status"] = {"$eq": found.status}
    entity: dict[str, Any] = {}
    if found.entity is not None:
        entity["$eq"] = found.entity
    if found.entities is not None:
        entity["$in"] = sorted(found.entities)
    if entity:
        out["entity"] = entity
    created: dict[str, Any] = {}
    if found.created_before is not None:
        created["$lt"] = found.created_before
    if found.created_after is not None:
        created["$gt"] = found.created_after
    if created:
        out["created_at"] = created
    if found.resolved_before is not None:
        out["resolved_at"] = {"$lt": found.resolved_before}
    if found.ids is not None:
        out["_id"] = {"$in": sorted(found.ids)}
    return out


def by_prefix(prefix: str) -> dict[str, Any]:
    """Ids starting with ``prefix`` (checked hex digits), as a range: no pattern involved."""
    return {"_id": {"$gte": prefix, "$lt": prefix + "g"}}


def resolved(stored: StoredConflict, settled: Settled) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter and update that mark ``stored`` resolved, if its status has not changed."""
    return (
        {"_id": {"$eq": stored.id}, "status": {"$eq": stored.status}},
        {
            "$set": {
                "status": "resolved",
                "resolution": settled.resolution,
                "resolved_at": utcnow(),
                "resolved_by": settled.by,
                "resolution_detail": encode(settled.detail, path="resolution"),
            }
        },
    )
