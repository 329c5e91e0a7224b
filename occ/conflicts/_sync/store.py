# Generated from occ/conflicts/_async/store.py by scripts/unasync.py: edit that file.
"""What the SQL and MongoDB conflict stores share: reading and settling stored conflicts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from occ._core.flow import strict_writes
from occ.conflicts._records import StoredConflict, Take, plan_resolution
from occ.errors import NotFoundError

__all__ = ["StoreBase"]


class StoreBase(ABC):
    """A conflict store: a backend supplies the queries, the ``_``-prefixed methods."""

    @abstractmethod
    def _list(
        self, status: str | None, entity: str | None, limit: int | None, offset: int
    ) -> list[StoredConflict]:
        """The stored conflicts, oldest first, of one status and entity (``None``: any)."""

    @abstractmethod
    def _count(self, status: str | None, entity: str | None) -> int:
        """How many conflicts of one status and entity (``None``: any) are stored."""

    @abstractmethod
    def _find(self, conflict_id: str) -> StoredConflict | None:
        """The stored conflict with that id, or ``None``."""

    @abstractmethod
    def _mark_resolved(self, stored: StoredConflict, take: Take) -> None:
        """Set the stored conflict's status to resolved, if it has not changed since read."""

    def list(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[StoredConflict]:
        """Stored conflicts, oldest first, optionally of one status and entity."""
        return self._list(status, entity, limit, offset)

    def count(self, *, status: str | None = None, entity: str | None = None) -> int:
        """How many conflicts are stored (of one status and entity)."""
        return self._count(status, entity)

    def get(self, conflict_id: str) -> StoredConflict:
        """One stored conflict; :class:`~occ.NotFoundError` if there is none with that id."""
        found = self._find(conflict_id)
        if found is None:
            raise NotFoundError("conflict", conflict_id)
        return found

    def resolve(
        self,
        conflict_id: str,
        repository: Any,
        *,
        take: Take = "mine",
        values: Mapping[str, Any] | None = None,
    ) -> Any:
        """Settle a stored conflict: write mine, keep theirs, or write given values.

        The write goes through ``repository`` (of the conflict's entity) as a
        versioned update expecting the version stored when the conflict
        happened, with the entity's policy switched off: if the row moved since,
        :class:`~occ.ConflictError` is raised and the conflict stays open.

        Returns:
            The stored value after the resolution (a ``Versioned``, or ``None``
            for ``take="theirs"`` when the row was deleted).
        """
        record = self.get(conflict_id)
        writes = plan_resolution(record, take, values)
        c = record.conflict
        if writes is None:
            result = repository.find(c.key)
        else:
            with strict_writes():
                result = repository.update(
                    c.key, writes, expected_version=c.actual_version, base=c.theirs
                )
        self._mark_resolved(record, take)
        return result
