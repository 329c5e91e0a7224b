"""``occ.testing.AsyncInMemoryRepository``: the asyncio driver of the core flows over a dict.

``occ/testing/_memory_sync.py`` is generated from this file by ``scripts/unasync.py``;
the storage, validation and flows live in :mod:`occ.testing._memory`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ._core.flow import Flow
from occ._core.model import Versioned
from occ._core.steps import Applied
from occ._drive import run_async
from occ.testing._memory import MemoryBase, Value, as_async

__all__ = ["AsyncInMemoryRepository"]


class AsyncInMemoryRepository(MemoryBase):
    """The repository contract over a dict, for asyncio: same flows, conflicts and policies as SQL.

    The same methods as :class:`InMemoryRepository`, awaited; ``modify`` and
    ``on_point`` accept sync or async functions.

    Args:
        key: the field of each value (a dict) that holds its key.
        policy: the conflict resolver; default: the one registered for ``name``
            in :mod:`occ.policies`, else :class:`~occ.resolvers.Raise`.
        retry: attempts and backoff for resolved writes and ``modify``.
        version_field: the field a value read back carries its version in.
        name: the entity name used in errors and conflicts.
        on_point: called with each named yield point (tests and schedulers).
    """

    async def _run(self, flow: Flow) -> Applied:
        return await run_async(
            flow,
            read=as_async(self._read),
            write=as_async(self._write),
            on_point=self._on_point,
            where="occ.testing",
        )

    async def find(self, key: Any) -> Versioned[Value] | None:
        """The current value and version under ``key``, or ``None``."""
        return self._find(key)

    async def get(self, key: Any) -> Versioned[Value]:
        """The current value and version under ``key``; :class:`NotFoundError` if absent."""
        return self._get_or_raise(key, self._find(key))

    async def insert(self, value: Value) -> Versioned[Value]:
        """Insert ``value`` at version 1; :class:`AlreadyExistsError` if the key is taken."""
        return self._result(await self._run(self._insert_flow(value)))

    async def update(
        self, key: Any, changes: dict[str, Any], *, expected_version: Any, base: Any = None
    ) -> Versioned[Value]:
        """Write ``changes`` if the stored version is ``expected_version``; return the new value."""
        return self._result(
            await self._run(self._update_flow(key, changes, expected_version, base))
        )

    async def save(self, snapshot: Versioned[Value]) -> Versioned[Value]:
        """Write the fields of ``snapshot.value`` that differ from what was read."""
        flow, changes = self._save_flow(snapshot)
        if not changes:
            return snapshot
        return self._saved(snapshot, await self._run(flow))

    async def delete(self, key: Any, *, expected_version: Any) -> None:
        """Delete the value if its stored version is ``expected_version``."""
        await self._run(self._delete_flow(key, expected_version))

    async def modify(
        self, key: Any, fn: Callable[[Value], Any], *, attempts: int | None = None
    ) -> Versioned[Value]:
        """Read, apply ``fn`` to the value, write conditionally; retry from a fresh read."""
        return self._result(await self._run(self._modify_flow(key, fn, attempts)))
