"""Batch reads and writes on MongoDB as plans (pure): one command per batch, outcomes per write.

- updates: one unordered ``bulk_write`` of ``UpdateOne(guard, update)`` — each the
  command a single write sends, with its version guard and token push;
- deletes: one ``find`` of the keys, one ``bulk_write`` of the tombstones, then one
  ``bulk_write`` of ``DeleteOne(guard)`` for the documents at their expected version;
- inserts: one ``find`` of the keys' tombstones, then one unordered ``insert_many``;
- reads: one ``find({_id: {$in: keys}})``.

``BulkWriteResult`` has only totals, so each write's outcome is attributed
here: when every update matched (and none needs the stored document back)
the totals say it all; otherwise one ``find`` of the batch's keys reads the
documents, and a document carrying the write's token was written by it
(``TOKEN_WINDOW`` tokens are kept, so absence is proof while fewer writes than
that happened since). A deleted document keeps no token, so a delete batch
reads first which documents are at their expected version and deletes those;
an insert's failures come indexed in the ``BulkWriteError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bson
from pymongo import DeleteOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from occ._core.bulk import identity
from occ._core.query import Query
from occ._core.settle import TOKEN_WINDOW, new_token
from occ._core.steps import Applied, Lost, Missed, Stored, Write
from occ.errors import ValidationError
from occ.mongo._commands import (
    Commands,
    Op,
    Plan,
    _duplicate_index,
    _encoding_error,
    _unknown_outcome,
)
from occ.mongo._mapping import check_name

__all__ = ["BulkCommands"]

_WRITE_CONFLICT = 112


class BulkCommands:
    """Batch plans of one collection's :class:`~occ.mongo._commands.Commands`."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.docs = commands.docs
        self._shard = {name: {"$eq": value} for name, value in self.docs.shard_key.items()}

    # -- reads --------------------------------------------------------------------------

    def find_keys(self, keys: Sequence[Any]) -> Op:
        """One ``find`` by ``$in``, every document in its first reply (no ``getMore``)."""
        query = {"_id": {"$in": list(keys)}, **self._shard}
        return Op("find", (query,), {"batch_size": max(1, len(keys))})

    def read_plan(self, keys: Sequence[Any]) -> Plan:
        """One ``find`` of ``keys``; returns one ``Stored | None`` per key."""
        docs = yield self.find_keys(keys)
        return self._by_key(keys, docs)

    def _by_key(self, keys: Sequence[Any], docs: Sequence[Mapping[str, Any]]) -> list[Any]:
        found = {identity(doc["_id"]): self.docs.stored(doc) for doc in docs}
        return [found.get(identity(key)) for key in keys]

    def query_plan(self, query: Query) -> Plan:
        """One ``find`` with the filter, sort and limit of ``query``; returns ``Stored``s."""
        docs = self.docs
        where = query.where
        if where is None:
            where = {}
        elif not isinstance(where, Mapping):
            raise ValidationError(
                f"{docs.name}: where must be a MongoDB filter document (a mapping), got "
                f"{type(where).__name__}"
            )
        parts = [{("_id" if k == docs.key else k): v for k, v in where.items()}]
        if self._shard:
            parts.append(self._shard)
        if query.after is not None:
            parts.append({"_id": {"$gt": query.after}})
        parts = [p for p in parts if p]
        filter_ = parts[0] if len(parts) == 1 else ({"$and": parts} if parts else {})
        sort = [(self._field(name), -1 if descending else 1) for name, descending in query.order]
        if all(field != "_id" for field, _ in sort):
            sort.append(("_id", 1))  # the key breaks ties
        options: dict[str, Any] = {"sort": sort}
        if query.limit is not None:
            if query.limit == 0:
                return []
            options["limit"] = options["batch_size"] = query.limit
        found = yield Op("find", (filter_,), options)
        return [docs.stored(doc) for doc in found]

    def _field(self, name: str) -> str:
        if name == self.docs.key:
            return "_id"
        for part in name.split("."):  # a dotted path orders by a nested field
            check_name(part, entity=self.docs.name)
        return name

    # -- writes -------------------------------------------------------------------------

    def write_plan(self, writes: Sequence[Write], *, in_transaction: bool) -> Plan:
        """One command for ``writes`` (one action); returns one outcome per write."""
        action = writes[0].action
        if action == "insert":
            return (yield from self._insert(writes, in_transaction))
        if action == "delete":
            return (yield from self._delete(writes, in_transaction))
        tokens = [w.token or new_token() for w in writes]
        ops = [
            UpdateOne(
                self.commands.guard(w.key, _ev(w)),
                self.commands.update_doc(w.changes, w.base, _nv(w), token),
            )
            for w, token in zip(writes, tokens, strict=True)
        ]
        failed: dict[int, Any] = {}
        try:
            result = yield Op("bulk_write", (ops,), {"ordered": False})
            done = result.matched_count
        except Exception as exc:
            if _encoding_error(exc):
                return (yield from self._one_by_one(writes, in_transaction))
            if not isinstance(exc, BulkWriteError):
                return _whole_batch(exc, len(writes), in_transaction)
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") == _WRITE_CONFLICT for e in errors):
                return [Missed(serialization=True) for _ in writes]
            failed = {
                e["index"]: OperationFailure(e.get("errmsg", ""), e.get("code"), e) for e in errors
            }
            done = -1
        if done == len(writes) and not any(w.returning for w in writes):
            return [_applied(w) for w in writes]
        keys = [w.key for w in writes]
        now = self._by_key(keys, (yield self.find_keys(keys)))
        return [
            failed[i] if i in failed else _attributed(w, token, stored)
            for i, (w, token, stored) in enumerate(zip(writes, tokens, now, strict=True))
        ]

    def _delete(self, writes: Sequence[Write], in_transaction: bool) -> Plan:
        """Read which documents are at their expected version, delete those: a deleted
        document leaves no token behind, so the read comes first. If fewer were deleted
        than read (another writer in between), the ones now gone are settled one by one."""
        keys = [w.key for w in writes]
        before = self._by_key(keys, (yield self.find_keys(keys)))
        chosen = [
            i
            for i, (w, s) in enumerate(zip(writes, before, strict=True))
            if s is not None and s.version == w.expected_version
        ]
        out: list[Any] = [Missed() for _ in writes]
        if not chosen:
            return out
        made: list[int] = []  # the tombstones created now (taken back if nothing is deleted)
        if self.commands.tombstones:
            # First the tombstones, then the deletes (see Commands.write_plan).
            marks = [self.commands._tombstone_op(writes[i]).args for i in chosen]
            ops_: list[Any] = [UpdateOne(where, update, upsert=True) for where, update in marks]
            marked = yield Op("bulk_write", (ops_,), {"ordered": False}, True)
            made = [chosen[j] for j in marked.upserted_ids]
        ops = [DeleteOne(self.commands.guard(writes[i].key, _ev(writes[i]))) for i in chosen]
        deleted = -1
        try:
            result = yield Op("bulk_write", (ops,), {"ordered": False})
            deleted = result.deleted_count
        except Exception as exc:
            if not isinstance(exc, BulkWriteError):
                for i, outcome in zip(
                    chosen, _whole_batch(exc, len(chosen), in_transaction), strict=True
                ):
                    out[i] = outcome
                return out
        if deleted == len(chosen):
            for i in chosen:
                out[i] = _applied(writes[i])
            return out
        picked = [keys[i] for i in chosen]
        after = self._by_key(picked, (yield self.find_keys(picked)))
        for i, stored in zip(chosen, after, strict=True):
            out[i] = Lost() if stored is None else Missed()
        back = [i for i in made if isinstance(out[i], Missed)]
        if back:  # nothing was deleted there: take back the tombstones made for them
            guards = [
                {"_id": {"$eq": self.commands.tombstone_id(keys[i])}, "version": _ev(writes[i])}
                for i in back
            ]
            yield Op("bulk_write", ([DeleteOne(g) for g in guards],), {"ordered": False}, True)
        return out

    def _insert(self, writes: Sequence[Write], in_transaction: bool) -> Plan:
        docs = self.docs
        batch = []
        for w in writes:
            doc = {"_id": w.key, **w.changes, docs.version_field: w.new_version}
            doc[docs.token_field] = [w.token or new_token()]
            batch.append(doc)
        # A key inserted again starts past its last version: one read of the tombstones.
        again = [i for i, w in enumerate(writes) if self.commands.tombstones and not w.fresh]
        if again:
            ids = [self.commands.tombstone_id(writes[i].key) for i in again]
            found = yield Op("find", ({"_id": {"$in": ids}},), {"batch_size": len(ids)}, True)
            last = {tomb["_id"]: int(tomb.get("version", 0)) for tomb in found}
            for i, tid in zip(again, ids, strict=True):
                if tid in last:
                    batch[i][docs.version_field] = last[tid] + 1
        versions = [doc[docs.version_field] for doc in batch]
        try:
            yield Op("insert_many", (batch,), {"ordered": False})
        except Exception as exc:
            if _encoding_error(exc):
                return (yield from self._one_by_one(writes, in_transaction))
            if not isinstance(exc, BulkWriteError):
                return _whole_batch(exc, len(writes), in_transaction)
            out: list[Any] = [_inserted(w, v) for w, v in zip(writes, versions, strict=True)]
            unsure: list[int] = []
            for error in exc.details.get("writeErrors", []):
                i, code = error["index"], error.get("code")
                if code == _WRITE_CONFLICT:
                    out[i] = Missed(serialization=True)
                    continue
                if code != 11000:
                    out[i] = OperationFailure(error.get("errmsg", ""), code, error)
                    continue
                dup = DuplicateKeyError(error.get("errmsg", ""), code, error)
                which = _duplicate_index(dup)
                out[i] = Missed(duplicate=True) if which == "_id" else dup
                if which == "unknown":
                    unsure.append(i)
            if unsure:  # a server that does not say which index: is the key taken?
                keys = [writes[i].key for i in unsure]
                now = yield self.find_keys(keys)
                for i, stored in zip(unsure, self._by_key(keys, now), strict=True):
                    if stored is not None:
                        out[i] = Missed(duplicate=True)
            return out
        return [_inserted(w, v) for w, v in zip(writes, versions, strict=True)]

    def _one_by_one(self, writes: Sequence[Write], in_transaction: bool) -> Plan:
        """A value BSON cannot encode (nothing was sent): that write fails alone."""
        out: list[Any] = []
        for w in writes:
            try:
                bson.encode({"changes": dict(w.changes), "key": w.key})
            except Exception as exc:
                why = f"{self.docs.name}: a value cannot be stored in BSON: {exc}"
                out.append(ValidationError(why))
                continue
            done = yield from self.commands.write_plan(w, in_transaction=in_transaction)
            out.append(done)
        return out


