"""``occ.mongo.atransaction``: several documents changed together, run again on a conflict.

The MongoDB twin of :func:`occ.sql.atransaction`. A version conflict of a
repository joined to the transaction (``repo.with_session(session)``), or a
server error labelled ``TransientTransactionError`` (a write conflict between
two transactions, a primary stepping down), means the whole transaction must
start over from fresh reads: the helper aborts it, backs off and runs the
function again in a new transaction, within the same attempt budget and
backoff as every other write. A commit whose outcome is unknown
(``UnknownTransactionCommitResult``) is committed again, which MongoDB makes
safe. A function with side effects outside the database repeats them: keep
those after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.errors import PyMongoError

from occ._core.retry import RetryPolicy, backoff_or_raise, retries_conflict
from occ._modes import acall, asleep
from occ.mongo._clients import astart_session, astart_transaction

__all__ = ["atransaction"]

#: commits of an unknown outcome sent again, at most (MongoDB's own drivers use a few).
_COMMITS = 3


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError")


def _retryable(exc: BaseException) -> bool:
    """A conflict the next fresh transaction may not meet (not a document deleted for good)."""
    return retries_conflict(exc) or _transient(exc)


async def _commit(session: Any) -> None:
    for sent in range(1, _COMMITS + 1):
        try:
            await session.commit_transaction()
            return
        except PyMongoError as exc:
            if sent == _COMMITS or not exc.has_error_label("UnknownTransactionCommitResult"):
                raise


async def atransaction(
    client: Any,
    fn: Callable[[Any], Any],
    *,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> Any:
    """Run ``fn(session)`` in one transaction and commit; run it again on a conflict.

    Bind repositories to the session inside ``fn`` (``repo.with_session(session)``):
    their writes join the transaction, and a conflict there raises at once, so the
    whole function starts over in a new transaction after an abort and a backoff.

    Args:
        client: the client to start each attempt's session on (PyMongo's
            ``MongoClient`` with ``transaction``; ``AsyncMongoClient`` or Motor's
            client with ``atransaction``, where ``fn`` may be a coroutine function).
        fn: the work; its return value is returned once committed.
        retry: attempts and backoff (default: :class:`~occ.RetryPolicy`).
        options: passed to the session's ``start_transaction`` (read and write
            concerns, read preference).

    Raises:
        RetryExhaustedError: every attempt met a conflict.
        DeletedError: a document the function wrote was deleted (no retry brings it back).
    """
    policy = retry or RetryPolicy()
    attempt = 1
    while True:
        session = await astart_session(client)
        try:
            await astart_transaction(session, **options)
            try:
                result = await acall(fn, session, "the function given to transaction()")
                await _commit(session)
                return result
            except Exception as exc:
                if session.in_transaction:
                    await session.abort_transaction()
                if not _retryable(exc):
                    raise
                delay = backoff_or_raise(exc, attempt, policy)
        finally:
            await session.end_session()
        attempt += 1
        if delay > 0:
            await asleep(delay)
