"""``occ.sql.atransaction``: several entities changed together, run again on a conflict.

A transfer between two accounts reads and writes two rows; a version conflict,
a deadlock (MariaDB 1213, PostgreSQL 40P01) or a serialization failure
(40001) means the whole transaction must start over from fresh reads — never
in the same transaction: under REPEATABLE READ a re-read there returns the
old snapshot for ever. This helper rolls back, backs off and runs the
function again in a new transaction, within the same attempt budget and
backoff as every other write. A function with side effects outside the
database (an e-mail, an HTTP call) repeats them: keep those after the commit.

On PostgreSQL each attempt's statements wait at most ``lock_timeout`` for a
row lock (``SET LOCAL``: this transaction only). Two transfers that lock two
rows in opposite order deadlock, and PostgreSQL looks for deadlocks only
after ``deadlock_timeout`` (1 s by default, a superuser's setting): without a
shorter wait each such pair stalls a second. A row locked longer than that is
being written by someone else, so this attempt's conditional write would most
likely conflict anyway: it starts over instead. MariaDB/MySQL detect
deadlocks at once and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from occ._core.retry import RetryPolicy, backoff_or_raise, retries_conflict
from occ._modes import acall, asleep
from occ.errors import ConfigurationError
from occ.sql._attempts import Attempt
from occ.sql._attempts import attempt as run_as
from occ.sql._binds import AsyncConnection, AsyncEngine
from occ.sql._dberrors import is_lock_timeout, is_serialization_failure
from occ.sql._engines import transaction_options

__all__ = ["atransaction"]

R = TypeVar("R")


#: how long, by default, a statement of an attempt waits for a row lock (PostgreSQL).
LOCK_TIMEOUT = 0.1


def _retryable(exc: BaseException) -> bool:
    """A conflict the next fresh transaction may not meet (not a row deleted for good)."""
    return retries_conflict(exc) or is_serialization_failure(exc) or is_lock_timeout(exc)


def _lock_wait(engine: Any, seconds: float | None) -> str | None:
    """The statement that bounds an attempt's lock waits, if any (checked before any write)."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ConfigurationError(
            f"lock_timeout must be a number of seconds > 0 or None, got {seconds!r}"
        )
    if engine.dialect.name != "postgresql":
        return None
    return f"SET LOCAL lock_timeout = {max(1, round(seconds * 1000))}"


async def atransaction(
    engine: AsyncEngine,
    fn: Callable[[AsyncConnection], Any],
    *,
    retry: RetryPolicy | None = None,
    lock_timeout: float | None = LOCK_TIMEOUT,
) -> Any:
    """Run ``fn(connection)`` in one transaction and commit; run it again on a conflict.

    Build repositories on the connection inside ``fn`` (``Repository(conn, Model)``):
    their writes join the transaction, and a conflict there raises at once, so the
    whole function starts over from a fresh transaction after a rollback and a
    backoff. ``fn`` may be a coroutine function (with an ``AsyncEngine``).

    Args:
        engine: the engine to open each attempt's connection on.
        fn: the work; its return value is returned once committed.
        retry: attempts and backoff (default: :class:`~occ.RetryPolicy`).
        lock_timeout: seconds a statement waits for a row lock before the attempt
            starts over (PostgreSQL; ``None``: as long as the server lets it).

    Raises:
        RetryExhaustedError: every attempt met a conflict.
        DeletedError: a row the function wrote was deleted (no retry brings it back).
        ConfigurationError: ``lock_timeout`` is not a positive number or ``None``.
    """
    bound = _lock_wait(engine, lock_timeout)
    policy = retry or RetryPolicy()
    attempt = 1
    state = Attempt()
    while True:
        async with engine.connect() as conn:
            options = transaction_options(engine)
            if options is not None:
                await conn.execution_options(**options)
            await conn.begin()
            try:
                if bound is not None:
                    await conn.exec_driver_sql(bound)
                with run_as(state):
                    result = await acall(fn, conn, "the function given to transaction()")
                await conn.commit()
                state.ended(lost=False)
                return result
            except Exception as exc:
                await conn.rollback()
                if not _retryable(exc):
                    raise
                state.ended(lost=True)
                state = state.next()  # the rows it read: locked by the next attempt
                delay = backoff_or_raise(exc, attempt, policy)
        attempt += 1
        if delay > 0:
            await asleep(delay)
