"""The one step loop: run a core flow to its end, performing each step it yields.

A backend gives how to perform a :class:`~occ._core.steps.Read` and a
:class:`~occ._core.steps.Write`; everything else a flow yields (backoff, the
user's function, yield points, resolver effects) is performed here, once per
mode. Every repository (SQL, MongoDB, in-memory) and the ORM flush run it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ._async.effects import aperform
from occ._core.flow import Flow
from occ._core.steps import Applied, Backoff, Call, Point, Read, Release, Write
from occ._modes import acall, asleep

__all__ = ["drive"]


async def drive(
    flow: Flow,
    *,
    read: Callable[[Read], Any],
    write: Callable[[Write], Any],
    on_point: Callable[[Point], Any] | None = None,
    release: Callable[[Release], Any] | None = None,
) -> Applied:
    """Perform each step of ``flow`` and return what it returns.

    An error performing a read or a write is thrown into the flow at that step,
    so that it can release a row lock it holds before the error goes on.

    Args:
        flow: a core flow generator.
        read: performs a Read (returns ``Stored | None``).
        write: performs a Write (returns ``Applied | Missed | Lost``).
        on_point: the repository's scheduler hook, if any.
        release: ends the transaction of a held row lock (backends that lock rows).
    """
    try:
        step = next(flow)
        while True:
            kind = type(step)
            result: Any = None
            if kind is Write or kind is Read or kind is Release:
                try:
                    if kind is Write:
                        result = await write(step)  # type: ignore[arg-type]
                    elif kind is Read:
                        result = await read(step)  # type: ignore[arg-type]
                    elif release is not None:
                        await release(step)  # type: ignore[arg-type]
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
        applied: Applied = stop.value
        return applied