def _ev(write: Write) -> Any:
    assert write.expected_version is not None
    return write.expected_version


def _nv(write: Write) -> Any:
    assert write.new_version is not None
    return write.new_version


def _applied(write: Write) -> Applied:
    if write.action == "delete":
        return Applied(write.key, _ev(write), based_on=_ev(write))
    return Applied(write.key, _nv(write), based_on=_ev(write))


def _inserted(write: Write, version: Any) -> Applied:
    return Applied(write.key, version, dict(write.changes))


def _attributed(write: Write, token: str, stored: Stored | None) -> Any:
    """An update's outcome from the document as read after the batch (see the module)."""
    if stored is None:
        return Missed()
    if stored.tokens is not None and token in stored.tokens:
        if not write.returning:
            return _applied(write)
        # Written; what is stored now may already be newer than this write.
        newer = stored.version != write.new_version
        return Applied(stored.key, stored.version, stored.record, settled=newer)
    moved = stored.version - _ev(write) if isinstance(stored.version, int) else TOKEN_WINDOW + 1
    if stored.tokens is not None and (moved <= TOKEN_WINDOW or len(stored.tokens) < TOKEN_WINDOW):
        return Missed()
    return Lost()  # more writes since than the tokens remember: settled by the flow


def _whole_batch(exc: BaseException, n: int, in_transaction: bool) -> list[Any]:
    """A failure of the whole command: its replies lost (settled item by item), or raised."""
    if not in_transaction and _unknown_outcome(exc):
        return [Lost() for _ in range(n)]
    if isinstance(exc, OperationFailure) and exc.code == _WRITE_CONFLICT:
        return [Missed(serialization=True) for _ in range(n)]
    raise exc
