"""Run the side effects resolvers ask for: persist a conflict, then notify sinks.

A resolver stays pure: it returns a decision whose ``effects`` are built
here. The driver runs each effect (awaiting it under an async driver). The
order is fixed: every store persists the conflict first (a store that fails
fails the write, so nothing is silently lost), then every sink is notified,
each bounded by a timeout; a sink that raises or hangs is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from occ._core.decisions import Decision
from occ._core.model import Conflict
from occ._core.steps import Effect
from occ.conflicts._records import ConflictEvent
from occ.errors import ConfigurationError

__all__ = ["ConflictArchive", "Sink", "alert_effect", "archive_effect"]

logger = logging.getLogger("occ.conflicts")

#: a sink: called with a :class:`ConflictEvent`; may be a coroutine function.
Sink = Callable[[ConflictEvent], Any]


@runtime_checkable
class ConflictArchive(Protocol):
    """Where conflicts are persisted (a :class:`~occ.conflicts.sql.ConflictStore`, ...).

    ``add`` returns the new id, or an awaitable of it when ``is_async``.
    """

    is_async: bool

    def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> Any: ...


def _driven_async() -> bool:
    """True when the effect is run by an async driver (a coroutine calls it in a loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    try:
        caller = sys._getframe(2)  # 0: here, 1: the effect's run, 2: the driver
    except ValueError:  # pragma: no cover - no such frame
        return True
    flags = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE
    return bool(caller.f_code.co_flags & flags)


def _is_async_callable(fn: Any) -> bool:
    marked = getattr(fn, "is_async", None)
    if isinstance(marked, bool):
        return marked
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an async __call__ method
    )


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _call_to_end(fn: Callable[[], Any]) -> Any:
    """Call ``fn``; if it returns an awaitable, run it to completion on a private loop."""
    result = fn()
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


def _notify_sync(sink: Sink, event: ConflictEvent, timeout: float | None) -> None:
    failure: list[BaseException] = []

    def target() -> None:
        try:
            _call_to_end(lambda: sink(event))
        except BaseException as exc:
            failure.append(exc)

    if timeout is None:
        target()
    else:
        thread = threading.Thread(target=target, name="occ-conflict-sink", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("conflict sink %r timed out after %ss; skipped", sink, timeout)
            return
    if failure:
        logger.warning("conflict sink %r failed; skipped", sink, exc_info=failure[0])


def _in_thread(fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run ``fn`` in a daemon thread (a hung one never blocks interpreter exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def target() -> None:
        try:
            value, ok = fn(), True
        except BaseException as exc:
            value, ok = exc, False
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(settle, ok, value)

    threading.Thread(target=target, name="occ-conflict-sink", daemon=True).start()
    return future


async def _notify_async(sink: Sink, event: ConflictEvent, timeout: float | None) -> None:
    async def call() -> None:
        if _is_async_callable(sink):
            result = sink(event)
        else:
            result = await _in_thread(lambda: sink(event))
        if inspect.isawaitable(result):
            await result

    try:
        await asyncio.wait_for(call(), timeout)
    except TimeoutError:
        logger.warning("conflict sink %r timed out after %ss; skipped", sink, timeout)
    except Exception as exc:
        logger.warning("conflict sink %r failed; skipped", sink, exc_info=exc)


def _add_sync(store: ConflictArchive, conflict: Conflict, status: str, decision: Decision) -> str:
    if store.is_async:
        raise ConfigurationError(
            f"{type(store).__name__} is async: use it with an async repository, or use a "
            "sync store (e.g. occ.conflicts.sql.ConflictStore on an Engine) here"
        )
    return str(
        store.add(conflict, status=status, decision=decision.label, details=decision.details)
    )


async def _add_async(
    store: ConflictArchive, conflict: Conflict, status: str, decision: Decision
) -> str:
    def add() -> Any:
        return store.add(conflict, status=status, decision=decision.label, details=decision.details)

    result = add() if store.is_async else await _in_thread(add)
    if inspect.isawaitable(result):
        result = await result
    return str(result)


def archive_effect(
    store: ConflictArchive, conflict: Conflict, status: str, decision: Decision
) -> Effect:
    """An effect that persists ``conflict`` in ``store`` with ``status``; a failure raises."""

    def run() -> Any:
        if _driven_async():
            return _add_async(store, conflict, status, decision)
        _add_sync(store, conflict, status, decision)
        return None

    return Effect(run, name=f"archive:{status}")


def alert_effect(
    stores: Sequence[ConflictArchive],
    sinks: Sequence[Sink],
    conflict: Conflict,
    decision: Decision,
    *,
    timeout: float | None,
) -> Effect:
    """Persist ``conflict`` in every store (status ``pending``), then notify every sink."""

    def event(ids: list[str]) -> ConflictEvent:
        return ConflictEvent(conflict, decision.label, decision.details, ids[0] if ids else None)

    async def arun() -> None:
        ids = [await _add_async(store, conflict, "pending", decision) for store in stores]
        for sink in sinks:
            await _notify_async(sink, event(ids), timeout)

    def run() -> Any:
        if _driven_async():
            return arun()
        ids = [_add_sync(store, conflict, "pending", decision) for store in stores]
        for sink in sinks:
            _notify_sync(sink, event(ids), timeout)
        return None

    return Effect(run, name="alert")
