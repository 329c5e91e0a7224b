"""``occ.testing.AsyncInMemoryRepository``: the repository contract over a dict.

Same flows, conflicts and policies as the SQL and MongoDB repositories; the
storage is :class:`~occ.testing._memory.MemoryStore`.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from occ._async.repository import AsyncRepositoryBase
from occ._core.bulk import AtomicScope
from occ._core.decisions import Resolver
from occ._core.query import Query
from occ._core.retry import RetryPolicy
from occ._core.steps import Point, Read, Stored, Write
from occ.testing._memory import DictCodec, Journal, MemoryStore, Value

__all__ = ["AsyncInMemoryRepository"]


class AsyncInMemoryRepository(AsyncRepositoryBase[Value]):
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

    def __init__(
        self,
        *,
        key: str = "id",
        policy: Resolver | None = None,
        retry: RetryPolicy | None = None,
        version_field: str = "version",
        name: str = "memory",
        on_point: Callable[[Point], Any] | None = None,
    ) -> None:
        codec = DictCodec(key=key, version_field=version_field, entity=name)
        super().__init__(codec, policy=policy, policy_keys=(name,), retry=retry, on_point=on_point)
        self.key_field = key
        self.version_field = version_field
        self._store = MemoryStore(name)
        #: the undo journal of the all-or-nothing batch this copy writes, if any.
        self._journal: Journal | None = None

    def _joined(self) -> bool:
        return self._journal is not None

    async def _read(self, step: Read) -> Stored | None:
        return self._store.read(step)

    async def _write(self, step: Write) -> Any:
        return self._store.write(step, self._journal)

    async def _query(self, query: Query) -> list[Stored]:
        return self._store.query(query, self.codec)  # type: ignore[arg-type]

    @asynccontextmanager
    async def _atomic(self) -> AsyncIterator[AtomicScope[Value]]:
        """All-or-nothing by undo: what the batch wrote is put back if it failed. (No
        isolation: other writers see its writes meanwhile, as in any in-memory test.)"""
        bound = copy.copy(self)
        journal: Journal = []
        bound._journal = journal
        scope: AtomicScope[Value] = AtomicScope(bound)
        try:
            yield scope
        except BaseException:
            self._store.undo(journal)
            raise
        if scope.failed:
            self._store.undo(journal)
