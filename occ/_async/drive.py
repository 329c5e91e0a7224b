"""The one step loop: run a core flow to its end, performing each step it yields.

A backend gives how to perform a :class:`~occ._core.steps.Read` and a
:class:`~occ._core.steps.Write` (and their batch forms, and the release of a
held row lock); everything else a flow yields (backoff, the user's function,
yield points, resolver effects) is performed here, once per mode. Every
repository (SQL, MongoDB, in-memory) and the ORM flush run it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from occ._async.effects import aperform
from occ._core.steps import (
    Backoff,
    Call,
    Point,
    Read,
    ReadMany,
    Release,
    Step,
    Write,
    WriteMany,
)
from occ._modes import acall, asleep

__all__ = ["drive"]

R = TypeVar("R")

#: the steps a backend performs (an error there is thrown into the flow).
_BACKEND = (Write, Read, Release, WriteMany, ReadMany)


async def drive(
    flow: Generator[Step, Any, R],
    *,
    read: Callable[[Read], Any],
    write: Callable[[Write], Any],
    on_point: Callable[[Point], Any] | None = None,
    release: Callable[[Release], Any] | None = None,
    read_many: Callable[[ReadMany], Any] | None = None,
    write_many: Callable[[WriteMany], Any] | None = None,
) -> R:
    """Perform each step of ``flow`` and return what it returns.

    An error performing a backend step is thrown into the flow at that step,
    so that it can release a row lock it holds before the error goes on.

    Args:
        flow: a core flow generator (or several in lockstep, see :mod:`occ._core.lockstep`).
        read: performs a Read (returns ``Stored | None``).
        write: performs a Write (returns ``Applied | Missed | Lost``).
        on_point: the repository's scheduler hook, if any.
        release: ends the transaction of a held row lock (backends that lock rows).
        read_many: performs a ReadMany (one ``Stored | None`` per key), for batch flows.
        write_many: performs a WriteMany (one outcome per write), for batch flows.
    """
    try:
        step = next(flow)
        while True:
            kind = type(step)
            result: Any = None
            if kind in _BACKEND:
                try:
                    if kind is Write:
                        result = await write(step)  # type: ignore[arg-type]
                    elif kind is Read:
                        result = await read(step)  # type: ignore[arg-type]
                    elif kind is Release:
                        if release is not None:
                            await release(step)  # type: ignore[arg-type]
                    elif kind is WriteMany:
                        assert write_many is not None
                        result = await write_many(step)  # type: ignore[arg-type]
                    else:
                        assert read_many is not None
                        result = await read_many(step)  # type: ignore[arg-type]
                except Exception as exc:
                    step = flow.throw(exc)
                    continue
            elif kind is Backoff:
                await asleep(step.seconds)  # type: ignore[union-attr]
            elif kind is Call:
                what = "the function given to modify()"
                result = await acall(step.fn, step.arg, what)  # type: ignore[union-attr]
            elif kind is Point:
                if on_point is not None:
                    await acall(on_point, step, "on_point")
            else:
                await aperform(step)  # type: ignore[arg-type]
            step = flow.send(result)
    except StopIteration as stop:
        value: R = stop.value
        return value
