"""Workloads: what one writer does to one key, in a form the runners can record.

A workload is three functions: ``write(key, token)`` performs one operation
and returns what it read and wrote (a :class:`Written`, built from the write's
result with :meth:`Written.of`), raising :class:`~occ.ConflictError` or
:class:`~occ.NotFoundError` when it did not commit; ``read(key)`` returns the
stored :class:`~occ.testing.State`; ``reset(key)`` puts the key back in its
starting state.

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

    @classmethod
    def of(
        cls,
        result: Versioned[Any],
        values: Mapping[str, Any] | None = None,
        deltas: Mapping[str, Any] | None = None,
    ) -> Written:
        """What the write that returned ``result`` read and wrote.

        The version read is ``result.based_on``, the version the successful
        write expected: after a conflict resolved by a policy (``Merge``,
        ``Overwrite``) or a retry, that is the stored version it was resolved
        against, not the one the writer first read.

        Args:
            result: what ``update``, ``save`` or ``modify`` returned.
            values: the fields it stored that the final state must show if it
                is the last write (default: none).
            deltas: increments of counter fields.

        Raises:
            ValueError: the write stored nothing (``discarded``, ``unchanged``, a
                read): it is not a committed operation, so the workload's ``write``
                must not report it as one.
        """
        if not result.written or result.based_on is None:
            raise ValueError(
                f"the write on key {result.key!r} stored nothing (outcome {result.outcome!r}); "
                "a workload's write returns a Written only for a write that committed"
            )
        return cls(result.based_on, result.version, dict(values or {}), dict(deltas or {}))


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
    """The parts of a counter workload that do no IO.

    Without a token field, the counter value each write stores stands for it:
    with a non-zero delta it differs at every version of the chain, so the
    final state still shows whether the last committed write is the one stored.
    """

    def __init__(self, field: str, token_field: str | None, delta: int) -> None:
        if delta == 0 and token_field is None:
            raise ValueError(
                "a counter workload without a token_field needs a non-zero delta: "
                "a write that adds 0 changes nothing and stores nothing"
            )
        self.field = field
        self.token_field = token_field
        self.delta = delta
        self.fields = (field,) if token_field is None else (field, token_field)

    def bump(self, token: str, seen: dict[str, Any]) -> Callable[[Any], Any]:
        def fn(value: Any) -> Any:
            seen["count"] = _get(value, self.field) + self.delta
            _set(value, self.field, seen["count"])
            if self.token_field is not None:
                _set(value, self.token_field, token)
            return value

        return fn

    def written(self, token: str, seen: dict[str, Any], result: Versioned[Any]) -> Written:
        values = {self.field: seen["count"]}
        if self.token_field is not None:
            values[self.token_field] = token
        return Written.of(result, values, {self.field: self.delta})

    def state(self, found: Versioned[Any] | None) -> State | None:
        if found is None:
            return None
        return State(found.version, {name: _get(found.value, name) for name in self.fields})
