# Generated from occ/testing/_memory_async.py by scripts/unasync.py: edit that file, not this one.
"""``occ.testing.InMemoryRepository``: the synchronous driver of the core flows over a dict.

Generated from ``occ/testing/_memory_async.py`` by ``scripts/unasync.py``;
the storage, validation and flows live in :mod:`occ.testing._memory`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ._core.flow import Flow
from occ._core.model import Versioned
from occ._core.steps import Applied
from occ._drive import run_sync
from occ.testing._memory import MemoryBase, Value

__all__ = ["InMemoryRepository"]


class InMemoryRepository(MemoryBase):
    """The repository contract over a dict: same flows, conflicts and policies as SQL.

    Args:
        key: the field of each value (a dict) that holds its key.
        policy: the conflict resolver; default: the one registered for ``name``
            in :mod:`occ.policies`, else :class:`~occ.resolvers.Raise`.
        retry: attempts and backoff for resolved writes and ``modify``.
        version_field: the field a value read back carries its version in.
        name: the entity name used in errors and conflicts.
        on_point: called with each named yield point (tests and schedulers).
    """

    def _run(self, flow: Flow) -> Applied:
        return run_sync(
            flow,
            read=self._read,
            write=self._write,
            on_point=self._on_point,
            where="occ.testing",
        )

    def find(self, key: Any) -> Versioned[Value] | None:
        """The current value and version under ``key``, or ``None``."""
        return self._find(key)

    def get(self, key: Any) -> Versioned[Value]:
        """The current value and version under ``key``; :class:`NotFoundError` if absent."""
        return self._get_or_raise(key, self._find(key))

    def insert(self, value: Value) -> Versioned[Value]:
        """Insert ``value`` at version 1; :class:`AlreadyExistsError` if the key is taken."""
        return self._result(self._run(self._insert_flow(value)))

    def update(
        self, key: Any, changes: dict[str, Any], *, expected_version: Any, base: Any = None
    ) -> Versioned[Value]:
        """Write ``changes`` if the stored version is ``expected_version``; return the new value."""
        return self._result(self._run(self._update_flow(key, changes, expected_version, base)))

    def save(self, snapshot: Versioned[Value]) -> Versioned[Value]:
        """Write the fields of ``snapshot.value`` that differ from what was read."""
        flow, changes = self._save_flow(snapshot)
        if not changes:
            return snapshot
        return self._saved(snapshot, self._run(flow))

    def delete(self, key: Any, *, expected_version: Any) -> None:
        """Delete the value if its stored version is ``expected_version``."""
        self._run(self._delete_flow(key, expected_version))

    def modify(
        self, key: Any, fn: Callable[[Value], Value | None], *, attempts: int | None = None
    ) -> Versioned[Value]:
        """Read, apply ``fn`` to the value, write conditionally; retry from a fresh read."""
        return self._result(self._run(self._modify_flow(key, fn, attempts)))
