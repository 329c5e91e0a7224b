"""How a settled conflict is recorded, and the checks around settling one (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from occ._core.model import Conflict
from occ.conflicts._archive import is_restorable
from occ.conflicts._records import StoredConflict
from occ.errors import ConflictError, ValidationError

__all__ = [
    "Settled",
    "StaleResolutionError",
    "already_settled",
    "moved_under_reviewer",
    "refuse_unrestorable",
]


class StaleResolutionError(ConflictError):
    """Keeping theirs was refused: the row moved since the reviewer saw it.

    ``conflict.theirs`` and ``conflict.actual_version`` hold what is stored now.
    """


@dataclass(frozen=True)
class Settled:
    """Who settled a conflict, how, and what it left.

    Attributes:
        resolution: ``mine``, ``theirs``, ``values`` or ``dismissed``.
        by: who (``None``: not said).
        detail: ``expected_version``, ``version``, ``forced``, ``values``.
    """

    resolution: str
    by: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        record: StoredConflict,
        take: str,
        by: str | None,
        expected: Any,
        result: Any,
        values: Mapping[str, Any] | None,
    ) -> Settled:
        """The record of a resolution that wrote (or kept) ``result``."""
        detail: dict[str, Any] = {
            "expected_version": expected,
            "version": getattr(result, "version", None),
            "forced": take != "theirs" and expected != record.conflict.actual_version,
        }
        if values is not None:
            detail["values"] = dict(values)
        return cls(take, by, detail)

    @classmethod
    def dismissed(cls, by: str | None) -> Settled:
        """The record of a dismissal (nothing read, nothing written)."""
        return cls("dismissed", by, {})


def moved_under_reviewer(record: StoredConflict, current: Any, expected: Any) -> None:
    """Refuse keeping theirs when the row is no longer at the version the reviewer saw.

    Raises:
        StaleResolutionError: it moved (or was deleted).
    """
    now = None if current is None else current.version
    if now == expected:
        return
    c = record.conflict
    theirs = None if current is None else dict(current.base or {})
    moved = Conflict(
        entity=c.entity,
        key=c.key,
        action="update",
        kind="deleted" if current is None else "version",
        base=c.theirs,
        mine=c.theirs or {},
        changes={},
        theirs=theirs,
        expected_version=expected,
        actual_version=now,
        attempt=1,
    )
    raise StaleResolutionError(moved)


def refuse_unrestorable(record: StoredConflict, writes: Mapping[str, Any], repository: Any) -> None:
    """Refuse writing values the archive could not restore (an enum whose class is not loaded).

    A repository that converts such values itself says so with ``accepts_archived = True``.

    Raises:
        ValidationError: a value cannot be written back as it was.
    """
    if getattr(repository, "accepts_archived", False) or is_restorable(dict(writes)):
        return
    raise ValidationError(
        f"conflict {record.id}: a value to write is an enum member whose class is not imported "
        "in this process, or a value archived as text by an older occ; import the module that "
        "defines it (occ conflicts: --model module:Class) and resolve again"
    )


def already_settled(record: StoredConflict, result: Any) -> None:
    """Report that someone else settled the conflict while this resolution ran.

    Raises:
        ValidationError: always; what this resolution wrote (if anything) stands.
    """
    left = "" if result is None else f" (this resolution left it at version {result.version})"
    raise ValidationError(f"conflict {record.id} was settled by someone else meanwhile{left}")
