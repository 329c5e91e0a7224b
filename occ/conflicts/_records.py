"""What stores and sinks receive: conflict events and stored conflict records (pure).

Values are kept as JSON text in stores, with tags for the types JSON lacks
(``datetime``, ``date``, ``time``, ``Decimal``, ``UUID``, ``bytes``, sets), so
a stored ``mine`` can be written back exactly by :meth:`resolve`.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from occ._core.model import Conflict, Version
from occ.errors import ValidationError

__all__ = [
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

_TAGS = ("$datetime", "$date", "$time", "$decimal", "$uuid", "$bytes", "$set", "$tuple")


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data, with tags for non-JSON types."""
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


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_jsonable(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in _TAGS:
            return _untag(tag, inner)
        if tag == "$repr":
            return inner
    return {k: _from_jsonable(v) for k, v in value.items()}


def _untag(tag: str, inner: Any) -> Any:
    if tag == "$datetime":
        return dt.datetime.fromisoformat(inner)
    if tag == "$date":
        return dt.date.fromisoformat(inner)
    if tag == "$time":
        return dt.time.fromisoformat(inner)
    if tag == "$decimal":
        return decimal.Decimal(inner)
    if tag == "$uuid":
        return uuid.UUID(inner)
    if tag == "$bytes":
        return base64.b64decode(inner)
    if tag == "$set":
        return {_from_jsonable(v) for v in inner}
    return tuple(_from_jsonable(v) for v in inner)


def encode(value: Any) -> str:
    """JSON text of ``value`` (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(value), sort_keys=True)


def decode(text: str | None) -> Any:
    """The value :func:`encode` wrote (``None`` for ``None``)."""
    return None if text is None else _from_jsonable(json.loads(text))


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
        id: the store's id for it.
        status: ``pending``, ``discarded``, ``overwritten`` or ``resolved``.
        decision: the label of the decision taken when it happened.
        conflict: the conflict (entity, key, base, mine, changes, theirs, versions).
        details: the decision's details (a merge's per-field entries, ...).
        created_at: when it was stored (UTC).
        resolved_at: when :meth:`resolve` settled it, if it did.
        resolution: ``mine``, ``theirs`` or ``values``, once resolved.
    """

    id: str
    status: str
    decision: str
    conflict: Conflict
    details: Mapping[str, Any]
    created_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolution: str | None = None

    @property
    def entity(self) -> str:
        """The entity the conflict happened on."""
        return self.conflict.entity

    @property
    def key(self) -> Any:
        """The key of the row or document."""
        return self.conflict.key


def conflict_columns(
    conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
) -> dict[str, Any]:
    """The columns (fields) of a stored conflict, values encoded as JSON text."""
    return {
        "entity": conflict.entity,
        "entity_key": encode(conflict.key),
        "action": conflict.action,
        "kind": conflict.kind,
        "status": status,
        "decision": decision,
        "base": encode(conflict.base),
        "mine": encode(conflict.mine),
        "changes": encode(conflict.changes),
        "theirs": encode(conflict.theirs),
        "expected_version": encode(conflict.expected_version),
        "actual_version": encode(conflict.actual_version),
        "attempt": conflict.attempt,
        "details": encode(details),
    }


def from_columns(row: Mapping[str, Any]) -> StoredConflict:
    """A :class:`StoredConflict` from the columns :func:`conflict_columns` wrote."""
    key = decode(row["entity_key"])
    if isinstance(key, list):
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
    created = row["created_at"]
    return StoredConflict(
        id=row["id"],
        status=row["status"],
        decision=row["decision"],
        conflict=conflict,
        details=decode(row["details"]) or {},
        created_at=created,
        resolved_at=row.get("resolved_at"),
        resolution=row.get("resolution"),
    )


def _version(value: Any) -> Version | None:
    return value if isinstance(value, int | dt.datetime) else None


def plan_resolution(
    record: StoredConflict, take: Take, values: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The values a resolution writes (``None`` for ``theirs``), after checks."""
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
