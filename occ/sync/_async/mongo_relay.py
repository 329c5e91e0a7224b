"""``occ.sync.AsyncMongoOutboxReader``: the outbox of a MongoDB service, as a relay reads it.

It serves :class:`~occ.sync.AsyncRelay` exactly as the SQL reader does
(leases, pending events in order, marks, purge, status), over the outbox
collection and the source collections whose documents carry their events
(see :mod:`occ.sync._mongo_relay`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import ReadPreference
from pymongo.errors import BulkWriteError

from occ.errors import ConfigurationError
from occ.sync._event import Event, decode
from occ.sync._mongo_document import FIELD, is_deleted
from occ.sync._mongo_events import PENDING
from occ.sync._mongo_relay import (
    DOCUMENT_INDEX,
    PENDING_INDEX,
    PENDING_SORT,
    document_events,
    document_filter,
    lease_takes,
    pending_filter,
    removals,
    seed_leases,
)
from occ.sync._outbox import OutboxStatus

__all__ = ["AsyncMongoOutboxReader"]


class AsyncMongoOutboxReader:
    """The pending events of a MongoDB database, for a relay.

    Args:
        database: the service's database (``pymongo.AsyncMongoClient(...)[name]``
            or a Motor database).
        table: the outbox collection (as given to :class:`~occ.sync.Outbox`).
        collections: the names of the collections whose documents carry their
            events (repositories with ``Outbox(mongo="document")``, or
            ``"auto"`` on a server without transactions). The outbox collection
            is always read.
    """

    def __init__(
        self, database: Any, table: str = "occ_outbox", collections: Iterable[str] = ()
    ) -> None:
        if not callable(getattr(database, "get_collection", None)):
            raise ConfigurationError(f"a Mongo relay reads a database, got {database!r}")
        names = [collections] if isinstance(collections, str) else list(collections)
        primary = ReadPreference.PRIMARY
        self.database = database
        self.outbox = database.get_collection(table, read_preference=primary)
        self.leases = database.get_collection(f"{table}_leases", read_preference=primary)
        self.sources = [database.get_collection(n, read_preference=primary) for n in names]
        #: where each event of the last read waits: (source index, document id, tombstone).
        self._carried: dict[str, tuple[int, Any, bool]] = {}
        self._ready = False

    async def ready(self) -> None:
        """Create the indexes and the lease documents, if they do not exist."""
        if self._ready:
            return
        await self.outbox.create_index(PENDING_INDEX, name="occ_pending")
        keys, partial = DOCUMENT_INDEX
        for source in self.sources:
            await source.create_index(keys, name="occ_outbox", partialFilterExpression=partial)
        existing = [row["_id"] for row in await self.leases.find({}, {"_id": 1}).to_list(None)]
        missing = seed_leases(existing)
        if missing:
            with contextlib.suppress(BulkWriteError):  # another relay seeded them meanwhile
                await self.leases.insert_many(missing, ordered=False)
        self._ready = True

    async def claim(self, owner: str, ttl: float, limit: int) -> list[int]:
        """Take or renew up to ``limit`` partition leases; the partitions now held."""
        await self.ready()
        rows = await self.leases.find({}).to_list(None)
        now = time.time()
        takes, ticket = lease_takes(rows, owner, now, ttl, limit)
        if not ticket:  # the leases held stay as they are
            held = [r for r in rows if r["owner"] == owner and r["expires"] >= now]
            return sorted(int(r["_id"]) for r in held)[:limit]
        if not takes:
            return []
        await self.leases.bulk_write(takes, ordered=False)
        won = await self.leases.find({"owner": owner, "ticket": ticket}, {"_id": 1}).to_list(None)
        return sorted(int(row["_id"]) for row in won)

    async def release(self, owner: str) -> None:
        """Give back every lease of ``owner`` (a clean stop)."""
        update = {"$set": {"owner": None, "expires": 0.0}, "$inc": {"version": 1}}
        await self.leases.update_many({"owner": owner}, update)

    async def pending(self, partitions: Sequence[int], limit: int) -> list[Event]:
        """The events of ``partitions`` waiting for a relay, a key's events in order.

        The documents' events come first: a deployment that moved to a replica
        set has its older events there.
        """
        self._carried = {}
        events: list[Event] = []
        if not partitions:
            return events
        for index, source in enumerate(self.sources):
            if len(events) >= limit:
                break
            cursor = source.find(document_filter(partitions), {FIELD: 1})
            for doc in await cursor.limit(limit - len(events)).to_list(None):
                carried = document_events(doc)
                for event in carried:
                    self._carried[event.id] = (index, doc["_id"], is_deleted(doc))
                events += carried
        if len(events) < limit:
            cursor = self.outbox.find(pending_filter(partitions), {"event": 1})
            rows = await cursor.sort(PENDING_SORT).limit(limit - len(events)).to_list(None)
            events += [decode(row["event"]) for row in rows]
        return events

    async def mark(self, events: Sequence[Event]) -> None:
        """Mark ``events`` published: the outbox collection's are marked (and purged after the
        retention period), the documents' are removed from them."""
        marked: list[str] = []
        by_doc: dict[tuple[int, Any], tuple[list[str], bool]] = {}
        for event in events:
            carried = self._carried.get(event.id)
            if carried is None:
                marked.append(event.id)
                continue
            index, doc_id, deleted = carried
            by_doc.setdefault((index, doc_id), ([], deleted))[0].append(event.id)
        if marked:
            update = {"$set": {"published_at": time.time()}}
            await self.outbox.update_many({"_id": {"$in": marked}}, update)
        for index, source in enumerate(self.sources):
            ops = [
                op
                for (where, doc_id), (ids, deleted) in by_doc.items()
                if where == index
                for op in removals(doc_id, ids, deleted)
            ]
            if ops:
                await source.bulk_write(ops, ordered=True)

    async def purge(self, older_than: dt.timedelta) -> int:
        """Delete the events published more than ``older_than`` ago; how many."""
        horizon = time.time() - older_than.total_seconds()
        result = await self.outbox.delete_many({"published_at": {"$gt": PENDING, "$lt": horizon}})
        return int(result.deleted_count)

    async def status(self) -> OutboxStatus:
        """Pending events, seconds since the oldest was written, published events, leases.

        The documents' events are counted by reading them: a large backlog takes a while.
        """
        await self.ready()
        pending = await self.outbox.count_documents({"published_at": PENDING})
        published = await self.outbox.count_documents({"published_at": {"$gt": PENDING}})
        oldest_doc = await self.outbox.find_one({"published_at": PENDING}, sort=[("created", 1)])
        now = time.time()
        oldest = now if oldest_doc is None else float(oldest_doc["created"])
        for source in self.sources:
            cursor = source.find({f"{FIELD}.n": {"$gt": 0}}, {FIELD: 1})
            for doc in await cursor.to_list(None):
                carried = document_events(doc)
                pending += len(carried)
                for event in carried:
                    oldest = min(oldest, event.timestamp.timestamp())
        rows = await self.leases.find({}).to_list(None)
        leases = {
            int(row["_id"]): (row["owner"] if row["expires"] >= now else None) for row in rows
        }
        return OutboxStatus(
            pending=pending, lag=max(0.0, now - oldest), published=published, leases=leases
        )
