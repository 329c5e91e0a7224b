"""Workloads: what one writer does to one key, in a form the runners can record.

A workload is three functions: ``write(key, token)`` performs one operation
and returns what it read and wrote (a :class:`Written`), raising
:class:`~occ.ConflictError` or :class:`~occ.NotFoundError` when it did not
commit; ``read(key)`` returns the stored :class:`~occ.testing.State`;
``reset(key)`` puts the key back in its starting state.

:class:`CounterOps` is what the counter workloads share
(:func:`~occ.testing.counter_workload`, :func:`~occ.testing.acounter_workload`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from occ._core.model import Version, Versioned
from occ.testing._history import State

__all__ = ["AsyncWorkload", "CounterOps", "Workload", "Written"]


@dataclass(frozen=True)
class Written:
    """What a committed operation read and wrote.

    Attributes:
        read_version: the version the write was based on.
        written_version: the version it stored.
        values: the fields it stored (compared with the final state).
        deltas: increments of counter fields.
    """

    read_version: Version
    written_version: Version
    values: Mapping[str, Any] = field(default_factory=dict)
    deltas: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """A synchronous workload (see the module docstring).

    Attributes:
        write: ``write(key, token) -> Written``, one operation.
        read: ``read(key) -> State | None``, the stored state.
        reset: ``reset(key)``, put the key in its starting state (optional).
        counters: fields that ``write`` only increments (checked by total).
        deltas: what every operation adds to each counter, when that is fixed:
            recorded for an operation whose outcome is unknown, so the checker
            can tell whether it applied at most once.
    """

    write: Callable[[Any, str], Written]
    read: Callable[[Any], State | None]
    reset: Callable[[Any], None] | None = None
    counters: tuple[str, ...] = ()
    deltas: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AsyncWorkload:
    """:class:`Workload` with coroutine functions, for async repositories."""

    write: Callable[[Any, str], Awaitable[Written]]
    read: Callable[[Any], Awaitable[State | None]]
    reset: Callable[[Any], Awaitable[None]] | None = None
    counters: tuple[str, ...] = ()
    deltas: Mapping[str, Any] = field(default_factory=dict)


def _get(value: Any, name: str) -> Any:
    return value[name] if isinstance(value, Mapping) else getattr(value, name)


def _set(value: Any, name: str, field_value: Any) -> None:
    if isinstance(value, Mapping):
        value[name] = field_value  # type: ignore[index]
    else:
        setattr(value, name, field_value)


class CounterOps:
    """The parts of a counter workload that do no IO."""

    def __init__(self, field: str, token_field: str, version_field: str, delta: int) -> None:
        self.field = field
        self.token_field = token_field
        self.version_field = version_field
        self.delta = delta

    def bump(self, token: str, seen: dict[str, Any]) -> Callable[[Any], Any]:
        def fn(value: Any) -> Any:
            seen["read"] = _get(value, self.version_field)
            seen["count"] = _get(value, self.field) + self.delta
            _set(value, self.field, seen["count"])
            _set(value, self.token_field, token)
            return value

        return fn

    def written(self, token: str, seen: dict[str, Any], result: Versioned[Any]) -> Written:
        return Written(
            read_version=seen["read"],
            written_version=result.version,
            values={self.field: seen["count"], self.token_field: token},
            deltas={self.field: self.delta},
        )

    def state(self, found: Versioned[Any] | None) -> State | None:
        if found is None:
            return None
        values = {name: _get(found.value, name) for name in (self.field, self.token_field)}
        return State(found.version, values)
