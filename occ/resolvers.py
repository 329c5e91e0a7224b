"""Conflict resolvers: pure functions of a :class:`~occ.Conflict` that return a decision.

A resolver is any callable ``(Conflict) -> Decision``; the classes here are the
built-in ones. The decision is applied by the core flow, the same for every
backend, sync or async. Side effects a resolver wants (archive, alert) travel
in ``Decision.effects`` and are run by the driver before the decision applies.

Every built-in takes ``on_exhausted``: the resolver asked when the retry
budget runs out. If it keeps theirs (``Discard``, optionally archiving mine)
the write returns the stored value; otherwise :class:`~occ.RetryExhaustedError`
is raised (after the fallback's effects, e.g. an alert, ran).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from occ._core.decisions import Decision, KeepTheirs, RaiseConflict, Resolver, WriteValues
from occ._core.merge import (
    Counter,
    FieldRule,
    Max,
    MergeEntry,
    MergeResult,
    Min,
    Mine,
    Rule,
    Theirs,
    Union,
    Unresolved,
    three_way,
)
from occ._core.model import Conflict

__all__ = [
    "Alert",
    "Counter",
    "Decision",
    "Discard",
    "FieldRule",
    "KeepTheirs",
    "Max",
    "Merge",
    "MergeEntry",
    "MergeResult",
    "Min",
    "Mine",
    "Overwrite",
    "Raise",
    "RaiseConflict",
    "Resolver",
    "Rule",
    "Theirs",
    "Union",
    "Unresolved",
    "WriteValues",
]


@dataclasses.dataclass(frozen=True)
class Raise:
    """The default policy: raise :class:`~occ.ConflictError` carrying the conflict."""

    on_exhausted: Resolver | None = None

    def __call__(self, conflict: Conflict) -> Decision:
        return RaiseConflict()


@dataclasses.dataclass(frozen=True)
class Discard:
    """The store wins: the write is dropped and the stored value returned.

    Args:
        archive: a conflict store; mine is persisted there with status
            ``discarded`` before the write returns, so nothing submitted is lost
            (a failing archive fails the write instead of dropping it).
        on_exhausted: see the module docstring.
    """

    archive: Any = None
    on_exhausted: Resolver | None = None

    def __call__(self, conflict: Conflict) -> Decision:
        decision = KeepTheirs()
        if self.archive is None:
            return decision
        from occ.conflicts._dispatch import archive_effect

        return dataclasses.replace(
            decision, effects=(archive_effect(self.archive, conflict, "discarded", decision),)
        )


@dataclasses.dataclass(frozen=True)
class Overwrite:
    """The client wins: its changes are written again at the stored version.

    The write stays conditional: if yet another writer got in first, the
    conflict is resolved again, within the retry budget.

    Args:
        archive: a conflict store; the overwritten value (theirs) is persisted
            there with status ``overwritten`` first.
        on_exhausted: see the module docstring.
    """

    archive: Any = None
    on_exhausted: Resolver | None = None

    def __call__(self, conflict: Conflict) -> Decision:
        decision = WriteValues(values=dict(conflict.changes))
        if self.archive is None:
            return decision
        from occ.conflicts._dispatch import archive_effect

        effect = archive_effect(self.archive, conflict, "overwritten", decision)
        return dataclasses.replace(decision, effects=(effect,))


@dataclasses.dataclass(frozen=True)
class Merge:
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
    on_exhausted: Resolver | None = None

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
            return KeepTheirs(label="merged", details=details)
        return WriteValues(values=result.values, label="merged", details=details)

    def _escalate(self, conflict: Conflict, details: Mapping[str, Any]) -> Decision:
        decision = self.fallback(conflict)
        return dataclasses.replace(decision, details={**details, **decision.details})


class Alert:
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

    def __init__(
        self,
        *sinks: Any,
        then: Resolver | None = None,
        timeout: float | None = 5.0,
        on_exhausted: Resolver | None = None,
    ) -> None:
        from occ.conflicts._dispatch import ConflictArchive

        if not sinks:
            raise TypeError("Alert needs at least one sink or conflict store")
        self.stores = tuple(s for s in sinks if isinstance(s, ConflictArchive))
        self.sinks = tuple(s for s in sinks if not isinstance(s, ConflictArchive))
        for sink in self.sinks:
            if not callable(sink):
                raise TypeError(f"a sink is a callable of a ConflictEvent, got {sink!r}")
        self.then: Resolver = then if then is not None else Raise()
        self.timeout = timeout
        self.on_exhausted = on_exhausted

    def __repr__(self) -> str:
        return f"Alert(*{[*self.stores, *self.sinks]!r}, then={self.then!r})"

    def __call__(self, conflict: Conflict) -> Decision:
        from occ.conflicts._dispatch import alert_effect

        decision = self.then(conflict)
        effect = alert_effect(self.stores, self.sinks, conflict, decision, timeout=self.timeout)
        return dataclasses.replace(decision, effects=(effect, *decision.effects))
