"""The commutative fast path: writes that cannot conflict (pure).

When an entity opts in (``Merge(..., fast_path=True)``) and every field a
write changes has a commutative rule (``Counter``, ``Union``, ``Max``,
``Min``), the write is sent as one atomic server-side operation, e.g.
``UPDATE t SET hits = hits + :delta, version = version + 1 WHERE pk = :pk`` or
``{$inc: {hits: delta, version: 1}}``. It still bumps the version, but carries
no version predicate: the order of such writes does not matter, so they never
conflict. The delta is computed once, from the base the caller read.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from occ._core.decisions import FastOp, policy_options
from occ._core.flow import Flow, FlowConfig, is_strict, joined_error, send
from occ._core.merge import Unresolved
from occ._core.model import Conflict, Record
from occ._core.settle import new_token
from occ._core.steps import Applied, Backoff, Missed, Point, Write
from occ.errors import NotFoundError, RetryExhaustedError

__all__ = [
    "COMMUTATIVE",
    "FieldOp",
    "OpKind",
    "commutative_flow",
    "commutative_ops",
]

OpKind = FastOp

#: the outcome label of a write that took the fast path.
COMMUTATIVE = "commutative"


@dataclass(frozen=True, slots=True)
class FieldOp:
    """One server-side operation on a field.

    ``inc`` adds ``value``; ``add_to_set`` adds the items of ``value`` that are
    absent; ``max`` / ``min`` keep the larger / smaller of the stored value and
    ``value`` (a stored ``NULL`` takes ``value``).
    """

    kind: OpKind
    value: Any


def _delta(mine: Any, base: Any) -> Any:
    values = [0 if v is None else v for v in (mine, base)]
    if any(isinstance(v, bool) or not isinstance(v, numbers.Number) for v in values):
        raise Unresolved("not a number")
    return values[0] - values[1]


def commutative_ops(
    policy: Any,
    changes: Mapping[str, Any],
    base: Record | None,
    supported: Collection[str],
) -> dict[str, FieldOp] | None:
    """The server-side operations for ``changes``, or ``None`` if the fast path does not apply.

    ``policy`` is a resolver, or the mapping of fast operations it declares.

    It applies when ``policy`` declares a commutative operation for every
    changed field (:meth:`~occ._core.decisions.Policy.fast_ops`, e.g.
    ``Merge(..., fast_path=True)``) that the backend ``supported``; ``Counter``
    and ``Union`` also need the field's base (the delta is ``mine - base``; a
    set may only have grown).
    """
    declared = policy if isinstance(policy, Mapping) else policy_options(policy).fast_ops()
    if not declared or not changes or is_strict():
        return None
    ops: dict[str, FieldOp] = {}
    for name, mine in changes.items():
        kind = declared.get(name)
        if kind is None or kind not in supported:
            return None
        if kind in ("inc", "add_to_set") and (base is None or name not in base):
            return None
        if kind == "inc":
            try:
                ops[name] = FieldOp("inc", _delta(mine, base[name]))  # type: ignore[index]
            except Unresolved:
                return None
        elif kind == "add_to_set":
            before = list(base[name] or ())  # type: ignore[index]
            if not isinstance(mine, list | set | frozenset | tuple):
                return None
            after = list(mine)
            if any(item not in after for item in before):
                return None  # an item was removed: not a pure union
            ops[name] = FieldOp("add_to_set", [x for x in after if x not in before])
        else:
            if mine is None:
                return None
            ops[name] = FieldOp(kind, mine)
    return ops


def commutative_flow(cfg: FlowConfig, *, key: Any, ops: Mapping[str, FieldOp]) -> Flow:
    """Apply ``ops`` atomically: one unconditional write that bumps the version.

    A miss means the key is absent (:class:`~occ.NotFoundError`); a
    serialization abort is retried within the retry budget.
    """
    attempt = 1
    while True:
        if cfg.points:
            yield Point("before_write", key)
        step = Write("commute", key, None, None, ops, returning=True, token=new_token())
        outcome = yield from send(cfg, step)
        if isinstance(outcome, Applied):
            return Applied(
                outcome.key, outcome.version, outcome.record, outcome=COMMUTATIVE, attempts=attempt
            )
        assert isinstance(outcome, Missed)
        if not outcome.serialization:
            raise NotFoundError(cfg.entity, key)
        conflict = Conflict(
            entity=cfg.entity,
            key=key,
            action="update",
            kind="serialization",
            base=None,
            mine={name: op.value for name, op in ops.items()},
            changes={name: op.value for name, op in ops.items()},
            theirs=None,
            expected_version=None,
            actual_version=None,
            attempt=attempt,
        )
        if cfg.stats is not None:
            cfg.stats.conflict()
        if cfg.joined:
            raise joined_error(conflict)
        if attempt >= cfg.retry.attempts:
            raise RetryExhaustedError(conflict, attempt)
        attempt += 1
        if cfg.stats is not None:
            cfg.stats.retry()
        delay = cfg.retry.delay(attempt)
        if delay > 0:
            yield Backoff(delay)
