"""Conflict resolvers: pure functions of a :class:`~occ.Conflict` that return a decision.

A resolver is any callable ``(Conflict) -> Decision``; the classes here are the
built-in ones. The decision is applied by the core flow, the same for every
backend, sync or async. Side effects a resolver wants (archive, alert) travel
in ``Decision.effects`` as data, performed by the driver before the decision
applies.

The per-field rules of :class:`Merge` live in :mod:`occ.resolvers.rules`
(``Counter``, ``Union``, ``Max``, ``Min``, ``Mine``, ``Theirs``); they are
importable from here too.

Every built-in takes ``on_exhausted``: the resolver asked when the retry
budget runs out. If it keeps theirs (``Discard``, optionally archiving mine)
the write returns the stored value; otherwise :class:`~occ.RetryExhaustedError`
is raised (after the fallback's effects, e.g. an alert, ran).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from occ._core.decisions import Decision, FastOp, Policy, Resolver
from occ._core.merge import three_way
from occ._core.model import Conflict
from occ._core.steps import Archive, Notify
from occ.resolvers import rules
from occ.resolvers.rules import Counter as Counter
from occ.resolvers.rules import FieldRule
from occ.resolvers.rules import Max as Max
from occ.resolvers.rules import Min as Min
from occ.resolvers.rules import Mine as Mine
from occ.resolvers.rules import Theirs as Theirs
from occ.resolvers.rules import Union as Union

__all__ = [
    "Alert",
    "Decision",
    "Discard",
    "Merge",
    "Overwrite",
    "Policy",
    "Raise",
    "Resolver",
    "rules",
]


def _archived(decision: Decision, store: Any, conflict: Conflict, status: str) -> Decision:
    """``decision`` that first persists ``conflict`` in ``store`` (when one is given)."""
    if store is None:
        return decision
    effect = Archive(store, conflict, status, decision.outcome, decision.details)
    return dataclasses.replace(decision, effects=(effect, *decision.effects))


@dataclasses.dataclass(frozen=True)
class Raise(Policy):
    """The default policy: raise :class:`~occ.ConflictError` carrying the conflict."""

    def __call__(self, conflict: Conflict) -> Decision:
        return Decision.raise_conflict()


@dataclasses.dataclass(frozen=True)
class Discard(Policy):
    """The store wins: the write is dropped and the stored value returned.

    Args:
        archive: a conflict store; mine is persisted there with status
            ``discarded`` before the write returns, so nothing submitted is lost
            (a failing archive fails the write instead of dropping it).
        on_exhausted: see the module docstring.
    """

    archive: Any = None

    def __call__(self, conflict: Conflict) -> Decision:
        return _archived(Decision.keep_theirs("discarded"), self.archive, conflict, "discarded")


@dataclasses.dataclass(frozen=True)
class Overwrite(Policy):
    """The client wins: its changes are written again at the stored version.

    The write stays conditional: if yet another writer got in first, the
    conflict is resolved again, within the retry budget.

    Args:
        archive: a conflict store; the overwritten value (theirs) is persisted
            there with status ``overwritten`` first.
        on_exhausted: see the module docstring.
    """

    archive: Any = None

    def __call__(self, conflict: Conflict) -> Decision:
        decision = Decision.write(conflict.changes, "overwritten")
        return _archived(decision, self.archive, conflict, "overwritten")


@dataclasses.dataclass(frozen=True)
class Merge(Policy):
    """Three-way, field-level merge of my changes into theirs.

    Changes to different fields (or different keys of a dict field) merge.
    An overlap goes to the field's rule in ``fields`` (``Counter``, ``Union``,
    ``Max``, ``Min``, ``Mine``, ``Theirs`` or a ``(base, mine, theirs) -> value``
    callable; keys may be nested paths, ``"stats.views"``). An overlap no rule
    decides, a delete, or a missing base where one is needed escalates to
    ``fallback``. The decision's ``details["merge"]`` lists every per-field
    decision (path, base, mine, theirs, action, result).

    On a retry the merge is recomputed from the same base and my changes
    against the new theirs, so a ``Counter`` delta is never applied twice.

    Args:
        fields: per-path rules for overlaps.
        fallback: the resolver for what the merge cannot decide (default: raise).
        fast_path: opt in to the commutative fast path: a write whose changed
            fields all have commutative rules is sent as one atomic server-side
            operation without a version predicate, and never conflicts.
        on_exhausted: see the module docstring.
    """

    fields: Mapping[str, FieldRule] = dataclasses.field(default_factory=dict)
    fallback: Resolver = dataclasses.field(default_factory=Raise)
    fast_path: bool = False

    def fast_ops(self) -> Mapping[str, FastOp]:
        """With ``fast_path``, the fields whose rules commute and their atomic operations."""
        if not self.fast_path:
            return {}
        return {name: op for name, rule in self.fields.items() if (op := rules.fast_op(rule))}

    def __call__(self, conflict: Conflict) -> Decision:
        if conflict.action != "update" or conflict.theirs is None:
            reason = "a delete cannot be merged" if conflict.action != "update" else "no theirs"
            return self._escalate(conflict, {"merge": [], "unresolved": [], "reason": reason})
        result = three_way(conflict.base, conflict.changes, conflict.theirs, self.fields)
        details: dict[str, Any] = {
            "merge": [entry.as_dict() for entry in result.entries],
            "unresolved": list(result.unresolved),
        }
        if not result.ok:
            return self._escalate(conflict, details)
        if not result.values:
            return Decision.keep_theirs("merged", details=details)
        return Decision.write(result.values, "merged", details=details)

    def _escalate(self, conflict: Conflict, details: Mapping[str, Any]) -> Decision:
        decision = self.fallback(conflict)
        return dataclasses.replace(decision, details={**details, **decision.details})


@dataclasses.dataclass(frozen=True, init=False, repr=False, eq=False)
class Alert(Policy):
    """Persist the conflict, notify, then apply another resolver's decision.

    Stores among ``sinks`` (a :class:`~occ.conflicts.sql.ConflictStore`, ...)
    persist the conflict with status ``pending`` before any other sink runs;
    a store that fails fails the write (nothing is lost silently). Other sinks
    (``LoggingSink``, ``CallbackSink``, ``MetricsSink`` or any callable of a
    :class:`~occ.conflicts.ConflictEvent`, sync or async) are each bounded by
    ``timeout`` seconds; one that raises or hangs is logged and skipped, and
    never fails the write.

    Args:
        *sinks: conflict stores and sinks, in order.
        then: the resolver whose decision is applied (default: raise).
        timeout: seconds each sink may take (``None``: unbounded, run inline).
        on_exhausted: see the module docstring.
    """

    stores: tuple[Any, ...]
    sinks: tuple[Any, ...]
    then: Resolver
    timeout: float | None

    def __init__(
        self,
        *sinks: Any,
        then: Resolver | None = None,
        timeout: float | None = 5.0,
        on_exhausted: Resolver | None = None,
    ) -> None:
        if not sinks:
            raise TypeError("Alert needs at least one sink or conflict store")
        plain = tuple(s for s in sinks if not _is_store(s))
        for sink in plain:
            if not callable(sink):
                raise TypeError(f"a sink is a callable of a ConflictEvent, got {sink!r}")
        fields = {
            "stores": tuple(s for s in sinks if _is_store(s)),
            "sinks": plain,
            "then": then if then is not None else Raise(),
            "timeout": timeout,
            "on_exhausted": on_exhausted,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"Alert(*{[*self.stores, *self.sinks]!r}, then={self.then!r})"

    def __call__(self, conflict: Conflict) -> Decision:
        decision = self.then(conflict)
        effect = Notify(
            self.stores, self.sinks, conflict, decision.outcome, decision.details, self.timeout
        )
        return dataclasses.replace(decision, effects=(effect, *decision.effects), alerted=True)


def _is_store(sink: Any) -> bool:
    """A conflict store (it persists conflicts with ``add``), not a sink (a callable)."""
    return callable(getattr(sink, "add", None)) and not callable(sink)
