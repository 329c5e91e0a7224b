# Generated from occ/testing/_async/counter.py by scripts/unasync.py: edit that file.
"""``occ.testing.counter_workload``: a counter workload over a repository.

What does no IO lives in :class:`occ.testing._workload.CounterOps`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ.testing._history import State
from occ.testing._workload import CounterOps, Workload, Written

__all__ = ["counter_workload"]


def counter_workload(
    repo: Any,
    *,
    new: Callable[[Any], Any],
    field: str = "count",
    token_field: str = "token",
    version_field: str = "version",
    delta: int = 1,
) -> Workload:
    """Each operation adds ``delta`` to ``field`` and stamps its token, with ``repo.modify``.

    Args:
        repo: an occ repository of this mode (SQL, MongoDB, in-memory): ``find``, ``insert``,
            ``delete`` and ``modify`` are used.
        new: ``new(key)`` builds the starting value of a key (counter at 0).
        field: the counter field.
        token_field: a text field each write stores its token in.
        version_field: the field (or attribute) a value read carries its version in.
        delta: what each operation adds.
    """
    counter = CounterOps(field, token_field, version_field, delta)

    def write(key: Any, token: str) -> Written:
        seen: dict[str, Any] = {}
        result = repo.modify(key, counter.bump(token, seen))
        return counter.written(token, seen, result)

    def read(key: Any) -> State | None:
        return counter.state(repo.find(key))

    def reset(key: Any) -> None:
        found = repo.find(key)
        if found is not None:
            repo.delete(key, expected_version=found.version)
        repo.insert(new(key))

    return Workload(write=write, read=read, reset=reset, counters=(field,), deltas={field: delta})
