"""``occ.sql.atransaction``: several entities changed together, run again on a conflict.

A transfer between two accounts reads and writes two rows; a version conflict,
a deadlock (MariaDB 1213, PostgreSQL 40P01) or a serialization failure
(40001) means the whole transaction must start over from fresh reads — never
in the same transaction: under REPEATABLE READ a re-read there returns the
old snapshot for ever. This helper rolls back, backs off and runs the
function again in a new transaction, within the same attempt budget and
backoff as every other write. A function with side effects outside the
database (an e-mail, an HTTP call) repeats them: keep those after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from occ._core.retry import RetryPolicy
from occ._modes import acall, asleep
from occ.errors import ConflictError, DeletedError, RetryExhaustedError, TransactionAbortedError
from occ.sql._binds import AsyncConnection, AsyncEngine
from occ.sql._dberrors import is_serialization_failure
from occ.sql._engines import transaction_options

__all__ = ["atransaction"]

R = TypeVar("R")


def _retryable(exc: BaseException) -> bool:
    """A conflict the next fresh transaction may not meet (not a row deleted for good)."""
    if isinstance(exc, TransactionAbortedError):
        return True
    if isinstance(exc, ConflictError):
        return not isinstance(exc, DeletedError)
    return isinstance(exc, sa.exc.DBAPIError) and is_serialization_failure(exc)


async def atransaction(
    engine: AsyncEngine,
    fn: Callable[[AsyncConnection], Any],
    *,
    retry: RetryPolicy | None = None,
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

    Raises:
        RetryExhaustedError: every attempt met a conflict.
        DeletedError: a row the function wrote was deleted (no retry brings it back).
    """
    policy = retry or RetryPolicy()
    attempt = 1
    while True:
        async with engine.connect() as conn:
            options = transaction_options(engine)
            if options is not None:
                await conn.execution_options(**options)
            await conn.begin()
            try:
                result = await acall(fn, conn, "the function given to transaction()")
                await conn.commit()
                return result
            except Exception as exc:
                await conn.rollback()
                if not _retryable(exc):
                    raise
                conflict = getattr(exc, "conflict", None)
                if attempt >= policy.attempts:
                    if conflict is not None:
                        raise RetryExhaustedError(conflict, attempt) from exc
                    raise
        attempt += 1
        delay = policy.delay(attempt)
        if delay > 0:
            await asleep(delay)
