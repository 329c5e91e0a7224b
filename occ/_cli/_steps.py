"""Writers written once as generators of steps, run by a thread or by a task.

A flow yields steps and receives their results. A step is a callable: the
thread calls it, the task awaits what it returns; a :class:`Pause` sleeps
(``time.sleep`` or ``asyncio.sleep``). An exception a step raises is thrown
into the flow, which may catch it. The writers of ``occ demo``
(:mod:`occ._cli._writers`) are thus written once for ``hammer`` (threads)
and ``ahammer`` (tasks); only these two loops differ.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

__all__ = ["Flow", "Pause", "adrive", "drive", "ticking"]

T = TypeVar("T")
Flow: TypeAlias = Generator[Callable[[], Any], Any, T]


@dataclass(frozen=True)
class Pause:
    """A step that thinks for ``seconds`` (0 still lets the other writers run)."""

    seconds: float

    def __call__(self) -> None:
        time.sleep(self.seconds)


def drive(flow: Flow[T]) -> T:
    """Run ``flow`` in this thread: call each step."""
    send: Callable[[Any], Callable[[], Any]] = flow.send
    value: Any = None
    while True:
        try:
            step = send(value)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            value, send = step(), flow.send
        except Exception as exc:  # the flow decides
            value, send = exc, flow.throw


async def adrive(flow: Flow[T]) -> T:
    """Run ``flow`` on the event loop: await what each step returns."""
    send: Callable[[Any], Callable[[], Any]] = flow.send
    value: Any = None
    while True:
        try:
            step = send(value)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            value = await (asyncio.sleep(step.seconds) if isinstance(step, Pause) else step())
            send = flow.send
        except Exception as exc:  # the flow decides
            value, send = exc, flow.throw


def ticking(flow: Flow[T], tick: Callable[[], None]) -> Flow[T]:
    """``flow``, then ``tick()`` however it ended (a progress bar advances)."""
    try:
        return (yield from flow)
    finally:
        tick()
