"""What stores and sinks receive: conflict events and stored conflict records (pure).

Values are kept as archive JSON text (:mod:`occ.conflicts._archive`), which
restores every value exactly, so a stored ``mine`` is written back exactly by
``resolve``; a value it cannot restore is refused when the conflict is
stored (:class:`ArchiveError`, which carries the conflict).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from occ._core.model import Conflict, Version
from occ.conflicts import _archive
from occ.errors import ConflictError, ValidationError

__all__ = [
    "ArchiveError",
    "ConflictEvent",
    "Status",
    "StoredConflict",
    "Take",
    "decode",
    "encode",
    "new_id",
    "plan_resolution",
    "to_jsonable",
]

#: ``pending`` (alerted, awaiting review), ``discarded`` (archived by Discard),
#: ``overwritten`` (theirs, archived by Overwrite), ``resolved`` (settled by resolve()).
Status = Literal["pending", "discarded", "overwritten", "resolved"]
#: what :meth:`resolve` writes: my changes, nothing (theirs stays), or given values.
Take = Literal["mine", "theirs", "values"]


class ArchiveError(ConflictError, ValidationError):
    """A conflict holds a value a conflict store cannot restore exactly.

    Raised when the conflict is stored, so the write that met it fails with
    this error (nothing is written, nothing is silently lost): it is a
    :class:`~occ.ConflictError` carrying the whole conflict, and a
    :class:`~occ.ValidationError` naming the value.

    Attributes:
        conflict: the conflict that could not be stored.
        path: where the value is, e.g. ``mine.meta[2]``.
    """

    def __init__(self, conflict: Conflict, path: str, message: str) -> None:
        self.path = path
        super().__init__(
            conflict, f"cannot store the conflict on {conflict.entity} {conflict.key!r}: {message}"
        )


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data for display and logs (lossy: never read back)."""
    if isinstance(value, enum.Enum | _archive.ArchivedEnum):
        return (
            f"{type(value).__name__}.{value.name}" if isinstance(value, enum.Enum) else str(value)
        )
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset):
        items = [to_jsonable(v) for v in value]
        return {"$set": sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, tuple):
        return {"$tuple": [to_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return {"$repr": repr(value)}


def encode(value: Any, *, path: str = "value") -> str:
    """Archive JSON text of ``value`` (see :mod:`occ.conflicts._archive`).

    Raises:
        occ.conflicts._archive.Unarchivable: a value that would not read back exactly.
    """
    return _archive.dumps(value, path=path)


def decode(text: str | None) -> Any:
    """The value :func:`encode` wrote (``None`` for ``None``)."""
    return _archive.loads(text)


def new_id() -> str:
    """A fresh conflict id: 32 hex digits."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ConflictEvent:
    """What a sink is told about one resolved conflict.

    Attributes:
        conflict: the conflict itself.
        outcome: the decision's label (``merged``, ``discarded``, ``raised``, ...).
        details: the decision's details (a merge's per-field entries, ...).
        conflict_id: its id in the conflict store, when one persisted it.
    """

    conflict: Conflict
    outcome: str
    details: Mapping[str, Any] = field(default_factory=dict)
    conflict_id: str | None = None

    def fields(self) -> dict[str, Any]:
        """Flat, JSON-friendly fields for structured logs."""
        c = self.conflict
        return {
            "occ_conflict_id": self.conflict_id,
            "occ_entity": c.entity,
            "occ_key": to_jsonable(c.key),
            "occ_action": c.action,
            "occ_kind": c.kind,
            "occ_outcome": self.outcome,
            "occ_expected_version": to_jsonable(c.expected_version),
            "occ_actual_version": to_jsonable(c.actual_version),
            "occ_attempt": c.attempt,
            "occ_changed_fields": sorted(c.changes),
        }


@dataclass(frozen=True)
class StoredConflict:
    """A conflict as a conflict store keeps it.

    Attributes:
        id: the store's id for it (32 random hex digits).
        status: ``pending``, ``discarded``, ``overwritten`` or ``resolved``.
        decision: the label of the decision taken when it happened.
        conflict: the conflict (entity, key, base, mine, changes, theirs, versions).
        details: the decision's details (a merge's per-field entries, ...).
        created_at: when it was stored (UTC, naive).
        resolved_at: when it was settled, if it was (UTC, naive).
        resolution: how it was settled: ``mine``, ``theirs``, ``values`` or ``dismissed``.
        resolved_by: who settled it (the reviewer's name, ``cli:USER``, ...).
        resolution_detail: what was done: ``expected_version`` (the version the
            resolution was checked against), ``version`` (the one it left),
            ``forced`` (mine taken at a later version than the conflict's),
            ``values`` (what was written for ``values``).
    """

    id: str
    status: str
    decision: str
    conflict: Conflict
    details: Mapping[str, Any]
    created_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolution: str | None = None
    resolved_by: str | None = None
    resolution_detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def entity(self) -> str:
        """The entity the conflict happened on."""
        return self.conflict.entity

    @property
    def key(self) -> Any:
        """The key of the row or document."""
        return self.conflict.key

    @property
    def is_open(self) -> bool:
        """True until the conflict is resolved or dismissed."""
        return self.status != "resolved"


def conflict_columns(
    conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
) -> dict[str, Any]:
    """The columns (fields) of a stored conflict, values as archive JSON text.

    Raises:
        ArchiveError: a value of the conflict would not read back exactly.
    """
    try:
        row = {
            "entity_key": encode(conflict.key, path="key"),
            "base": encode(conflict.base, path="base"),
            "mine": encode(conflict.mine, path="mine"),
            "changes": encode(conflict.changes, path="changes"),
            "theirs": encode(conflict.theirs, path="theirs"),
            "expected_version": encode(conflict.expected_version, path="expected_version"),
            "actual_version": encode(conflict.actual_version, path="actual_version"),
        }
    except _archive.Unarchivable as exc:
        raise ArchiveError(conflict, exc.path, str(exc)) from exc
    return {
        **row,
        "entity": conflict.entity,
        "action": conflict.action,
        "kind": conflict.kind,
        "status": status,
        "decision": decision,
        "attempt": conflict.attempt,
        "details": _details(details),
    }


def _details(details: Mapping[str, Any]) -> str:
    """The decision's details: informational, so shown as text when not archivable."""
    try:
        return encode(details, path="details")
    except _archive.Unarchivable:
        return encode(to_jsonable(details))


def from_columns(row: Mapping[str, Any]) -> StoredConflict:
    """A :class:`StoredConflict` from the columns :func:`conflict_columns` wrote."""
    key = decode(row["entity_key"])
    if isinstance(key, list):  # archived before tuples were tagged
        key = tuple(key)
    conflict = Conflict(
        entity=row["entity"],
        key=key,
        action=row["action"],
        kind=row["kind"],
        base=decode(row["base"]),
        mine=decode(row["mine"]),
        changes=decode(row["changes"]),
        theirs=decode(row["theirs"]),
        expected_version=_version(decode(row["expected_version"])),
        actual_version=_version(decode(row["actual_version"])),
        attempt=row["attempt"],
    )
    return StoredConflict(
        id=row["id"],
        status=row["status"],
        decision=row["decision"],
        conflict=conflict,
        details=decode(row["details"]) or {},
        created_at=row["created_at"],
        resolved_at=row.get("resolved_at"),
        resolution=row.get("resolution"),
        resolved_by=row.get("resolved_by"),
        resolution_detail=decode(row.get("resolution_detail")) or {},
    )


def _version(value: Any) -> Version | None:
    return value if isinstance(value, int | dt.datetime) else None


def plan_resolution(
    record: StoredConflict, take: str, values: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The values a resolution writes (``None`` for ``theirs``), after checks.

    Raises:
        ValidationError: the conflict is settled already, ``take`` is unknown, or
            there is nothing to write against (a delete conflict).
    """
    if record.status == "resolved":
        raise ValidationError(f"conflict {record.id} is already resolved ({record.resolution})")
    if take not in ("mine", "theirs", "values"):
        raise ValidationError(f"take must be 'mine', 'theirs' or 'values', got {take!r}")
    if (take == "values") != (values is not None):
        raise ValidationError("pass values= exactly when take='values'")
    if take == "theirs":
        return None
    if record.conflict.action != "update" or record.conflict.actual_version is None:
        raise ValidationError(
            f"conflict {record.id} ({record.conflict.kind}, {record.conflict.action}) has no "
            "stored version to write against; only take='theirs' can settle it"
        )
    return dict(record.conflict.changes) if take == "mine" else dict(values or {})
