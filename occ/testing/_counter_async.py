"""``occ.testing.async_counter_workload``: a counter workload over an async repository.

``occ/testing/_counter_sync.py`` is generated from this file by ``scripts/unasync.py``;
what does no IO lives in :class:`occ.testing._workload.Counter`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ.testing._history import State
from occ.testing._workload import AsyncWorkload, Counter, Written

__all__ = ["async_counter_workload"]


def async_counter_workload(
    repo: Any,
    *,
    new: Callable[[Any], Any],
    field: str = "count",
    token_field: str = "token",
    version_field: str = "version",
    delta: int = 1,
) -> AsyncWorkload:
    """Each operation adds ``delta`` to ``field`` and stamps its token, with ``repo.modify``.

    Args:
        repo: any async occ repository (SQL, MongoDB, in-memory): ``find``, ``insert``,
            ``delete`` and ``modify`` are used.
        new: ``new(key)`` builds the starting value of a key (counter at 0).
        field: the counter field.
        token_field: a text field each write stores its token in.
        version_field: the field (or attribute) a value read carries its version in.
        delta: what each operation adds.
    """
    counter = Counter(field, token_field, version_field, delta)

    async def write(key: Any, token: str) -> Written:
        seen: dict[str, Any] = {}
        result = await repo.modify(key, counter.bump(token, seen))
        return counter.written(token, seen, result)

    async def read(key: Any) -> State | None:
        return counter.state(await repo.find(key))

    async def reset(key: Any) -> None:
        found = await repo.find(key)
        if found is not None:
            await repo.delete(key, expected_version=found.version)
        await repo.insert(new(key))

    return AsyncWorkload(write=write, read=read, reset=reset, counters=(field,))
