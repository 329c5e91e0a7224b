"""The change event: what the outbox records, the relay publishes and a replica applies.

An event is encoded as one JSON object (UTF-8 bytes) whose values are JSON,
with datetimes, dates and times as ISO 8601 strings, decimals and UUIDs as
strings, bytes as ``"\\x"`` + hex (the spelling PostgreSQL's ``to_json``
uses), and MongoDB's ``ObjectId`` and ``Decimal128`` as strings.
:func:`decode` checks every field and raises :class:`EventError` naming the
first one that is wrong: consumers dead-letter such events.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from occ.errors import OCCError, ValidationError

__all__ = ["Event", "EventError", "Operation", "PushError", "decode", "dumps", "encode", "key_text"]

Operation = Literal["insert", "update", "delete"]
OPERATIONS: tuple[str, ...] = ("insert", "update", "delete")


class EventError(ValidationError):
    """An event that cannot be applied as it is: missing or ill-typed fields, an unknown
    entity, a key of the wrong shape, a payload that does not fit the model.

    Nothing was written. Attributes: ``event`` (the decoded event, or ``None``) and
    ``reason`` (one line, the dead-letter reason).
    """

    def __init__(self, reason: str, event: Event | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event = event


class PushError(OCCError):
    """A push did not reach the replica (after every retry), or it answered 409 ``gap``.

    Attributes: ``status`` (the last HTTP status, ``None`` without an answer).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Event:
    """One versioned change of one entity.

    Attributes:
        id: unique id (32 hex digits); brokers that de-duplicate use it.
        entity: the source entity (table or collection name).
        key: the entity's key (composite keys are lists).
        version: the version after the write; for a delete, the last version
            the row had (the replica keeps it as a tombstone).
        previous: the version before the write (``None`` for an insert).
        operation: ``insert``, ``update`` or ``delete``.
        changes: the fields the write set, by field name.
        value: the whole new value (``None`` for a delete, or when the outbox
            records changes only).
        timestamp: when the write ran (UTC).
        position: where the event stands in its outbox (its row id: per key it
            follows commit order; ``None`` before the outbox assigned one).
        headers: free text headers (trace context, ...).
    """

    id: str
    entity: str
    key: Any
    version: int
    previous: int | None
    operation: Operation
    changes: Mapping[str, Any] = field(default_factory=dict)
    value: Mapping[str, Any] | None = None
    timestamp: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    position: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        """Whether this event deletes its key."""
        return self.operation == "delete"

    @property
    def order(self) -> tuple[int, int]:
        """What makes one event of a key newer than another: the version, and a delete
        after the live row of the same version."""
        return (self.version, 1 if self.deleted else 0)


def new_id() -> str:
    """A fresh event id."""
    return uuid.uuid4().hex


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if type(value).__module__.startswith("bson"):  # MongoDB's own scalars, as text
        if type(value).__name__ == "ObjectId":
            return str(value)
        if type(value).__name__ == "Decimal128":
            return str(value.to_decimal())
    raise TypeError(f"a value of type {type(value).__name__} cannot go into an event")


def dumps(value: Any) -> str:
    """``value`` as compact JSON text, with the event encoding of non-JSON types."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def key_text(key: Any) -> str:
    """A key as stable text (composite keys as JSON lists), as tombstones spell it."""
    parts = list(key) if isinstance(key, tuple | list) else [key]
    return dumps(parts)


def as_dict(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready mapping."""
    return {
        "id": event.id,
        "entity": event.entity,
        "key": list(event.key) if isinstance(event.key, tuple) else event.key,
        "version": event.version,
        "previous": event.previous,
        "operation": event.operation,
        "changes": dict(event.changes),
        "value": None if event.value is None else dict(event.value),
        "timestamp": event.timestamp.isoformat(),
        "position": event.position,
        "headers": dict(event.headers),
    }


def encode(event: Event) -> bytes:
    """The event as UTF-8 JSON bytes."""
    return dumps(as_dict(event)).encode()


def _int(data: Mapping[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = data.get(name)
    if value is None and optional:
        return None
    if type(value) is not int or value < 0:
        raise EventError(f"event field {name!r} must be a non-negative integer, got {value!r}")
    return value


def _mapping(data: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise EventError(f"event field {name!r} must be an object, got {value!r}")
    return value


def _key(value: Any) -> Any:
    if isinstance(value, list):
        if not value or not all(isinstance(p, str | int) and type(p) is not bool for p in value):
            raise EventError(f"event key must be a string, an integer or a list of them: {value!r}")
        return tuple(value) if len(value) > 1 else value[0]
    if isinstance(value, str | int) and type(value) is not bool:
        return value
    raise EventError(f"event key must be a string, an integer or a list of them: {value!r}")


def from_dict(data: Any) -> Event:
    """An event from its JSON mapping, every field checked (:class:`EventError`)."""
    if not isinstance(data, Mapping):
        raise EventError(f"an event is a JSON object, got {type(data).__name__}")
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        raise EventError(f"event field 'id' must be a string of 1-64 characters: {event_id!r}")
    entity = data.get("entity")
    if not isinstance(entity, str) or not entity:
        raise EventError(f"event field 'entity' must be a non-empty string: {entity!r}")
    operation = data.get("operation")
    if operation not in OPERATIONS:
        raise EventError(f"event field 'operation' must be one of {OPERATIONS}: {operation!r}")
    version = _int(data, "version")
    assert version is not None
    previous = _int(data, "previous", optional=True)
    if previous is not None and previous >= version and operation != "delete":
        raise EventError(f"event version {version} is not after its previous version {previous}")
    stamp = data.get("timestamp")
    try:
        timestamp = dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        timestamp = None
    if timestamp is None:
        raise EventError(f"event field 'timestamp' must be an ISO 8601 datetime: {stamp!r}")
    headers = _mapping(data, "headers", optional=True) or {}
    if not all(isinstance(v, str) for v in headers.values()):
        raise EventError("event headers must map names to strings")
    position = data.get("position")
    if position is not None and type(position) is not int:
        raise EventError(f"event field 'position' must be an integer: {position!r}")
    return Event(
        id=event_id,
        entity=entity,
        key=_key(data.get("key")),
        version=version,
        previous=previous,
        operation=operation,
        changes=_mapping(data, "changes", optional=True) or {},
        value=_mapping(data, "value", optional=True),
        timestamp=timestamp,
        position=position,
        headers=dict(headers),
    )


def decode(data: bytes | str) -> Event:
    """An event from its JSON bytes, every field checked.

    Raises:
        EventError: not JSON, or a field is missing or of the wrong type.
    """
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventError(f"an event must be JSON: {exc}") from None
    return from_dict(parsed)
