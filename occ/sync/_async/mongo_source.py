"""A MongoDB repository's writes with their events: the driver side of the Mongo outbox.

``aoutbox_write(repository, step)`` runs the plan of
:class:`~occ.sync._mongo_outbox.MongoOutbox`: in the written document (one
command), or in the outbox collection inside a transaction — the caller's
when the repository joined one, else one of its own, committed when the
write applied and aborted when it did not. With ``Outbox(mongo="auto")`` the
first write asks the server (``hello``) whether it has transactions.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from occ._core.steps import Applied, Lost, Missed, Write
from occ.errors import ConfigurationError
from occ.mongo._clients import astart_session, astart_transaction
from occ.mongo._commands import Plan

__all__ = ["aoutbox_mode", "aoutbox_write"]

#: IllegalOperation: "Transaction numbers are only allowed on a replica set member or mongos".
_NO_TRANSACTIONS = 20


async def aoutbox_mode(repository: Any) -> str:
    """``"collection"`` or ``"document"``: where the repository's events go (asked once)."""
    box = repository.outbox
    if box.mode is None:
        reply = await repository.collection.database.client.admin.command("hello")
        replicated = "setName" in reply or reply.get("msg") == "isdbgrid"
        box.mode = "collection" if replicated else "document"
    mode: str = box.mode
    return mode


async def aoutbox_write(repository: Any, step: Write) -> Any:
    """Perform ``step`` and record its event; :class:`Applied`, :class:`Missed` or
    :class:`Lost`, as the repository's own writes answer."""
    mode = await aoutbox_mode(repository)
    joined = repository._joined()
    plan = repository.outbox.write_plan(step, mode=mode, in_transaction=joined)
    if mode == "collection" and not joined:
        return await _ain_transaction(repository, plan)
    return await repository._execute(plan)


async def _aabort(session: Any) -> None:
    if session.in_transaction:
        with contextlib.suppress(PyMongoError):  # the server aborts it on its own
            await session.abort_transaction()


async def _ain_transaction(repository: Any, plan: Plan) -> Any:
    """Run ``plan`` (the write and its event) in a transaction: committed if it applied.

    A commit whose reply was lost is a lost reply (the flow establishes by
    the write's token whether it applied, event included); a transient
    transaction error is a serialization conflict (the flow retries).
    """
    own = repository.session is None
    session = await astart_session(repository.collection.database.client) if own else None
    session = session if session is not None else repository.session
    try:
        try:
            await astart_transaction(session)
            outcome = await repository.with_session(session)._execute(plan)
        except OperationFailure as exc:
            await _aabort(session)
            if exc.code == _NO_TRANSACTIONS:
                raise ConfigurationError(
                    f"{repository.name}: this MongoDB server has no transactions, so the "
                    "outbox cannot be a collection: use occ.sync.Outbox(mongo='document')"
                ) from exc
            raise
        except BaseException:
            await _aabort(session)
            raise
        if not isinstance(outcome, Applied):
            await _aabort(session)
            return outcome
        try:
            await session.commit_transaction()
        except PyMongoError as exc:
            if isinstance(exc, ConnectionFailure) or exc.has_error_label(
                "UnknownTransactionCommitResult"
            ):
                return Lost()
            if exc.has_error_label("TransientTransactionError"):
                return Missed(serialization=True)
            raise
        return outcome
    finally:
        if own:
            await session.end_session()
