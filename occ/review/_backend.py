"""The review app's view of a conflict store and the entities' repositories, sync or async.

A sync store or repository runs in Starlette's thread pool; an async one is
awaited. Repositories come from a mapping ``{entity: repository}`` or a
function ``entity -> repository | None``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from occ.conflicts import StoredConflict
from occ.errors import NotFoundError

__all__ = ["Backend", "Repositories"]

Repositories = Mapping[str, Any] | Callable[[str], Any]


async def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(method):
        return await method(*args, **kwargs)
    result = await run_in_threadpool(method, *args, **kwargs)
    return await result if inspect.isawaitable(result) else result


class Backend:
    """A conflict store and the repositories resolutions write through.

    Args:
        store: a conflict store (SQL or MongoDB, sync or async).
        repositories: each entity's repository, or a function that gives it.
    """

    def __init__(self, store: Any, repositories: Repositories | None) -> None:
        self.store = store
        self._repositories = repositories or {}

    def repository(self, entity: str) -> Any:
        """The repository of ``entity``, or ``None`` when the app gave none."""
        found = self._repositories
        if callable(found) and not isinstance(found, Mapping):
            return found(entity)
        return found.get(entity)

    async def store_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the store's method ``name``."""
        return await _call(getattr(self.store, name), *args, **kwargs)

    async def record(self, conflict_id: str) -> StoredConflict | None:
        """The stored conflict with that exact id, or ``None``."""
        try:
            found: StoredConflict = await self.store_call("get", conflict_id)
        except NotFoundError:
            return None
        return found

    async def current(self, record: StoredConflict) -> tuple[bool, Any]:
        """(known, what is stored now under the conflict's key: a ``Versioned`` or ``None``)."""
        repo = self.repository(record.entity)
        if repo is None:
            return False, None
        return True, await _call(repo.find, record.conflict.key)
