"""Which stored conflicts a listing, a count, a bulk action or a purge is about (pure)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass

from occ.errors import ValidationError

__all__ = ["OPEN", "STATUSES", "Filter", "check_prefix", "parse_age", "utcnow"]

#: the pseudo status of every conflict not yet resolved (pending, discarded, overwritten).
OPEN = "open"
#: the statuses a filter may name.
STATUSES = (OPEN, "pending", "discarded", "overwritten", "resolved")

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_HEX = re.compile(r"^[0-9a-f]+$")


def utcnow() -> dt.datetime:
    """Now, in UTC, naive (how stores keep their times)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def parse_age(text: str) -> dt.timedelta:
    """``"30d"``, ``"12h"``, ``"15m"``, ``"90s"``, ``"2w"`` as a ``timedelta``.

    Raises:
        ValidationError: anything else.
    """
    found = _AGE.match(text)
    if found is None:
        raise ValidationError(
            f"an age is a number and a unit (s, m, h, d, w), such as 30d or 12h; got {text!r}"
        )
    return dt.timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def check_prefix(prefix: str) -> str:
    """A conflict id prefix, lower-cased; ids are hex digits.

    Raises:
        ValidationError: it holds anything but hex digits, or is empty.
    """
    text = prefix.strip().lower()
    if not _HEX.match(text) or len(text) > 32:
        raise ValidationError(f"a conflict id is up to 32 hex digits, got {prefix!r}")
    return text


@dataclass(frozen=True)
class Filter:
    """Conflicts of a status, entity and age, among the entities a reviewer may see.

    Attributes:
        status: one of :data:`STATUSES` (``open``: not resolved), or ``None`` for any.
        entity: only this entity, or ``None`` for any.
        entities: the entities that may be shown at all (``None``: every one).
        created_before: only conflicts stored before this time (UTC, naive).
        created_after: only conflicts stored after this time (UTC, naive).
        resolved_before: only conflicts settled before this time (purge).
        ids: only these ids.
    """

    status: str | None = None
    entity: str | None = None
    entities: frozenset[str] | None = None
    created_before: dt.datetime | None = None
    created_after: dt.datetime | None = None
    resolved_before: dt.datetime | None = None
    ids: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValidationError(
                f"status must be one of {', '.join(STATUSES)}, got {self.status!r}"
            )

    @classmethod
    def of(
        cls,
        *,
        status: str | None = None,
        entity: str | None = None,
        entities: Collection[str] | None = None,
        older_than: dt.timedelta | None = None,
        newer_than: dt.timedelta | None = None,
        ids: Collection[str] | None = None,
    ) -> Filter:
        """A filter from ages relative to now (``older_than=timedelta(days=1)``, ...)."""
        now = utcnow()
        return cls(
            status=status,
            entity=entity,
            entities=None if entities is None else frozenset(entities),
            created_before=None if older_than is None else now - older_than,
            created_after=None if newer_than is None else now - newer_than,
            ids=None if ids is None else frozenset(ids),
        )

    @property
    def empty(self) -> bool:
        """True when nothing can match (no visible entity, or no id)."""
        hidden = self.entities is not None and (
            not self.entities or (self.entity is not None and self.entity not in self.entities)
        )
        return hidden or (self.ids is not None and not self.ids)
