"""What a flush will do beyond plain saves, learnt in ``before_flush``.

It keeps the flush's unit of work, to recognise a *row switch* (a new object
whose key belongs to an object deleted in the same flush) and whether the
session is inside its flush; and it finds the rows a ``post_update=True``
relationship will UPDATE after the flush's saves, so that each gets a version
check and bump first.
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import InstanceState, Mapper, Session, UOWTransaction
from sqlalchemy.orm.attributes import flag_dirty

from occ.orm._registry import options_for

__all__ = ["deleted_in_flush", "flushing", "post_update_pending"]

#: the unit of work of each session's flush in progress.
_flushes: weakref.WeakKeyDictionary[Session, UOWTransaction] = weakref.WeakKeyDictionary()
#: by session: ids of the states whose rows a post_update will change in this flush.
_post_updated: weakref.WeakKeyDictionary[Session, set[int]] = weakref.WeakKeyDictionary()


def flushing(session: Session) -> bool:
    """Whether ``session`` is inside its flush's unit of work (saves, post updates)."""
    uow = _flushes.get(session)
    transaction = getattr(uow, "transaction", None)
    return transaction is not None and bool(transaction.is_active)


def deleted_in_flush(mapper: Mapper[Any], target: Any) -> Any:
    """The persistent object this flush deletes under ``target``'s key (a row switch)."""
    state: InstanceState[Any] = sa.inspect(target)
    session = state.session
    uow = _flushes.get(session) if session is not None else None
    if uow is None or session is None:
        return None
    key = mapper.identity_key_from_instance(target)
    if any(part is None for part in key[1]):
        return None
    existing = session.identity_map.get(key)
    if existing is None or existing is target:
        return None
    existing_state: InstanceState[Any] = sa.inspect(existing)
    deleted = uow.is_deleted(existing_state)  # type: ignore[no-untyped-call]
    if deleted and not uow.was_already_deleted(existing_state):  # type: ignore[no-untyped-call]
        return existing
    return None


def post_update_pending(state: InstanceState[Any]) -> bool:
    """Whether a ``post_update`` relationship will UPDATE this object's row in this flush."""
    session = state.session
    if session is not None and id(state) in _post_updated.get(session, ()):
        return True
    return any(
        rel.post_update
        and rel.direction is sa.orm.MANYTOONE
        and state.attrs[rel.key].history.has_changes()
        for rel in state.mapper.relationships
    )


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush: UOWTransaction, instances: Any) -> None:
    _flushes[session] = flush
    pending: set[int] = set()
    _post_updated[session] = pending
    for obj in (*session.new, *session.dirty, *session.deleted):
        state: InstanceState[Any] = sa.inspect(obj)
        for rel in state.mapper.relationships:
            if not rel.post_update or rel.direction is not sa.orm.ONETOMANY:
                continue
            history = state.attrs[rel.key].history
            children = [*history.added, *history.deleted]
            if obj in session.deleted and not rel.cascade.delete:
                children += history.unchanged  # their foreign keys are set to NULL
            for child in children:
                child_state: InstanceState[Any] = sa.inspect(child)
                if (
                    child_state.has_identity
                    and child not in session.deleted
                    and options_for(child_state.class_) is not None
                ):
                    pending.add(id(child_state))
                    flag_dirty(child)
