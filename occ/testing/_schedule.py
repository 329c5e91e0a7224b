"""Controlled interleavings: writers run one at a time and switch at named points.

A :class:`Schedule` says which key each writer's operations touch and, at each
decision point, which writer runs next. Decision points are the named points
of the core flow (``after_read``, ``before_write``, ``after_conflict``, passed
to a repository's ``on_point``), plus the end of each operation. Whatever the
schedule says, only one writer runs at a time, so a schedule replays exactly.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from occ._core.steps import Point

__all__ = [
    "AsyncScheduler",
    "Schedule",
    "ScheduleTimeoutError",
    "Scheduler",
    "Turn",
    "acheckpoint",
    "checkpoint",
    "on_point",
]


@dataclass(frozen=True)
class Schedule:
    """Who does what, and in which order: a value Hypothesis can shrink and print.

    Attributes:
        plans: for each writer, the key index of each of its operations.
        order: at each decision point, the writer to run next (taken modulo
            the number of writers; a finished writer passes to the next one).
            When ``order`` runs out, the running writer goes on (then the
            lowest unfinished one), so ``order=()`` runs the writers serially.
    """

    plans: tuple[tuple[int, ...], ...]
    order: tuple[int, ...] = ()

    @property
    def writers(self) -> int:
        """How many writers."""
        return len(self.plans)

    @property
    def keys(self) -> int:
        """How many keys the plans touch (highest index + 1)."""
        return 1 + max((k for plan in self.plans for k in plan), default=-1)


@dataclass(frozen=True)
class Turn:
    """One step of an executed schedule: ``writer`` reached ``point`` on ``key``."""

    writer: int
    point: str
    key: Any


class ScheduleTimeoutError(AssertionError):
    """A writer did not reach its next point in time (blocked in the database?)."""


class _Chooser:
    """Pure decision state shared by the thread and task schedulers."""

    def __init__(self, schedule: Schedule) -> None:
        self.n = schedule.writers
        self.order = schedule.order
        self.pos = 0
        self.done: set[int] = set()
        self.current: int | None = None
        self.choices: list[int] = []
        self.turns: list[Turn] = []

    def next(self) -> int | None:
        """The writer to run now (``None`` when all are done)."""
        runnable = [i for i in range(self.n) if i not in self.done]
        if not runnable:
            self.current = None
            return None
        if self.pos < len(self.order):
            want = self.order[self.pos] % self.n
            self.pos += 1
            pick: int = next(i for i in (*range(want, self.n), *range(want)) if i not in self.done)
        elif self.current is not None and self.current not in self.done:
            pick = self.current
        else:
            pick = runnable[0]
        self.current = pick
        self.choices.append(pick)
        return pick


class _Controller(Protocol):
    def point(self, me: int, name: str, key: Any) -> Awaitable[None] | None: ...


_ACTIVE: contextvars.ContextVar[tuple[_Controller, int] | None] = contextvars.ContextVar(
    "occ_testing_schedule", default=None
)


def on_point(point: Point) -> Awaitable[None] | None:
    """The ``on_point=`` hook to give repositories run under a schedule.

    Outside a scheduled run it does nothing. Inside one, it hands control to
    the writer the schedule picks next: a thread blocks until its turn comes
    back; for a task it returns an awaitable (async repositories await it).
    """
    return checkpoint(point.name, point.key)


def checkpoint(name: str, key: Any = None) -> Awaitable[None] | None:
    """A named point in your own writer code (e.g. a naive read-then-write writer).

    Args:
        name: the point's name, shown in traces (``after_read``, ``before_write``...).
        key: the key the writer is working on.

    Returns:
        ``None`` in threads and outside schedules; an awaitable for tasks.
    """
    active = _ACTIVE.get()
    if active is None:
        return None
    controller, me = active
    return controller.point(me, name, key)


async def acheckpoint(name: str, key: Any = None) -> None:
    """:func:`checkpoint` for async writers: ``await acheckpoint("after_read", key)``."""
    result = checkpoint(name, key)
    if result is not None:
        await result


class Scheduler:
    """Runs writer threads in lockstep: exactly one holds the turn at a time."""

    def __init__(self, schedule: Schedule, *, timeout: float) -> None:
        self.chooser = _Chooser(schedule)
        self.timeout = timeout
        self._cond = threading.Condition()
        self._turn: int | None = None
        self.failed: str | None = None

    def bind(self, me: int) -> None:
        """Make this thread writer ``me`` for :func:`checkpoint`."""
        _ACTIVE.set((self, me))

    def start(self) -> None:
        """Give the first turn."""
        with self._cond:
            self._turn = self.chooser.next()
            self._cond.notify_all()

    def wait_turn(self, me: int) -> None:
        """Block until it is ``me``'s turn."""
        with self._cond:
            self._wait(me)

    def _wait(self, me: int) -> None:
        while self._turn != me:
            if self.failed is not None:
                raise ScheduleTimeoutError(self.failed)
            if not self._cond.wait(self.timeout):
                self.failed = (
                    f"writer {me} waited {self.timeout}s for its turn; writer {self._turn} "
                    f"never reached its next point (last turns: {self.chooser.turns[-5:]})"
                )
                self._cond.notify_all()
                raise ScheduleTimeoutError(self.failed)

    def point(self, me: int, name: str, key: Any) -> None:
        """Writer ``me`` reached a point: pass the turn as the schedule says, wait for it back."""
        with self._cond:
            self.chooser.turns.append(Turn(me, name, key))
            self._turn = self.chooser.next()
            self._cond.notify_all()
            self._wait(me)

    def finish(self, me: int) -> None:
        """Writer ``me`` has no more operations."""
        with self._cond:
            self.chooser.done.add(me)
            self._turn = self.chooser.next()
            self._cond.notify_all()


class AsyncScheduler:
    """Runs writer tasks on one event loop in lockstep."""

    def __init__(self, schedule: Schedule, *, timeout: float) -> None:
        self.chooser = _Chooser(schedule)
        self.timeout = timeout
        self._events = [asyncio.Event() for _ in range(schedule.writers)]

    def bind(self, me: int) -> None:
        """Make the current task writer ``me`` for :func:`checkpoint`."""
        _ACTIVE.set((self, me))

    def start(self) -> None:
        """Give the first turn."""
        self._give()

    def _give(self) -> None:
        turn = self.chooser.next()
        for i, event in enumerate(self._events):
            if i == turn:
                event.set()
            else:
                event.clear()

    async def wait_turn(self, me: int) -> None:
        """Wait until it is ``me``'s turn."""
        try:
            await asyncio.wait_for(self._events[me].wait(), self.timeout)
        except TimeoutError:
            raise ScheduleTimeoutError(
                f"writer {me} waited {self.timeout}s for its turn; writer "
                f"{self.chooser.current} never reached its next point"
            ) from None

    def point(self, me: int, name: str, key: Any) -> Awaitable[None]:
        """Writer ``me`` reached a point: pass the turn, return an awaitable of it coming back."""
        self.chooser.turns.append(Turn(me, name, key))
        self._give()
        return self.wait_turn(me)

    def finish(self, me: int) -> None:
        """Writer ``me`` has no more operations."""
        self.chooser.done.add(me)
        self._give()
