# Generated from occ/sync/_async/mongo_replica.py by scripts/unasync.py: edit that file.
"""``occ.sync.MongoReplica``: a copy of another service's entity in a Mongo collection.

One version-guarded upsert per event: ``update_one({_id: key, version: {$lt:
v}}, {$set: fields + version}, upsert=True)``. When the document exists with
a version at or past ``v`` the filter matches nothing and the upsert's insert
meets the existing ``_id``: a duplicate-key error, which means "not newer"
(one read tells stale from duplicate). Two consumers upserting the same new
key at once: one inserts, the other gets the duplicate-key error, reads, and
applies again if its version is still the newer one. A delete keeps the
document as a tombstone (``{_id, version, _occ_deleted: true}``, its fields
removed; a delete first updates the live document of its version, then upserts
past older ones: two commands, not one ``$or`` filter, which some servers do not
match on an upsert): readers filter ``{"_occ_deleted": {"$ne": true}}``, and
:meth:`purge_tombstones` removes them after a horizon.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from occ.sync._event import Event, EventError
from occ.sync._replica_sql import Outcome, classify

__all__ = ["DELETED", "MongoReplica"]

#: the field that marks a tombstone document.
DELETED = "_occ_deleted"
_DELETED_AT = "_occ_deleted_at"
#: a live document: no tombstone mark (``$exists``: some servers miss ``$ne`` on an update).
_LIVE = {DELETED: {"$exists": False}}


class MongoReplica:
    """Keeps a copy of a source entity in a MongoDB collection, newest version wins.

    Args:
        collection: a PyMongo ``AsyncCollection`` (or Motor collection).
        entity: the source entity whose events it applies.
        fields: the fields it keeps (default: every field of the events).
        version_field: the document's version field.
    """

    def __init__(
        self,
        collection: Any,
        *,
        entity: str,
        fields: Sequence[str] | None = None,
        version_field: str = "version",
    ) -> None:
        self.collection = collection
        self.entity = entity
        self.fields = None if fields is None else tuple(fields)
        self.version_field = version_field
        #: how many events ended in each outcome.
        self.counts: Counter[str] = Counter()

    # -- checks ---------------------------------------------------------------------------

    def _key(self, event: Event) -> Any:
        if event.entity != self.entity:
            raise EventError(f"this replica applies {self.entity!r} events, not {event.entity!r}")
        return list(event.key) if isinstance(event.key, tuple) else event.key

    def _values(self, event: Event, source: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in source.items():
            if not name or name.startswith("$") or "." in name or "\x00" in name:
                raise EventError(f"{self.entity} event v{event.version}: bad field name {name!r}")
            if name in ("_id", self.version_field, DELETED, _DELETED_AT):
                raise EventError(
                    f"{self.entity} event v{event.version}: field {name!r} is reserved"
                )
            if self.fields is None or name in self.fields:
                out[name] = value
        if self.fields is not None and event.value is not None:
            missing = [f for f in self.fields if f not in source]
            if missing:
                raise EventError(f"{self.entity} event v{event.version} has no fields {missing}")
        return out

    def _op(self, event: Event) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """The filter, the update and whether it upserts, of one (checked) event."""
        key = self._key(event)
        v = self.version_field
        if event.deleted:
            now = dt.datetime.now(dt.UTC)
            update = {"$set": {v: event.version, DELETED: True, _DELETED_AT: now}}
            return {"_id": key, v: {"$lt": event.version}}, update, True
        if event.value is None and event.operation == "update":
            sets = {**self._values(event, event.changes), v: event.version}
            return (
                {"_id": key, v: event.previous, DELETED: {"$exists": False}},
                {"$set": sets},
                False,
            )
        source = event.value if event.value is not None else event.changes
        sets = {**self._values(event, source), v: event.version}
        update = {"$set": sets, "$unset": {DELETED: "", _DELETED_AT: ""}}
        return {"_id": key, v: {"$lt": event.version}}, update, True

    # -- applying -------------------------------------------------------------------------

    def _held(self, key: Any) -> tuple[int | None, int | None]:
        doc = self.collection.find_one({"_id": key}, {self.version_field: 1, DELETED: 1})
        if doc is None:
            return None, None
        version = doc.get(self.version_field)
        return (None, version) if doc.get(DELETED) else (version, None)

    def apply(self, event: Event) -> Outcome:
        """Apply ``event`` if newer than the document held; say what happened.

        Raises:
            EventError: another entity, a bad field name, a missing field (nothing written).
        """
        filter_, update, upsert = self._op(event)
        if event.deleted:  # the live document of the same version first (no $or: see below)
            live = {
                "_id": filter_["_id"],
                self.version_field: event.version,
                DELETED: {"$exists": False},
            }
            if (self.collection.update_one(live, update)).matched_count:
                self.counts["applied"] += 1
                return "applied"
        outcome: Outcome | None = None
        for _ in range(3):  # a lost race of two upserts of a new key: read, then try again
            try:
                result = self.collection.update_one(filter_, update, upsert=upsert)
            except DuplicateKeyError:
                result = None
            if result is not None and (result.matched_count or result.upserted_id is not None):
                outcome = "applied"
                break
            row, tomb = self._held(filter_["_id"])
            outcome = classify(event, row, tomb)
            if outcome != "gap" or not upsert:
                break
        assert outcome is not None
        self.counts[outcome] += 1
        return outcome

    def apply_many(self, events: Iterable[Event]) -> list[Outcome]:
        """Apply a batch: one unordered ``bulk_write`` of the upserts, then one read of the
        keys whose upsert did not apply; changes-only events are applied one by one.

        Raises:
            EventError: an event of the batch is invalid (nothing of the batch written).
        """
        batch = list(events)
        ops = [self._op(event) for event in batch]
        outcomes: list[Outcome | None] = [None] * len(batch)
        bulk = [i for i, (_, _, upsert) in enumerate(ops) if upsert and not batch[i].deleted]
        failed: set[int] = set()
        if bulk:
            requests = [UpdateOne(ops[i][0], ops[i][1], upsert=True) for i in bulk]
            try:
                self.collection.bulk_write(requests, ordered=False)
            except BulkWriteError as exc:
                failed = {bulk[error["index"]] for error in exc.details.get("writeErrors", [])}
        for i in bulk:
            if i not in failed:
                outcomes[i] = "applied"
        if failed:
            keys = [ops[i][0]["_id"] for i in failed]
            cursor = self.collection.find({"_id": {"$in": keys}})
            docs = {str(d["_id"]): d for d in cursor}
            for i in failed:
                doc = docs.get(str(ops[i][0]["_id"])) or {}
                version = doc.get(self.version_field)
                held = (None, version) if doc.get(DELETED) else (version, None)
                outcomes[i] = classify(batch[i], *held)
        for i, event in enumerate(batch):
            if outcomes[i] is None:
                outcomes[i] = self.apply(event)
            else:
                self.counts[outcomes[i] or "applied"] += 1
        return [outcome or "applied" for outcome in outcomes]

    def purge_tombstones(self, older_than: dt.timedelta) -> int:
        """Remove tombstones older than ``older_than`` (see the SQL replica's caveat)."""
        horizon = dt.datetime.now(dt.UTC) - older_than
        result = self.collection.delete_many({DELETED: True, _DELETED_AT: {"$lt": horizon}})
        return int(result.deleted_count)
