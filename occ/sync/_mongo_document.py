"""Events carried in the written document: the outbox of a MongoDB server without
transactions (pure).

A document's pending events live in its field ``_occ_outbox``::

    {"p": <outbox partition>, "n": <pending events>,
     "e": {<event id>: <event JSON>, ...},
     "deleted": <version>}        # only while a deleted document waits for the relay

Each write sets its event with the very conditional command that writes the
document: an update adds ``$set: {"_occ_outbox.e.<id>": <event>, ...}`` and
``$inc: {"_occ_outbox.n": 1}`` to its own update, an insert stores the field
with the document. The event exists exactly when the write applied, and
nothing else is sent: one command per write, on any server.

A delete cannot remove the document — its unpublished events would go with
it. It becomes a *tombstone update*: the same guarded filter, setting
``_occ_outbox.deleted`` and the delete's event. Reads take such a document
for absent, the guards of later writes skip it, and an insert under its key
revives it (one guarded update: the new fields set, the stale ones unset,
the version past the deleted one). The relay deletes it once every event it
carries is published (:mod:`occ.sync._mongo_relay`).

A full event carries the whole new value, which must be known before the
write: ``save`` and ``modify`` know it (what they read, plus the changes);
``update`` without ``base=`` reads the document first (two commands). The
commutative fast path (``$inc``, ...) writes a value nobody knows in advance:
here it becomes a read and a conditional update, retried by the flow when
another write came first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pymongo.errors import DuplicateKeyError

from occ._core.commutative import FieldOp
from occ._core.steps import Applied, Missed, Stored, Write
from occ.mongo._commands import Op, _duplicate_index
from occ.mongo._mapping import OUTBOX_FIELD
from occ.sync._mongo_events import Plan, Written, integer, intercept

if TYPE_CHECKING:
    from occ.sync._mongo_outbox import MongoOutbox

__all__ = ["DELETED", "FIELD", "DeleteResult", "DocumentEvents", "is_deleted"]

FIELD = OUTBOX_FIELD
#: set on a deleted document until the relay has published its events and removed it.
DELETED = f"{FIELD}.deleted"
#: the filter of a document that is not such a tombstone.
_LIVE = {DELETED: {"$exists": False}}
#: how many times an insert meets a tombstone the relay removes under it before giving up.
_INSERT_TRIES = 3


def is_deleted(doc: Any) -> bool:
    """Whether ``doc`` is a deleted document waiting for the relay (a tombstone)."""
    box = doc.get(FIELD) if isinstance(doc, Mapping) else None
    return isinstance(box, Mapping) and "deleted" in box


@dataclass(frozen=True)
class DeleteResult:
    """What a tombstone update answers in place of ``delete_one``'s result."""

    deleted_count: int


def _with_ops(record: Mapping[str, Any], ops: Mapping[str, FieldOp]) -> dict[str, Any]:
    """The values the commutative operations ``ops`` give the fields of ``record``, as the
    server's ``$inc``, ``$addToSet``, ``$max`` and ``$min`` would."""
    out: dict[str, Any] = {}
    for name, op in ops.items():
        current = record.get(name)
        if op.kind == "inc":
            out[name] = (current or 0) + op.value
        elif op.kind == "add_to_set":
            items = list(current or ())
            for item in op.value:
                if item not in items:
                    items.append(item)
            out[name] = items
        elif current is None:
            out[name] = op.value
        else:
            out[name] = max(current, op.value) if op.kind == "max" else min(current, op.value)
    return out


