# Generated from occ/conflicts/_async/store.py by scripts/unasync.py: edit that file.
"""What the SQL and MongoDB conflict stores share: finding, settling and purging conflicts."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from occ._core.flow import strict_writes
from occ.conflicts._query import Filter, check_prefix, utcnow
from occ.conflicts._records import StoredConflict, plan_resolution
from occ.conflicts._settle import (
    Settled,
    already_settled,
    moved_under_reviewer,
    refuse_unrestorable,
)
from occ.errors import NotFoundError, ValidationError

__all__ = ["StoreBase"]


class StoreBase(ABC):
    """A conflict store: a backend supplies the queries, the ``_``-prefixed methods."""

    @abstractmethod
    def _list(self, where: Filter, limit: int | None, offset: int) -> list[StoredConflict]:
        """The stored conflicts matching ``where``, oldest first."""

    @abstractmethod
    def _count(self, where: Filter) -> int:
        """How many stored conflicts match ``where``."""

    @abstractmethod
    def _counts(self, where: Filter) -> dict[tuple[str, str], int]:
        """How many match ``where``, by ``(entity, status)``."""

    @abstractmethod
    def _find(self, conflict_id: str) -> StoredConflict | None:
        """The stored conflict with that id, or ``None``."""

    @abstractmethod
    def _ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` ids that start with ``prefix`` (hex digits)."""

    @abstractmethod
    def _mark_resolved(self, stored: StoredConflict, settled: Settled) -> bool:
        """Record the resolution, if the status has not changed since read; whether it did."""

    @abstractmethod
    def _delete(self, where: Filter) -> int:
        """Delete what matches ``where``; how many."""

    def list(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        where: Filter | None = None,
    ) -> list[StoredConflict]:
        """Stored conflicts, oldest first.

        Args:
            status: only this status (``open``: any not yet resolved).
            entity: only this entity.
            limit: at most this many (``None``: all).
            offset: skip this many first.
            where: a full :class:`~occ.conflicts.Filter` (ages, visible entities);
                ``status`` and ``entity`` narrow it further.
        """
        found = _narrow(where, status, entity)
        return [] if found.empty else self._list(found, limit, offset)

    def count(
        self, *, status: str | None = None, entity: str | None = None, where: Filter | None = None
    ) -> int:
        """How many conflicts are stored (of one status and entity, or matching ``where``)."""
        found = _narrow(where, status, entity)
        return 0 if found.empty else self._count(found)

    def counts(self, where: Filter | None = None) -> dict[tuple[str, str], int]:
        """How many conflicts match ``where``, by ``(entity, status)``."""
        found = where or Filter()
        return {} if found.empty else self._counts(found)

    def get(self, conflict_id: str) -> StoredConflict:
        """One stored conflict; :class:`~occ.NotFoundError` if there is none with that id."""
        found = self._find(conflict_id) if isinstance(conflict_id, str) else None
        if found is None:
            raise NotFoundError("conflict", conflict_id)
        return found

    def get_by_prefix(self, prefix: str) -> StoredConflict:
        """The one stored conflict whose id starts with ``prefix`` (for people typing ids).

        Raises:
            NotFoundError: none does.
            ValidationError: several ids start with it.
        """
        try:
            text = check_prefix(prefix)
        except ValidationError:  # no id holds anything but hex digits
            raise NotFoundError("conflict", prefix, f"no conflict with id {prefix!r}") from None
        ids = [text] if len(text) == 32 else self._ids_with_prefix(text, 6)
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise ValidationError(f"{prefix!r} is the start of several conflict ids: {shown}")
        if not ids:
            raise NotFoundError("conflict", prefix, f"no conflict with id {prefix!r}")
        return self.get(ids[0])

    def resolve(
        self,
        conflict_id: str,
        repository: Any,
        *,
        take: str = "mine",
        values: Mapping[str, Any] | None = None,
        expected_version: Any = None,
        by: str | None = None,
    ) -> Any:
        """Settle a stored conflict: write mine, keep theirs, or write given values.

        The write goes through ``repository`` (of the conflict's entity) as a
        versioned update, with the entity's policy switched off, expecting the
        version stored when the conflict happened, or ``expected_version`` when
        given (e.g. the version a reviewer was shown: taking mine over a row
        that moved since, once they saw it). If the row moved,
        :class:`~occ.ConflictError` is raised, nothing is written and the
        conflict stays open. ``take="theirs"`` writes nothing; with
        ``expected_version`` it is refused the same way when the row moved.

        Args:
            conflict_id: the conflict's full id.
            repository: a repository of the conflict's entity, of this store's mode.
            take: ``mine``, ``theirs`` or ``values``.
            values: the fields to write, for ``take="values"``.
            expected_version: the version the resolution is checked against.
            by: who resolves it (recorded with when and how).

        Returns:
            The stored value after the resolution (a ``Versioned``, or ``None``
            for ``take="theirs"`` when the row was deleted).
        """
        record = self.get(conflict_id)
        writes = plan_resolution(record, take, values)
        c = record.conflict
        expected = c.actual_version if expected_version is None else expected_version
        if writes is None:
            result = repository.find(c.key)
            if expected_version is not None:
                moved_under_reviewer(record, result, expected_version)
        else:
            refuse_unrestorable(record, writes, repository)
            with strict_writes():
                result = repository.update(c.key, writes, expected_version=expected, base=c.theirs)
        settled = Settled.of(
            record, take, by, expected, result, writes if take == "values" else None
        )
        if not self._mark_resolved(record, settled):
            already_settled(record, result)
        return result

    def dismiss(self, conflict_id: str, *, by: str | None = None) -> None:
        """Settle a conflict without writing or reading anything (``resolution="dismissed"``)."""
        record = self.get(conflict_id)
        if record.status == "resolved":
            raise ValidationError(f"conflict {record.id} is already resolved ({record.resolution})")
        if not self._mark_resolved(record, Settled.dismissed(by)):
            already_settled(record, None)

    def purge(self, older_than: Any, *, entities: Any = None) -> int:
        """Delete resolved conflicts settled more than ``older_than`` ago; how many.

        Args:
            older_than: a ``timedelta`` (or a UTC ``datetime``: settled before it).
            entities: only among these entities (``None``: every one).
        """
        cutoff = older_than if hasattr(older_than, "year") else utcnow() - older_than
        found = Filter(
            status="resolved",
            resolved_before=cutoff,
            entities=None if entities is None else frozenset(entities),
        )
        return 0 if found.empty else self._delete(found)


def _narrow(where: Filter | None, status: str | None, entity: str | None) -> Filter:
    found = where or Filter()
    if status is not None or entity is not None:
        found = dataclasses.replace(
            found,
            status=status if status is not None else found.status,
            entity=entity if entity is not None else found.entity,
        )
    return found
