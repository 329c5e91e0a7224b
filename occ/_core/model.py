"""The values the core passes around: versioned snapshots and conflicts."""

from __future__ import annotations

import copy
import datetime as _dt
import decimal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

__all__ = ["Action", "Conflict", "ConflictKind", "Record", "Version", "Versioned", "freeze"]

T = TypeVar("T")

#: A version is an integer counter or a strictly increasing timestamp.
Version = int | _dt.datetime
#: A record is the backend-neutral form of a value: field name -> stored value.
Record = Mapping[str, Any]
Action = Literal["update", "delete"]
ConflictKind = Literal["version", "deleted", "serialization"]

_IMMUTABLE = (
    str,
    int,
    float,
    bool,
    bytes,
    type(None),
    decimal.Decimal,
    uuid.UUID,
    _dt.datetime,
    _dt.date,
    _dt.time,
    _dt.timedelta,
    frozenset,
)


def freeze(record: Mapping[str, Any]) -> dict[str, Any]:
    """Copy a record deeply enough that mutating the user's value cannot alter it."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        out[name] = value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)
    return out


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    """A value as read from (or written to) the store, with its version.

    Attributes:
        value: the user's model instance, dataclass, pydantic model or dict.
        version: the version stored with it.
        key: its primary key (a tuple for composite keys).
        base: the fields as they were read, used by ``save`` to find what changed
            and by three-way merges; ``None`` means "unknown: write every field".
        outcome: what the write that returned it did: ``"written"``, ``"merged"``,
            ``"overwritten"``, ``"discarded"`` (``value`` is then what is stored, not
            what was sent), ``"unchanged"``, ``"retried"``, ``"commutative"``; ``"read"``
            for a value that was only read.
        based_on: the version the successful write expected (after a resolved
            conflict, the version it was resolved against); ``None`` for reads and
            writes that wrote nothing or checked no version.
        alerted: a conflict met on the way was persisted for a human to review.
    """

    value: T
    version: Version
    key: Any
    base: Record | None = field(default=None, repr=False, compare=False)
    outcome: str = field(default="read", kw_only=True, compare=False)
    based_on: Version | None = field(default=None, kw_only=True, compare=False)
    alerted: bool = field(default=False, kw_only=True, compare=False)

    @property
    def written(self) -> bool:
        """True when the value sent was stored (written, merged, overwritten, ...)."""
        return self.outcome not in ("read", "discarded", "unchanged")


@dataclass(frozen=True, slots=True)
class Conflict:
    """Everything known about a write that met another version than it expected.

    Attributes:
        entity: model or collection name.
        key: key of the row or document.
        action: ``"update"`` or ``"delete"``.
        kind: ``"version"`` (someone else wrote), ``"deleted"`` (the row is gone),
            or ``"serialization"`` (the database aborted the transaction).
        base: the fields the writer read, or ``None`` if it did not say.
        mine: what the writer tried to store: ``base`` overlaid with ``changes``,
            or only ``changes`` when ``base`` is unknown.
        changes: the fields the writer changed.
        theirs: the fields stored now, ``None`` if deleted or unknown.
        expected_version: the version the writer expected.
        actual_version: the version stored now, ``None`` if deleted or unknown.
        attempt: 1 for the first write, then 2, 3, ... on retries.
    """

    entity: str
    key: Any
    action: Action
    kind: ConflictKind
    base: Record | None
    mine: Record
    changes: Record
    theirs: Record | None
    expected_version: Version | None
    actual_version: Version | None
    attempt: int

    @property
    def deleted(self) -> bool:
        """True when the row was deleted under the writer."""
        return self.kind == "deleted"

    def describe(self) -> str:
        """One line for logs and error messages."""
        if self.kind == "deleted":
            return (
                f"{self.entity} {self.key!r} was deleted after it was read "
                f"at version {self.expected_version!r} ({self.action}, attempt {self.attempt})"
            )
        if self.kind == "serialization":
            return (
                f"{self.entity} {self.key!r}: the database aborted the {self.action} "
                f"at version {self.expected_version!r} as a serialization conflict "
                f"(attempt {self.attempt}); read it again and retry"
            )
        return (
            f"{self.entity} {self.key!r} is at version {self.actual_version!r}, "
            f"not {self.expected_version!r} ({self.action}, attempt {self.attempt}); "
            "read it again, or pick a conflict policy"
        )
