"""What the MongoDB outbox's plans share: stored events, their order, op interception (pure)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from occ._core.model import Version
from occ.mongo._commands import Op
from occ.sync._event import Event

__all__ = ["PENDING", "Plan", "Written", "integer", "intercept", "order_of", "perform"]

Plan = Generator[Op, Any, Any]

#: ``published_at`` of an event of the outbox collection that waits for a relay.
PENDING = 0.0


def integer(version: Version | None) -> int:
    """A MongoDB version (always an integer) as one."""
    if type(version) is not int:
        raise TypeError(f"a MongoDB version is an integer, got {version!r}")
    return version


def order_of(event: Event) -> int:
    """A number that orders a key's events: the version, and a delete after the live row."""
    return event.version * 2 + (1 if event.deleted else 0)


def intercept(inner: Plan, handle: Callable[[Op], Plan]) -> Plan:
    """Run ``inner``, performing each op it yields through ``handle``.

    ``handle(op)`` is a plan that performs the op (as it is, changed, or as
    several commands) and returns the result ``inner`` is sent; an exception
    it raises (the server's) is thrown into ``inner``.
    """
    try:
        op = next(inner)
        while True:
            try:
                result = yield from handle(op)
            except Exception as exc:
                op = inner.throw(exc)
            else:
                op = inner.send(result)
    except StopIteration as stop:
        return stop.value


def perform(op: Op) -> Plan:
    """The plan that performs ``op`` as it is."""
    return (yield op)


@dataclass(frozen=True)
class Written:
    """An event ready to be stored: the event, its JSON text and its outbox partition."""

    event: Event
    text: str
    partition: int
