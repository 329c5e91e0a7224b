# Generated from occ/sync/_async/mongo_source.py by scripts/unasync.py: edit that file.
"""A MongoDB repository's writes with their events: the driver side of the Mongo outbox.

``outbox_write(repository, step)`` runs the plan of
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
from occ.mongo._clients import start_session, start_transaction
from occ.mongo._commands import Plan

__all__ = ["outbox_mode", "outbox_write"]

#: IllegalOperation: "Transaction numbers are only allowed on a replica set member or mongos".
_NO_TRANSACTIONS = 20


def outbox_mode(repository: Any) -> str:
    """``"collection"`` or ``"document"``: where the repository's events go (asked once)."""
    box = repository.outbox
    if box.mode is None:
        reply = repository.collection.database.client.admin.command("hello")
        replicated = "setName" in reply or reply.get("msg") == "isdbgrid"
        box.mode = "collection" if replicated else "document"
    mode: str = box.mode
    return mode


def outbox_write(repository: Any, step: Write) -> Any:
    """Perform ``step`` and record its event; :class:`Applied`, :class:`Missed` or
    :class:`Lost`, as the repository's own writes answer."""
    mode = outbox_mode(repository)
    joined = repository._joined()
    plan = repository.outbox.write_plan(step, mode=mode, in_transaction=joined)
    if mode == "collection" and not joined:
        return _in_transaction(repository, plan)
    return repository._execute(plan)


def _abort(session: Any) -> None:
    if session.in_transaction:
        with contextlib.suppress(PyMongoError):  # the server aborts it on its own
            session.abort_transaction()


def _in_transaction(repository: Any, plan: Plan) -> Any:
    """Run ``plan`` (the write and its event) in a transaction: committed if it applied.

    A commit whose reply was lost is a lost reply (the flow establishes by
    the write's token whether it applied, event included); a transient
    transaction error is a serialization conflict (the flow retries).
    """
    own = repository.session is None
    session = start_session(repository.collection.database.client) if own else None
    session = session if session is not None else repository.session
    try:
        try:
            start_transaction(session)
            outcome = repository.with_session(session)._execute(plan)
        except OperationFailure as exc:
            _abort(session)
            if exc.code == _NO_TRANSACTIONS:
                raise ConfigurationError(
                    f"{repository.name}: this MongoDB server has no transactions, so the "
                    "outbox cannot be a collection: use occ.sync.Outbox(mongo='document')"
                ) from exc
            raise
        except BaseException:
            _abort(session)
            raise
        if not isinstance(outcome, Applied):
            _abort(session)
            return outcome
        try:
            session.commit_transaction()
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
            session.end_session()
