"""``occ.testing.acounter_workload``: a counter workload over a repository.

What does no IO lives in :class:`occ.testing._workload.CounterOps`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ.testing._history import State
from occ.testing._workload import AsyncWorkload, CounterOps, Written

__all__ = ["acounter_workload"]


def acounter_workload(
    repo: Any,
    *,
    new: Callable[[Any], Any],
    field: str = "count",
    token_field: str | None = None,
    delta: int = 1,
) -> AsyncWorkload:
    """Each operation adds ``delta`` to ``field`` with ``repo.modify``.

    The model needs nothing but the counter: each write is recorded with the
    version its result says it was based on and the count it stored, which
    identifies it in the final state (``delta`` must then not be 0).

    Args:
        repo: an occ repository of this mode (SQL, MongoDB, in-memory): ``find``, ``insert``,
            ``delete`` and ``modify`` are used.
        new: ``new(key)`` builds the starting value of a key (counter at 0).
        field: the counter field.
        token_field: optionally, a text field each write also stores its token in.
        delta: what each operation adds.

    Raises:
        ValueError: ``delta`` is 0 and there is no ``token_field``.
    """
    counter = CounterOps(field, token_field, delta)

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

    return AsyncWorkload(
        write=write, read=read, reset=reset, counters=(field,), deltas={field: delta}
    )
