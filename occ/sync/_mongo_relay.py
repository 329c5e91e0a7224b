"""The relay's commands on a MongoDB outbox: leases, pending events, marks, removal (pure).

Pending events wait in two places (see :mod:`occ.sync._mongo_outbox`):

- the outbox collection: one document per event, ``published_at`` 0 until a
  relay marks it published (a number, not a date: every server compares
  numbers alike); read by partition, then key, then version, so a key's
  events are always read in order (MongoDB gives no commit-order sequence,
  and none is needed: per key, the version is the order);
- the source documents (``_occ_outbox``): the relay reads the documents of
  its partitions that carry events, publishes them, then removes each one by
  id — ``$unset`` guarded by the event's existence, and the count decreased
  by one — all of a round's removals in one ordered ``bulk_write``. A write
  that added an event meanwhile keeps it (other id); a removal repeated by a
  second relay matches nothing. After its events, a document whose count is
  back to 0 loses the field, and a deleted one (a tombstone) is deleted.

Leases are documents of ``<table>_leases``, one per partition, taken with
version-guarded updates (one ``bulk_write``, then one read of what was won).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import DeleteOne, UpdateOne

from occ.sync._event import Event, decode
from occ.sync._mongo_document import DELETED, FIELD
from occ.sync._mongo_events import PENDING, order_of
from occ.sync._outbox import PARTITIONS

__all__ = [
    "PENDING_SORT",
    "document_events",
    "document_filter",
    "lease_takes",
    "pending_filter",
    "removals",
    "seed_leases",
]

#: the order a relay reads the outbox collection in: a key's events by version.
PENDING_SORT = [("partition_no", 1), ("entity_key", 1), ("order", 1)]
#: the index of that read (and of the purge of published events).
PENDING_INDEX = [("published_at", 1), ("partition_no", 1), ("entity_key", 1), ("order", 1)]
#: the partial index of the source documents that carry events.
DOCUMENT_INDEX = ([(f"{FIELD}.p", 1)], {f"{FIELD}.n": {"$gt": 0}})


def seed_leases(existing: Sequence[Any]) -> list[dict[str, Any]]:
    """The lease documents still missing (one per partition)."""
    have = set(existing)
    return [
        {"_id": p, "owner": None, "expires": 0.0, "version": 1}
        for p in range(PARTITIONS)
        if p not in have
    ]


def lease_takes(
    rows: Sequence[Mapping[str, Any]], owner: str, now: float, ttl: float, limit: int
) -> tuple[list[UpdateOne], str]:
    """Updates taking (or renewing) up to ``limit`` partitions: ours first, then free or
    expired ones; each guarded by the version read, so two relays never both win one.
    Each won lease carries the returned ticket (read back to know which were won).
    None (and no ticket) while the leases held have more than half their time left and
    no more could be taken."""
    mine = [r for r in rows if r["owner"] == owner and r["expires"] >= now]
    free = [r for r in rows if r["owner"] != owner and (r["owner"] is None or r["expires"] < now)]
    fresh = all(r["expires"] >= now + ttl / 2 for r in mine)
    if mine and fresh and (len(mine) >= limit or not free):
        return [], ""  # held, with more than half their time left: nothing to write
    ticket = uuid.uuid4().hex
    taken = {"owner": owner, "expires": now + ttl, "ticket": ticket}
    updates = [
        UpdateOne(
            {"_id": r["_id"], "version": r["version"]}, {"$set": taken, "$inc": {"version": 1}}
        )
        for r in (mine + free)[:limit]
    ]
    return updates, ticket


def pending_filter(partitions: Sequence[int]) -> dict[str, Any]:
    """The unpublished events of ``partitions`` in the outbox collection."""
    return {"published_at": PENDING, "partition_no": {"$in": list(partitions)}}


def document_filter(partitions: Sequence[int]) -> dict[str, Any]:
    """The source documents of ``partitions`` that carry events."""
    return {f"{FIELD}.n": {"$gt": 0}, f"{FIELD}.p": {"$in": list(partitions)}}


def document_events(doc: Mapping[str, Any]) -> list[Event]:
    """The events a source document carries, in order (by version, a delete last)."""
    carried = (doc.get(FIELD) or {}).get("e") or {}
    return sorted((decode(text) for text in carried.values()), key=order_of)


def removals(doc_id: Any, ids: Sequence[str], deleted: bool) -> list[UpdateOne | DeleteOne]:
    """The ordered writes that remove published events ``ids`` from document ``doc_id``:
    each event alone (guarded by its existence), then the emptied field, or the document
    itself when it is a tombstone with nothing left to publish."""
    ops: list[UpdateOne | DeleteOne] = [
        UpdateOne(
            {"_id": doc_id, f"{FIELD}.e.{event_id}": {"$exists": True}},
            {"$unset": {f"{FIELD}.e.{event_id}": ""}, "$inc": {f"{FIELD}.n": -1}},
        )
        for event_id in ids
    ]
    if deleted:
        ops.append(DeleteOne({"_id": doc_id, f"{FIELD}.n": 0, DELETED: {"$exists": True}}))
    else:
        empty = {"_id": doc_id, f"{FIELD}.n": 0, DELETED: {"$exists": False}}
        ops.append(UpdateOne(empty, {"$unset": {FIELD: ""}}))
    return ops
