"""Persisting a conflict in a store and telling a sink, in each mode (``name``/``aname`` pairs).

The drivers perform a resolver's effects (:mod:`occ._async.effects`, and its
generated sync twin) through these. What differs between the modes: a sync
driver refuses an async store and runs an async sink on a private loop; an
async driver runs a sync store or sink in a thread, so the loop never blocks.
Every sink call is bounded by a timeout; one that raises or hangs is logged
and skipped, never failing the write. A store that fails fails the write.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from occ._core.model import Conflict
from occ.conflicts._records import ConflictEvent
from occ.errors import ConfigurationError

__all__ = ["ConflictArchive", "Sink", "aadd", "add", "anotify", "notify"]

logger = logging.getLogger("occ.conflicts")

#: a sink: called with a :class:`ConflictEvent`; may be a coroutine function.
Sink = Callable[[ConflictEvent], Any]


@runtime_checkable
class ConflictArchive(Protocol):
    """Where conflicts are persisted (a :class:`~occ.conflicts.sql.ConflictStore`, ...).

    ``add`` returns the new id; an async store's ``add`` is a coroutine function.
    """

    def add(
        self, conflict: Conflict, *, status: str, decision: str, details: Mapping[str, Any]
    ) -> Any: ...


def _is_async_callable(fn: Any) -> bool:
    marked = getattr(fn, "is_async", None)
    if isinstance(marked, bool):
        return marked
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an async __call__ method
    )


def add(
    store: ConflictArchive,
    conflict: Conflict,
    status: str,
    outcome: str,
    details: Mapping[str, Any],
) -> str:
    """Persist ``conflict`` in a sync ``store``; its id."""
    if _is_async_callable(store.add):
        raise ConfigurationError(
            f"{type(store).__name__} is async: use it with an async repository, or use a "
            "sync store (e.g. occ.conflicts.sql.ConflictStore on an Engine) here"
        )
    return str(store.add(conflict, status=status, decision=outcome, details=details))


async def aadd(
    store: ConflictArchive,
    conflict: Conflict,
    status: str,
    outcome: str,
    details: Mapping[str, Any],
) -> str:
    """Persist ``conflict`` in ``store`` (a sync one runs in a thread); its id."""

    def call() -> Any:
        return store.add(conflict, status=status, decision=outcome, details=details)

    result = call() if _is_async_callable(store.add) else await _in_thread(call)
    if inspect.isawaitable(result):
        result = await result
    return str(result)


def notify(sink: Sink, event: ConflictEvent, timeout: float | None) -> None:
    """Tell ``sink`` (an async one runs on a private loop), within ``timeout`` s."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result = sink(event)
            if inspect.isawaitable(result):
                asyncio.run(_awaited(result))
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


async def anotify(sink: Sink, event: ConflictEvent, timeout: float | None) -> None:
    """Tell ``sink`` (a sync one runs in a thread), within ``timeout`` s."""

    async def call() -> None:
        result = sink(event) if _is_async_callable(sink) else await _in_thread(lambda: sink(event))
        if inspect.isawaitable(result):
            await result

    try:
        await asyncio.wait_for(call(), timeout)
    except TimeoutError:
        logger.warning("conflict sink %r timed out after %ss; skipped", sink, timeout)
    except Exception as exc:
        logger.warning("conflict sink %r failed; skipped", sink, exc_info=exc)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


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
