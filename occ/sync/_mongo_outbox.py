"""The outbox on MongoDB: each write's change event, atomically with the write (pure).

A repository with an outbox keeps each event in one of two places
(``Outbox(mongo=...)``), both atomic with the versioned write:

- ``collection``: a document of the outbox collection (``occ_outbox``),
  inserted in the same transaction as the write — the repository's own
  transaction, or the caller's. Needs a replica set or a sharded cluster.
  Three commands per write (the write, the insert, the commit).
- ``document``: the event rides in the written document itself, set by the
  same conditional update (see :mod:`occ.sync._mongo_document`): one command
  per write, on any server, standalone ones too.

Both wrap the plans of :class:`occ.mongo._commands.Commands`: the commands
of the write are built there, as without an outbox; this module adds the
event to them. A write that writes nothing (a miss, a discarded conflict, an
unchanged ``save``) records nothing. An event is checked before anything is
sent: a key or a value an event cannot carry raises
:class:`~occ.ValidationError` and writes nothing.

MongoDB has no commit-order sequence to give events a ``position``: per key,
the version orders them (a relay publishes a key's events by version).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from occ._core.steps import Applied, Write
from occ.errors import ValidationError
from occ.mongo._commands import Commands, Op
from occ.mongo._mapping import DocumentMap
from occ.sync._event import Event, dumps, encode, key_text, new_id
from occ.sync._mongo_document import DocumentEvents
from occ.sync._mongo_events import PENDING, Plan, Written, integer, intercept, order_of
from occ.sync._outbox import Outbox, headers_of, partition_of

__all__ = ["MongoOutbox"]


class MongoOutbox:
    """The change events of one repository's writes.

    Args:
        outbox: the entity's outbox configuration.
        docs: the repository's document mapping.
        commands: the repository's commands (whose plans this wraps).
        collection: the name of the repository's collection (the default entity name).
    """

    def __init__(
        self, outbox: Outbox, docs: DocumentMap, commands: Commands, collection: str
    ) -> None:
        self.outbox = outbox
        self.docs = docs
        self.commands = commands
        self.name = outbox.entity or collection
        #: ``"collection"`` or ``"document"`` once known (``Outbox(mongo="auto")`` asks the
        #: server at the first write).
        self.mode: str | None = None if outbox.mongo == "auto" else outbox.mongo
        self.document = DocumentEvents(self)

    # -- events -------------------------------------------------------------------

    def event_key(self, key: Any) -> Any:
        """The key as events carry it: a string or an integer (an ``ObjectId`` as its hex).

        Raises:
            ValidationError: any other key (a replica could not hold it as it is).
        """
        if isinstance(key, str) or (type(key) is int):
            return key
        if type(key).__name__ == "ObjectId":
            return str(key)
        raise ValidationError(
            f"{self.name}: an outbox event's key is a string, an integer or an ObjectId; "
            f"{key!r} is a {type(key).__name__}"
        )

    def check(self, step: Write) -> None:
        """Refuse, before anything is sent, a write whose event could not be encoded."""
        self.event_key(step.key)
        if step.action in ("insert", "update"):
            try:
                dumps(step.changes)
            except TypeError as exc:
                raise ValidationError(f"{self.name}: {exc}") from None

    def written(
        self,
        step: Write,
        *,
        version: int,
        previous: int | None,
        changes: Mapping[str, Any],
        value: Mapping[str, Any] | None,
    ) -> Written:
        """The event of ``step`` (:class:`~occ.ValidationError` if it cannot be encoded)."""
        key = self.event_key(step.key)
        event = Event(
            id=new_id(),
            entity=self.name,
            key=key,
            version=version,
            previous=previous,
            operation="update" if step.action == "commute" else step.action,
            changes=dict(changes),
            value=None if value is None or not self.outbox.full else dict(value),
            headers=headers_of(self.outbox) or {},
        )
        try:
            text = encode(event).decode()
        except TypeError as exc:
            raise ValidationError(f"{self.name}: {exc}") from None
        return Written(event, text, partition_of(self.name, key_text(key)))

    def _applied(self, step: Write, applied: Applied) -> Written:
        """The event of a write that applied (``applied.record``: the document, if read)."""
        version = integer(applied.version)
        if step.action == "insert":
            return self.written(
                step, version=version, previous=None, changes=step.changes, value=step.changes
            )
        if step.action == "delete":
            return self.written(step, version=version, previous=version, changes={}, value=None)
        record = applied.record
        if step.action == "commute":
            assert record is not None
            changes = {name: record.get(name) for name in step.changes}
            return self.written(
                step, version=version, previous=version - 1, changes=changes, value=record
            )
        if step.base is not None:
            record = {**step.base, **step.changes}
        return self.written(
            step,
            version=version,
            previous=integer(step.expected_version),
            changes=step.changes,
            value=record,
        )

    def collection_document(self, written: Written) -> dict[str, Any]:
        """The document of the outbox collection that holds ``written`` until it is published."""
        event = written.event
        return {
            "_id": event.id,
            "partition_no": written.partition,
            "entity": event.entity,
            "entity_key": key_text(event.key),
            "version": event.version,
            "order": order_of(event),
            "created": time.time(),
            "published_at": PENDING,
            "event": written.text,
        }

    # -- plans --------------------------------------------------------------------

    def read_plan(self, inner: Plan) -> Plan:
        """``inner`` (a read by key), a deleted document awaiting its relay read as absent."""
        return (yield from intercept(inner, self.document.hide_deleted))

    def write_plan(self, step: Write, *, mode: str, in_transaction: bool) -> Plan:
        """The write of ``step`` and its event (``mode``: ``collection`` or ``document``)."""
        self.check(step)
        if mode == "document":
            return (yield from self.document.write_plan(step, in_transaction=in_transaction))
        return (yield from self._collection_plan(step, in_transaction=in_transaction))

    def _collection_plan(self, step: Write, *, in_transaction: bool) -> Plan:
        """The write, then (when it applied) its event's insert into the outbox collection.

        The driver runs both in one transaction. An update whose whole new
        value is not known returns its document (``find_one_and_update``, no
        extra command) so the event can carry it.
        """
        if self.outbox.full and step.action == "update" and step.base is None:
            step = replace(step, returning=True)
        applied = yield from self.commands.write_plan(step, in_transaction=in_transaction)
        if not isinstance(applied, Applied) or (step.action == "update" and not step.changes):
            return applied
        written = self._applied(step, applied)
        yield Op("insert_one", (self.collection_document(written),), outbox=True)
        return applied
