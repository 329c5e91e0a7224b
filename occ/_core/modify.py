"""``modify``'s flow: read, apply the caller's function, write conditionally (sans-IO)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from occ._core.commutative import COMMUTATIVE, commutative_flow, commutative_ops
from occ._core.config import FlowConfig
from occ._core.flow import (
    Flow,
    attempted,
    joined_error,
    locks_now,
    make_conflict,
    send,
    starts_hot,
)
from occ._core.model import ConflictKind
from occ._core.settle import new_token
from occ._core.steps import (
    Applied,
    Backoff,
    Call,
    Hold,
    Point,
    Read,
    Release,
    Stored,
    Write,
)
from occ.errors import DeletedError, NotFoundError, RetryExhaustedError

__all__ = ["modify_flow"]


def modify_flow(
    cfg: FlowConfig,
    *,
    key: Any,
    fn: Callable[[Any], Any] | None,
    to_value: Callable[[Stored], Any],
    diff: Callable[[Any, Stored], Mapping[str, Any]],
    attempts: int,
) -> Flow:
    """Read, apply ``fn``, write conditionally; on a conflict, back off and start over.

    Each attempt reads in a fresh transaction (a retry that re-read inside the
    same REPEATABLE READ transaction would see the old snapshot forever), so
    one attempt is exactly one read and one write. ``fn`` may run more than once.

    The entity's policy applies where it can: when it declares commutative
    rules for every field ``fn`` changed (``Merge(..., fast_path=True)``), the
    change is sent as one atomic operation that never conflicts. After
    ``cfg.lock_after`` conflicts, an attempt reads under the row lock and writes
    under it: it cannot lose, and it is made even when ``attempts`` ran out.
    Other policies (``Merge``, ``Overwrite``, ``Discard``) have nothing to
    decide here: ``fn`` itself runs again on the fresh value.

    ``fn=None`` (``increment``): no user function; ``diff(None, current)`` gives the
    changes from the stored record.
    """
    held: list[Hold] = []
    try:
        return (yield from _modify_loop(cfg, held, key, fn, to_value, diff, attempts))
    except BaseException:
        for hold in held:
            yield Release(hold, commit=False)
        raise


def _modify_loop(
    cfg: FlowConfig,
    held: list[Hold],
    key: Any,
    fn: Callable[[Any], Any] | None,
    to_value: Callable[[Stored], Any],
    diff: Callable[[Any, Stored], Mapping[str, Any]],
    attempts: int,
) -> Flow:
    attempt = 0
    missed: tuple[Stored, Mapping[str, Any]] | None = None
    hold: Hold | None = None
    while True:
        attempt += 1
        # A hot key's attempt reads under the lock at once (its first one included).
        if starts_hot(cfg, key) or (missed is not None and locks_now(cfg, attempt - 1)):
            hold = Hold()
            held.append(hold)
            if cfg.stats is not None:
                cfg.stats.locked()
        current = yield Read(key, primary=missed is not None or hold is not None, hold=hold)
        if missed is not None:
            last, last_changes = missed
            conflict = make_conflict(
                cfg,
                key=key,
                action="update",
                kind="version" if current is not None else "deleted",
                base=last.record,
                changes=last_changes,
                theirs=current,
                expected=last.version,
                attempt=attempt - 1,
            )
            if cfg.stats is not None:
                cfg.stats.conflict()
            if current is None:
                raise DeletedError(conflict)
            if attempt > attempts and hold is None:
                raise RetryExhaustedError(conflict, attempt - 1)
            if cfg.stats is not None:
                cfg.stats.retry()
        elif current is None:
            raise NotFoundError(cfg.entity, key)
        if cfg.points:
            yield Point("after_read", key)
        if fn is None:
            new_value = None
        else:
            value = to_value(current)
            new_value = yield Call(fn, value)
            if new_value is None:
                new_value = value
        changes = diff(new_value, current)
        if not changes:
            if hold is not None:
                held.remove(hold)
                yield Release(hold, commit=False)
            return Applied(key, current.version, current.record, new_value, outcome="unchanged")
        ops = None
        if cfg.fast_ops and hold is None and not cfg.joined:
            ops = commutative_ops(cfg.fast_ops, changes, current.record, cfg.commutative)
        if ops is not None:
            # The policy declares these fields commutative: one atomic write, no conflict.
            applied = yield from commutative_flow(cfg, key=key, ops=ops)
            return Applied(
                key, applied.version, applied.record, outcome=COMMUTATIVE, attempts=attempt
            )
        if cfg.points:
            yield Point("before_write", key)
        step = Write(
            "update",
            key,
            current.version,
            cfg.versions.next(current.version),
            changes,
            base=current.record,
            token=new_token(),
            hold=hold,
        )
        outcome = yield from send(cfg, step)
        if hold is not None:
            held.remove(hold)
            yield Release(hold, commit=isinstance(outcome, Applied))
            hold = None
        elif cfg.hot is not None:
            attempted(cfg, key, lost=not isinstance(outcome, Applied))
        if isinstance(outcome, Applied):
            if outcome.settled and outcome.record is not None:
                # Established after a lost reply: what is stored now (maybe newer than ours).
                record, value = outcome.record, None
            else:
                record, value = {**current.record, **changes}, new_value
            return Applied(
                key,
                outcome.version,
                record,
                value,
                outcome="written" if attempt == 1 else "retried",
                attempts=attempt,
                based_on=current.version,
            )
        missed = (current, changes)
        if cfg.joined:
            # Inside a caller's transaction: classify and raise, never retry.
            theirs = (
                None if outcome.serialization else (yield Read(key, locking=True, primary=True))
            )
            kind: ConflictKind = "serialization" if outcome.serialization else "version"
            conflict = make_conflict(
                cfg,
                key=key,
                action="update",
                kind="deleted" if theirs is None and kind == "version" else kind,
                base=current.record,
                changes=changes,
                theirs=theirs,
                expected=current.version,
                attempt=attempt,
            )
            if cfg.stats is not None:
                cfg.stats.conflict()
            if conflict.deleted:
                raise DeletedError(conflict)
            raise joined_error(conflict)
        if cfg.points:
            yield Point("after_conflict", key)
        if locks_now(cfg, attempt):
            continue  # the next attempt holds the row lock: no point waiting
        delay = cfg.retry.delay(attempt + 1)
        if delay > 0:
            yield Backoff(delay)
