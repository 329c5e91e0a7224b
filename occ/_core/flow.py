"""The write flows, written once as generators of steps (sans-IO).

Every repository method that writes runs one of these generators through a
driver: the driver performs each yielded step and sends back its result.
The same generator serves SQL and MongoDB, sync and async, and the in-memory
repository of :mod:`occ.testing`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from occ._core.decisions import Decision, Resolver, policy_options
from occ._core.model import Action, Conflict, ConflictKind, Record, Version
from occ._core.retry import RetryPolicy
from occ._core.settle import new_token, settle
from occ._core.steps import (
    Applied,
    Backoff,
    Call,
    Lost,
    Missed,
    Point,
    Read,
    Step,
    Stored,
    Write,
)
from occ._core.versions import VersionScheme
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
    "insert_flow",
    "is_strict",
    "joined_error",
    "modify_flow",
    "strict_writes",
    "write_flow",
]

Flow = Generator[Step, Any, Applied]

_STRICT: ContextVar[bool] = ContextVar("occ_strict_writes", default=False)


@contextmanager
def strict_writes() -> Iterator[None]:
    """Within this block, a conflict raises whatever the entity's policy is.

    Used where a write must not be resolved again, e.g. applying a reviewed
    resolution from a conflict store: a stale resolution is itself a conflict.
    """
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def is_strict() -> bool:
    """True inside :func:`strict_writes`."""
    return _STRICT.get()


@dataclass
class Stats:
    """Counters a repository keeps: conflicts met, retries made, decisions taken."""

    conflicts: int = 0
    retries: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def conflict(self) -> None:
        with self._lock:
            self.conflicts += 1

    def retry(self) -> None:
        with self._lock:
            self.retries += 1

    def decided(self, label: str) -> None:
        with self._lock:
            self.decisions[label] = self.decisions.get(label, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters, safe to keep."""
        with self._lock:
            return {
                "conflicts": self.conflicts,
                "retries": self.retries,
                "decisions": dict(self.decisions),
            }


@dataclass(frozen=True)
class FlowConfig:
    """What a flow needs to know about the entity it writes.

    Attributes:
        entity: name used in errors and conflicts.
        versions: the version scheme of the entity.
        retry: attempt budget and backoff.
        resolver: the entity's conflict policy.
        joined: the write runs inside a caller's transaction: a conflict raises
            at once (no resolution, no retry: the transaction must abort).
        points: yield named :class:`Point` steps for schedulers.
        stats: counters to update.
    """

    entity: str
    versions: VersionScheme
    retry: RetryPolicy
    resolver: Resolver
    joined: bool = False
    points: bool = False
    stats: Stats | None = None

    @property
    def on_exhausted(self) -> Resolver | None:
        """The resolver's fallback when the retry budget runs out, if it declares one."""
        return policy_options(self.resolver).on_exhausted

    @functools.cached_property
    def fast_ops(self) -> Mapping[str, Any]:
        """The commutative operation of each field the resolver declares (empty: none)."""
        return policy_options(self.resolver).fast_ops()


def _conflict(
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

    ``stored`` is what the first write tells the backend is stored at
    ``expected`` (``Write.base``): ``True`` means ``base`` (a snapshot the
    repository read), ``None`` nothing (a ``base`` the caller passed is only
    for merging). Resolved writes are told the record they were resolved against.
    """
    attempt = 1
    values: Mapping[str, Any] = changes
    written_on: Record | None = base if stored is True else None
    outcome_label = "written"
    alerted = False
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
        )
        outcome = yield from send(cfg, step)
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
            # An aborted transaction cannot read; otherwise one read classifies.
            theirs = yield Read(key, locking=cfg.joined, primary=True)
            if theirs is None:
                kind = "deleted"
            elif outcome.serialization and theirs.version != expected:
                kind = "version"
        conflict = _conflict(
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
        elif _STRICT.get():
            decision = Decision.raise_conflict()
        else:
            decision = cfg.resolver(conflict)
        yield from _take(cfg, decision)
        alerted = alerted or decision.alerted
        if decision.raises:
            raise ConflictError(conflict)
        if decision.values is None:
            return _kept(theirs, decision, attempt, alerted)
        attempt += 1
        if attempt > cfg.retry.attempts:
            return (yield from _exhausted(cfg, conflict, theirs, attempt - 1, alerted))
        if cfg.stats is not None:
            cfg.stats.retry()
        delay = cfg.retry.delay(attempt)
        if delay > 0:
            yield Backoff(delay)
        expected = theirs.version
        values = decision.values if action == "update" else values
        written_on = theirs.record
        outcome_label = decision.outcome


def modify_flow(
    cfg: FlowConfig,
    *,
    key: Any,
    fn: Callable[[Any], Any],
    to_value: Callable[[Stored], Any],
    diff: Callable[[Any, Stored], Mapping[str, Any]],
    attempts: int,
) -> Flow:
    """Read, apply ``fn``, write conditionally; on a conflict, back off and start over.

    Each attempt reads in a fresh transaction (a retry that re-read inside the
    same REPEATABLE READ transaction would see the old snapshot forever), so
    one attempt is exactly one read and one write. ``fn`` may run more than once.
    """
    attempt = 0
    missed: tuple[Stored, Mapping[str, Any]] | None = None
    while True:
        attempt += 1
        current = yield Read(key, primary=missed is not None)
        if missed is not None:
            last, last_changes = missed
            conflict = _conflict(
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
            if attempt > attempts:
                raise RetryExhaustedError(conflict, attempt - 1)
            if cfg.stats is not None:
                cfg.stats.retry()
        elif current is None:
            raise NotFoundError(cfg.entity, key)
        if cfg.points:
            yield Point("after_read", key)
        value = to_value(current)
        new_value = yield Call(fn, value)
        if new_value is None:
            new_value = value
        changes = diff(new_value, current)
        if not changes:
            return Applied(key, current.version, current.record, new_value, outcome="unchanged")
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
        )
        outcome = yield from send(cfg, step)
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
            conflict = _conflict(
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
        delay = cfg.retry.delay(attempt + 1)
        if delay > 0:
            yield Backoff(delay)
