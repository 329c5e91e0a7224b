"""Run a core flow to its end: the one step loop every sync and async driver shares.

A backend supplies how to perform a :class:`~occ._core.steps.Read` and a
:class:`~occ._core.steps.Write`; everything else a flow yields (backoff,
user calls, yield points, resolver side effects) is performed here, once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from occ._core.flow import Flow
from occ._core.steps import Applied, Backoff, Call, Effect, Point, Read, Write
from occ.errors import ConfigurationError

__all__ = ["run_async", "run_sync"]

OnPoint = Callable[[Point], Any] | None


def _refuse_awaitable(result: Any, what: str, where: str) -> None:
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise ConfigurationError(f"{what} is async; use {where}'s async repository")


def run_sync(
    flow: Flow,
    *,
    read: Callable[[Read], Any],
    write: Callable[[Write], Any],
    on_point: OnPoint,
    where: str,
) -> Applied:
    """Perform each step of ``flow`` and return what it returns.

    Args:
        flow: a core flow generator.
        read: performs a Read (returns ``Stored | None``).
        write: performs a Write (returns ``Applied | Missed``).
        on_point: the repository's scheduler hook, if any.
        where: the backend's name, for error messages ("occ.sql", ...).
    """
    try:
        step = next(flow)
        while True:
            kind = type(step)
            if kind is Write:
                result: Any = write(step)  # type: ignore[arg-type]
            elif kind is Read:
                result = read(step)  # type: ignore[arg-type]
            elif kind is Backoff:
                time.sleep(step.seconds)  # type: ignore[union-attr]
                result = None
            elif kind is Call:
                result = step.fn(step.arg)  # type: ignore[union-attr]
                if result is not None:
                    _refuse_awaitable(result, "the function given to modify()", where)
            elif kind is Point:
                result = on_point(step) if on_point is not None else None  # type: ignore[arg-type]
            elif kind is Effect:
                result = step.run()  # type: ignore[union-attr]
                _refuse_awaitable(result, f"the {step.name} side effect", where)  # type: ignore[union-attr]
                result = None
            else:  # pragma: no cover - the flows yield nothing else
                raise AssertionError(f"unknown step {step!r}")
            step = flow.send(result)
    except StopIteration as stop:
        applied: Applied = stop.value
        return applied


async def _maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


async def run_async(
    flow: Flow,
    *,
    read: Callable[[Read], Awaitable[Any]],
    write: Callable[[Write], Awaitable[Any]],
    on_point: OnPoint,
    where: str = "occ",
) -> Applied:
    """:func:`run_sync` for asyncio: user calls, hooks and effects may be sync or async.

    ``where`` is only there so that a sync driver generated from an async one
    (``scripts/unasync.py``) passes :func:`run_sync` the same arguments: an
    async driver accepts both kinds of callables, so it refuses nothing.
    """
    try:
        step = next(flow)
        while True:
            kind = type(step)
            if kind is Write:
                result: Any = await write(step)  # type: ignore[arg-type]
            elif kind is Read:
                result = await read(step)  # type: ignore[arg-type]
            elif kind is Backoff:
                await asyncio.sleep(step.seconds)  # type: ignore[union-attr]
                result = None
            elif kind is Call:
                result = await _maybe_await(step.fn(step.arg))  # type: ignore[union-attr]
            elif kind is Point:
                hook = on_point(step) if on_point is not None else None  # type: ignore[arg-type]
                result = await _maybe_await(hook)
            elif kind is Effect:
                await _maybe_await(step.run())  # type: ignore[union-attr]
                result = None
            else:  # pragma: no cover - the flows yield nothing else
                raise AssertionError(f"unknown step {step!r}")
            step = flow.send(result)
    except StopIteration as stop:
        applied: Applied = stop.value
        return applied