class DocumentEvents:
    """The plans of one repository whose events ride in its documents."""

    def __init__(self, box: MongoOutbox) -> None:
        self.box = box
        self.docs = box.docs
        self.commands = box.commands

    # -- reads -------------------------------------------------------------------

    def hide_deleted(self, op: Op) -> Plan:
        """Perform ``op``; a tombstone it finds by key reads as ``None``."""
        result = yield op
        if op.name == "find_one" and not op.tombstones and is_deleted(result):
            return None
        return result

    def _live(self, doc: Any) -> Stored | None:
        return None if doc is None or is_deleted(doc) else self.docs.stored(doc)

    # -- writes ------------------------------------------------------------------

    def write_plan(self, step: Write, *, in_transaction: bool) -> Plan:
        """``step``'s command with its event in it; returns what the command plan returns."""
        if step.action == "commute":
            return (yield from self._commute(step, in_transaction=in_transaction))
        if step.action == "update" and step.base is None and self.box.outbox.full:
            # The event carries the whole new value: read it first.
            current = self._live((yield self.commands.read_raw(step.key)))
            if current is None or current.version != step.expected_version:
                return Missed()  # the write could not match: the flow classifies it
            step = replace(step, base=current.record)
        written = self._known(step)
        revived: list[int] = []

        def handle(op: Op) -> Plan:
            return (yield from self._perform(op, step, written, revived))

        inner = self.commands.write_plan(step, in_transaction=in_transaction)
        outcome = yield from intercept(inner, handle)
        if revived and isinstance(outcome, Applied):
            return replace(outcome, version=revived[0])
        return outcome

    def _known(self, step: Write) -> Written | None:
        """The event of an update or a delete (an insert's version is known at its command)."""
        if step.action == "insert":
            return None
        expected = integer(step.expected_version)
        if step.action == "delete":
            return self.box.written(
                step, version=expected, previous=expected, changes={}, value=None
            )
        value = None if step.base is None else {**step.base, **step.changes}
        return self.box.written(
            step,
            version=integer(step.new_version),
            previous=expected,
            changes=step.changes,
            value=value,
        )

    def _perform(self, op: Op, step: Write, written: Written | None, revived: list[int]) -> Plan:
        """Perform one op of the command plan, the event added to the write's command."""
        if op.tombstones or op.name == "find_one":
            return (yield op)
        if op.name == "insert_one":
            return (yield from self._insert(op, step, revived))
        assert written is not None
        live = {**op.args[0], **_LIVE}
        if op.name == "delete_one":
            result = yield Op("update_one", (live, self._tombstone(step, written)))
            return DeleteResult(result.matched_count)
        return (yield replace(op, args=(live, self._with_event(op.args[1], written))))

    def _with_event(self, update: Mapping[str, Any], written: Written) -> dict[str, Any]:
        """``update`` that also stores ``written`` among the document's pending events."""
        out = dict(update)
        sets = {f"{FIELD}.e.{written.event.id}": written.text, f"{FIELD}.p": written.partition}
        out["$set"] = {**update.get("$set", {}), **sets}
        out["$inc"] = {**update.get("$inc", {}), f"{FIELD}.n": 1}
        return out

    def _tombstone(self, step: Write, written: Written) -> dict[str, Any]:
        """The update that deletes a document: marked, its delete event pending."""
        return self._with_event({"$set": {DELETED: step.expected_version}}, written)

    def _insert(self, op: Op, step: Write, revived: list[int]) -> Plan:
        """Insert the document with its event; over a tombstone of its key, revive it."""
        doc = dict(op.args[0])
        version = int(doc[self.docs.version_field])
        token = doc[self.docs.token_field][0]
        taken: DuplicateKeyError | None = None
        for _ in range(_INSERT_TRIES):
            written = self.box.written(
                step, version=version, previous=None, changes=step.changes, value=step.changes
            )
            box = {"p": written.partition, "n": 1, "e": {written.event.id: written.text}}
            try:
                return (yield replace(op, args=({**doc, FIELD: box},)))
            except DuplicateKeyError as exc:
                if _duplicate_index(exc) == "other":
                    raise
                taken = exc
            found = yield self.commands.read_raw(step.key)
            if found is None:
                continue  # the relay removed a tombstone meanwhile: insert again
            if not is_deleted(found):
                raise taken  # the key is taken
            version = max(version, int(found.get(self.docs.version_field) or 0) + 1)
            written = self.box.written(
                step, version=version, previous=None, changes=step.changes, value=step.changes
            )
            result = yield Op("update_one", self._revival(step, found, written, token, version))
            if result.matched_count:
                revived.append(version)
                return None
        assert taken is not None
        raise taken

    def _revival(
        self, step: Write, found: Mapping[str, Any], written: Written, token: str, version: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Filter and update that turn the tombstone ``found`` into the inserted document."""
        docs = self.docs
        fixed = {"_id", docs.version_field, docs.token_field, FIELD, *docs.shard_key}
        changes = {k: v for k, v in step.changes.items() if k not in docs.shard_key}
        update = self.commands.update_doc(changes, None, version, token)
        stale = {name: "" for name in found if name not in fixed and name not in changes}
        update["$unset"] = {**stale, DELETED: ""}
        guard = {
            **self.commands.key_filter(step.key),
            docs.version_field: {"$eq": found.get(docs.version_field)},
            DELETED: {"$exists": True},
        }
        return guard, self._with_event(update, written)

    def _commute(self, step: Write, *, in_transaction: bool) -> Plan:
        """The commutative operations as a read and a conditional update with its event."""
        current = self._live((yield self.commands.read_raw(step.key)))
        if current is None:
            return Missed()
        update = Write(
            "update",
            step.key,
            current.version,
            self.docs.versions.next(current.version),
            _with_ops(current.record, step.changes),
            base=current.record,
            returning=True,
            token=step.token,
        )
        self.box.check(update)
        outcome = yield from self.write_plan(update, in_transaction=in_transaction)
        return Missed(serialization=True) if isinstance(outcome, Missed) else outcome
