"""The write flows, written once as generators of steps (sans-IO).

Every repository method that writes runs one of these generators through a
driver: the driver performs each yielded step and sends back its result.
The same generator serves SQL and MongoDB, sync and async, and the in-memory
repository of :mod:`occ.testing`.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from occ._core.config import FlowConfig, Stats, is_strict, strict_writes
from occ._core.decisions import Decision
from occ._core.model import Action, Conflict, ConflictKind, Record, Version
from occ._core.settle import new_token, settle
from occ._core.steps import (
    Applied,
    Backoff,
    Hold,
    Lost,
    Missed,
    Point,
    Read,
    Release,
    Step,
    Stored,
    Write,
)
from occ.errors import (
    AlreadyExistsError,
    ConflictError,
    DeletedError,
    NotFoundError,
    RetryExhaustedError,
    TransactionAbortedError,
)

__all__ = [
    "Flow",
    "FlowConfig",
    "Stats",
    "attempted",
    "insert_flow",
    "is_strict",
    "joined_error",
    "locks_now",
    "make_conflict",
    "send",
    "starts_hot",
    "strict_writes",
    "write_flow",
]

Flow = Generator[Step, Any, Applied]


def make_conflict(
    cfg: FlowConfig,
    *,
    key: Any,
    action: Action,
    kind: ConflictKind,
    base: Record | None,
    changes: Mapping[str, Any],
    theirs: Stored | None,
    expected: Version | None,
    attempt: int,
) -> Conflict:
    mine = {**base, **changes} if base is not None else dict(changes)
    return Conflict(
        entity=cfg.entity,
        key=key,
        action=action,
        kind=kind,
        base=base,
        mine=mine,
        changes=dict(changes),
        theirs=None if theirs is None else theirs.record,
        expected_version=expected,
        actual_version=None if theirs is None else theirs.version,
        attempt=attempt,
    )


def joined_error(conflict: Conflict) -> ConflictError:
    """The error of a conflict inside a caller's transaction: an aborted transaction is
    told apart from a version conflict the transaction survives."""
    if conflict.kind == "serialization":
        return TransactionAbortedError(
            conflict,
            f"{conflict.describe()}; the database ended the caller's transaction, so its "
            "earlier writes are gone: roll it back and run it again",
        )
    return ConflictError(conflict)


def _take(cfg: FlowConfig, decision: Decision) -> Generator[Step, Any, None]:
    """Run the side effects a decision asked for (results ignored), then count it."""
    for effect in decision.effects:
        yield effect
    if cfg.stats is not None:
        cfg.stats.decided(decision.outcome)


def _kept(theirs: Stored, decision: Decision, attempts: int, alerted: bool) -> Applied:
    """The result of a decision that keeps what is stored."""
    return Applied(
        theirs.key,
        theirs.version,
        theirs.record,
        outcome=decision.outcome,
        attempts=attempts,
        alerted=alerted or decision.alerted,
    )


def _exhausted(
    cfg: FlowConfig, conflict: Conflict, theirs: Stored, attempts: int, alerted: bool
) -> Flow:
    """The retry budget ran out: the policy's ``on_exhausted`` resolver, else raise.

    The fallback may keep theirs (its effects, e.g. archiving mine, run first);
    any other decision raises :class:`RetryExhaustedError`, after its effects
    (an alert still persists the conflict). It never writes: that stays bounded.
    """
    fallback = cfg.on_exhausted
    if fallback is None:
        raise RetryExhaustedError(conflict, attempts)
    decision = fallback(conflict)
    yield from _take(cfg, decision)
    if not decision.raises and decision.values is None:
        return _kept(theirs, decision, attempts, alerted)
    raise RetryExhaustedError(conflict, attempts)


def send(cfg: FlowConfig, step: Write) -> Generator[Step, Any, Applied | Missed]:
    """Yield ``step``; if its reply was lost, establish whether it applied (see
    :mod:`occ._core.settle`)."""
    outcome = yield step
    if type(outcome) is Lost:
        outcome = yield from settle(step, cfg.entity)
    return outcome  # type: ignore[no-any-return]


def insert_flow(
    cfg: FlowConfig, key: Any, record: Mapping[str, Any], *, fresh: bool = False
) -> Flow:
    """Insert at the initial version; a taken key raises :class:`AlreadyExistsError`.

    ``fresh``: the key was generated for this insert (no tombstone to look up).
    """
    step = Write(
        "insert",
        key,
        None,
        cfg.versions.initial(),
        record,
        returning=True,
        token=new_token(),
        fresh=fresh,
    )
    outcome = yield from send(cfg, step)
    if isinstance(outcome, Missed):
        raise AlreadyExistsError(cfg.entity, key)
    return outcome


def write_flow(
    cfg: FlowConfig,
    *,
    action: Action,
    key: Any,
    expected: Version,
    changes: Mapping[str, Any],
    base: Record | None,
    returning: bool,
    stored: Record | bool | None = True,
) -> Flow:
    """A conditional update or delete; conflicts go to the entity's resolver.

    A miss is classified by one read by key: absent means not found (or, if the
    writer had read the row, deleted under it); present means a version conflict
    that the resolver decides. A resolved write is conditional again, at the
    stored version; each new conflict counts one attempt of the retry budget.
    After ``cfg.lock_after`` conflicts, the classifying read takes the row lock
    and the resolved write runs under it: that attempt cannot lose again (it is
    made even when the retry budget is spent, since it cannot conflict).

    ``stored`` is what the first write tells the backend is stored at
    ``expected`` (``Write.base``): ``True`` means ``base`` (a snapshot the
    repository read), ``None`` nothing (a ``base`` the caller passed is only
    for merging). Resolved writes are told the record they were resolved against.
    """
    held: list[Hold] = []
    try:
        return (
            yield from _write_loop(
                cfg, held, action, key, expected, changes, base, returning, stored
            )
        )
    except BaseException:
        for hold in held:  # a lock still held: roll its transaction back
            yield Release(hold, commit=False)
        raise


def locks_now(cfg: FlowConfig, conflicts: int) -> bool:
    """Whether the next attempt after ``conflicts`` conflicts takes the row lock."""
    return cfg.lock_after is not None and not cfg.joined and conflicts >= cfg.lock_after


def starts_hot(cfg: FlowConfig, key: Any) -> bool:
    """Whether a write of ``key`` takes the row lock at its first chance now: the key's
    optimistic attempts keep losing (see :mod:`occ._core.hot`)."""
    return (
        cfg.lock_after is not None
        and not cfg.joined
        and cfg.hot is not None
        and cfg.hot.is_hot(key)
    )


def attempted(cfg: FlowConfig, key: Any, *, lost: bool) -> None:
    """Count an optimistic attempt on ``key`` that ``lost`` (a conflict) or not: keys
    whose attempts keep losing run hot (see :mod:`occ._core.hot`)."""
    if cfg.hot is not None and not cfg.joined:
        cfg.hot.attempted(key, lost=lost)


def _write_loop(
    cfg: FlowConfig,
    held: list[Hold],
    action: Action,
    key: Any,
    expected: Version,
    changes: Mapping[str, Any],
    base: Record | None,
    returning: bool,
    stored: Record | bool | None,
) -> Flow:
    attempt = 1
    values: Mapping[str, Any] = changes
    written_on: Record | None = base if stored is True else None
    outcome_label = "written"
    alerted = False
    hold: Hold | None = None
    while True:
        if cfg.points:
            yield Point("before_write", key)
        step = Write(
            action,
            key,
            expected,
            cfg.versions.next(expected),
            values,
            base=written_on,
            returning=returning,
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
            if attempt == 1 and outcome.based_on == expected and not outcome.settled:
                return outcome  # as the driver reported it: written, at the first attempt
            record = outcome.record
            resolved = attempt > 1 or outcome.settled
            if record is None and written_on is not None and action == "update" and resolved:
                record = {**written_on, **values}
            if record is None and outcome.settled and returning:
                # Settled after others wrote, and what this write stored is not known
                # whole: return what is stored now.
                now = yield Read(key, primary=True)
                if now is not None:
                    record = now.record
                    outcome = Applied(now.key, now.version, now.record, settled=True)
            return Applied(
                outcome.key,
                outcome.version,
                record,
                outcome.value,
                outcome=outcome_label,
                attempts=attempt,
                based_on=expected,
                alerted=alerted,
                settled=outcome.settled,
            )
        assert isinstance(outcome, Missed)
        kind: ConflictKind = "serialization" if outcome.serialization else "version"
        theirs: Stored | None = None
        if not (cfg.joined and outcome.serialization):
            # An aborted transaction cannot read; otherwise one read classifies (under
            # the row lock, which the resolved write keeps, once the key runs hot).
            if starts_hot(cfg, key) or locks_now(cfg, attempt):
                hold = Hold()
                held.append(hold)
                if cfg.stats is not None:
                    cfg.stats.locked()
            theirs = yield Read(key, locking=cfg.joined, primary=True, hold=hold)
            if theirs is None:
                kind = "deleted"
            elif outcome.serialization and theirs.version != expected:
                kind = "version"
        conflict = make_conflict(
            cfg,
            key=key,
            action=action,
            kind=kind,
            base=base,
            changes=changes,
            theirs=theirs,
            expected=expected,
            attempt=attempt,
        )
        if cfg.stats is not None:
            cfg.stats.conflict()
        if kind == "deleted":
            if base is None and attempt == 1:
                raise NotFoundError(cfg.entity, key)
            raise DeletedError(conflict)
        if cfg.points:
            yield Point("after_conflict", key)
        if cfg.joined:
            raise joined_error(conflict)
        assert theirs is not None
        if theirs.version == expected:
            # A serialization abort with the version unchanged: try the same write again.
            decision = Decision.write(values, outcome="retried")
        elif is_strict():
            decision = Decision.raise_conflict()
        else:
            decision = cfg.resolver(conflict)
        yield from _take(cfg, decision)
        alerted = alerted or decision.alerted
        if decision.raises:
            raise ConflictError(conflict)
        if decision.values is None:
            if hold is not None:
                held.remove(hold)
                yield Release(hold, commit=False)
            return _kept(theirs, decision, attempt, alerted)
        attempt += 1
        if attempt > cfg.retry.attempts and hold is None:
            return (yield from _exhausted(cfg, conflict, theirs, attempt - 1, alerted))
        if cfg.stats is not None:
            cfg.stats.retry()
        delay = cfg.retry.delay(attempt)
        if delay > 0 and hold is None:  # never sleep holding a row lock
            yield Backoff(delay)
        expected = theirs.version
        values = decision.values if action == "update" else values
        written_on = theirs.record
        outcome_label = decision.outcome
