"""The MongoDB conflict store's documents and queries (pure), shared by its two drivers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from occ._core.model import Conflict
from occ.conflicts._records import StoredConflict, conflict_columns, from_columns, new_id

__all__ = ["document", "query", "record", "resolved"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def document(conflict: Conflict, status: str, decision: str, details: Any) -> dict[str, Any]:
    """The document that stores ``conflict``, with a new ``_id``."""
    doc = conflict_columns(conflict, status=status, decision=decision, details=details)
    return {"_id": new_id(), "created_at": _now(), **doc}


def record(doc: Mapping[str, Any]) -> StoredConflict:
    """The :class:`StoredConflict` of a stored document."""
    return from_columns({**doc, "id": doc["_id"]})


def query(status: str | None, entity: str | None) -> dict[str, Any]:
    """The filter of the conflicts of one status and entity (``None``: any)."""
    found: dict[str, Any] = {}
    if status is not None:
        found["status"] = {"$eq": status}
    if entity is not None:
        found["entity"] = {"$eq": entity}
    return found


def resolved(stored: StoredConflict, take: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter and update that mark ``stored`` resolved, if its status has not changed."""
    return (
        {"_id": {"$eq": stored.id}, "status": {"$eq": stored.status}},
        {"$set": {"status": "resolved", "resolution": take, "resolved_at": _now()}},
    )
