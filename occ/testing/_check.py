"""The history checker: lost updates, broken version chains, lost or doubled writes, totals.

One pass validates the history and groups the operations by key; each key is
then audited (:mod:`occ.testing._audit`) in time linear in its operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from occ._core.model import Version
from occ.testing._audit import ANOMALIES, Anomaly, audit
from occ.testing._history import OUTCOMES, History, HistoryError, Operation, State

__all__ = ["ANOMALIES", "Anomaly", "HistoryAnomalyError", "Report", "check_history"]


@dataclass(frozen=True)
class Report:
    """What :func:`check_history` found.

    Attributes:
        keys: how many keys were checked.
        operations: how many operations.
        committed: how many of them applied: the committed ones, and the unknown
            outcomes the version chain shows applied.
        anomalies: what is wrong (empty when the history is clean).
        unknown: how many operations had an unknown outcome.
        unknown_applied: how many of those the final state shows applied, once
            each (by the version chain or a stored token); the rest did not apply
            or left no trace.
    """

    keys: int
    operations: int
    committed: int
    anomalies: tuple[Anomaly, ...] = field(default=())
    unknown: int = 0
    unknown_applied: int = 0

    @property
    def ok(self) -> bool:
        """True when no anomaly was found."""
        return not self.anomalies

    @property
    def kinds(self) -> set[str]:
        """The kinds of anomaly found."""
        return {a.kind for a in self.anomalies}

    def __str__(self) -> str:
        head = f"{self.operations} operations on {self.keys} keys, {self.committed} committed"
        if self.unknown:
            head += f" ({self.unknown_applied} of {self.unknown} unknown outcomes applied)"
        head += ": " + ("no anomaly" if self.ok else f"{len(self.anomalies)} anomalies")
        return "\n".join([head, *(str(a) for a in self.anomalies)])


class HistoryAnomalyError(AssertionError):
    """The history shows anomalies; ``report.anomalies`` lists them.

    Attributes:
        report: the full :class:`Report`.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(str(report))

    @property
    def kinds(self) -> set[str]:
        """The kinds of anomaly found."""
        return self.report.kinds


def check_history(
    history: History,
    final: Mapping[Any, State | tuple[Version, Mapping[str, Any]]],
    *,
    counters: Iterable[str] = (),
    raise_on_anomaly: bool = True,
) -> Report:
    """Prove, key by key, that a history of versioned writes lost nothing and doubled nothing.

    Checks, in time linear in the operations:

    - no two committed writes read the same version (lost update) or stored
      the same one; an int version goes up by one per write;
    - every version from the initial to the final one was produced by exactly
      one recorded write: a committed one, or an ``unknown`` outcome (which
      then applied, once); with int versions, final - initial = committed +
      applied unknown outcomes;
    - every acknowledged write is present: on that chain, and the last one is
      what the final state holds;
    - tokens the writes stored (a field holding the operation's ``token``, or
      a list of recent tokens) name who wrote: a write that reported failure,
      or no recorded write, is a ``phantom-write``; a token stored twice is a
      ``duplicate-apply``;
    - each field of ``counters`` equals its initial value plus the committed
      deltas plus the deltas of some unknown outcomes, each used at most once.
      If it only adds up with one write applied twice (and the versions show a
      write nobody accounts for), that is a ``duplicate-apply`` naming the
      suspects, else a ``counter-mismatch``.

    Every key with an initial and a final state is checked, even one no
    operation wrote (it must not have moved). An ``unknown`` operation should
    record the version it expected as ``read_version`` and the ``deltas`` it
    would have applied.

    Args:
        history: the recorded operations and initial states.
        final: each key's state after the run (``State`` or ``(version, values)``).
        counters: fields that writers only increment, by the ``deltas`` they record.
        raise_on_anomaly: raise :class:`HistoryAnomalyError` (default) or
            return a report listing the anomalies.

    Returns:
        The report (clean, unless ``raise_on_anomaly`` is false).

    Raises:
        HistoryError: the history cannot be trusted: operations out of order, an
            outcome not in :data:`~occ.testing.OUTCOMES`, a committed write
            without versions, a key without initial or final state.
        HistoryAnomalyError: anomalies were found.
    """
    counters = tuple(counters)
    ops = history.operations
    by_key = _validate(ops)
    initial = history.initial_states
    for key in initial:  # a key nobody wrote must not have moved either
        if key not in by_key and key in final:
            by_key[key] = []
    anomalies: list[Anomaly] = []
    committed = unknown = unknown_applied = 0
    for key, key_ops in by_key.items():
        if key not in initial:
            raise HistoryError(
                f"key {key!r} has no initial state (History.initial); first record: "
                f"{key_ops[0].describe()}",
                key_ops[0],
            )
        if key not in final:
            raise HistoryError(
                f"key {key!r} is missing from the final state; its first record: "
                f"{key_ops[0].describe()}",
                key_ops[0],
            )
        end = final[key]
        end_state = end if isinstance(end, State) else State(end[0], end[1])
        result = audit(key, key_ops, initial[key], end_state, counters)
        committed += result.applied
        unknown += result.unknown
        unknown_applied += result.unknown_applied
        anomalies += result.anomalies
    report = Report(len(by_key), len(ops), committed, tuple(anomalies), unknown, unknown_applied)
    if anomalies and raise_on_anomaly:
        raise HistoryAnomalyError(report)
    return report


def _validate(ops: tuple[Operation, ...]) -> dict[Any, list[Operation]]:
    """Refuse what the checker cannot trust; group operations by key."""
    by_key: dict[Any, list[Operation]] = {}
    last_end: dict[Any, tuple[int, Operation]] = {}
    previous: Operation | None = None
    for op in ops:
        if previous is not None and op.seq <= previous.seq:
            raise HistoryError(
                f"operations out of order: {op.describe()} comes after {previous.describe()}",
                op,
            )
        if op.start > op.end:
            raise HistoryError(
                f"{op.describe()} ends (t={op.end}) before it starts (t={op.start})", op
            )
        if op.writer in last_end and op.start < last_end[op.writer][0]:
            raise HistoryError(
                f"out of order: {op.describe()} starts (t={op.start}) before the previous "
                f"operation of writer {op.writer!r} ended: {last_end[op.writer][1].describe()}",
                op,
            )
        if op.outcome not in OUTCOMES:
            raise HistoryError(
                f"unknown outcome {op.outcome!r} in {op.describe()}; expected one of "
                f"{', '.join(OUTCOMES)}",
                op,
            )
        if op.outcome == "committed" and (op.read_version is None or op.written_version is None):
            raise HistoryError(
                f"{op.describe()} is committed but does not say which version it read and wrote",
                op,
            )
        last_end[op.writer] = (op.end, op)
        by_key.setdefault(op.key, []).append(op)
        previous = op
    return by_key
