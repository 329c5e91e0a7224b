"""Keep a caller from committing a transaction that a failed occ write ended.

On PostgreSQL any failed statement aborts the transaction, and a
serialization failure or deadlock rolls it back on MariaDB too: the caller's
earlier writes in it are gone. If the caller caught the error and committed,
the commit would "succeed" with nothing, or half, written. So the caller's
``Session`` or ``Connection`` is marked: committing it raises
:class:`~occ.TransactionAbortedError` until it is rolled back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from occ._core.model import Action, Conflict
from occ._core.steps import Write
from occ.errors import TransactionAbortedError

__all__ = ["aborted_by", "mark_aborted"]

_KEY = "occ_aborted"
_GUARDED = "occ_guarded"


def _target(bind: Any) -> Session | Connection:
    """The sync ``Session`` or ``Connection`` behind a caller's bind (async ones wrap one)."""
    sync = getattr(bind, "sync_session", None) or getattr(bind, "sync_connection", None)
    return sync if sync is not None else bind  # type: ignore[no-any-return]


def aborted_by(step: Write, entity: str) -> Conflict:
    """The conflict to report for a write ``step`` whose failure ended the transaction."""
    action: Action = "delete" if step.action == "delete" else "update"
    return Conflict(
        entity=entity,
        key=step.key,
        action=action,
        kind="serialization",
        base=step.base,
        mine=dict(step.changes),
        changes=dict(step.changes),
        theirs=None,
        expected_version=step.expected_version,
        actual_version=None,
        attempt=1,
    )


def mark_aborted(bind: Any, conflict: Conflict) -> None:
    """Refuse the next commit of ``bind`` (a caller's session or connection) until a rollback."""
    target = _target(bind)
    info = target.info
    info[_KEY] = conflict
    if info.get(_GUARDED):
        return
    info[_GUARDED] = True
    if isinstance(target, Session):
        event.listen(target, "before_commit", _refuse)
        event.listen(target, "after_rollback", _forget)
    else:
        event.listen(target, "commit", _refuse)
        event.listen(target, "rollback", _forget)


def _refuse(target: Any) -> None:
    conflict = target.info.get(_KEY)
    if conflict is not None:
        if isinstance(target, Connection):
            # SQLAlchemy ends its transaction object when a commit raises: end the
            # database's too, so the connection is clean for whatever comes next.
            target.info.pop(_KEY, None)
            target.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
        raise TransactionAbortedError(
            conflict,
            f"cannot commit: an occ write in this transaction ended it ({conflict.describe()}); "
            "its earlier writes are gone. Roll back and run the transaction again",
        )


def _forget(target: Any) -> None:
    target.info.pop(_KEY, None)
