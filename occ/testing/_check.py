"""The history checker: lost updates, broken version chains, lost writes, wrong totals.

One pass groups the operations by key; each key is then checked in time linear
in its operations (dicts keyed by version, one walk down the version chain).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from occ._core.model import Version
from occ.testing._history import OUTCOMES, History, HistoryError, Operation, State

__all__ = ["ANOMALIES", "Anomaly", "HistoryAnomalyError", "Report", "check_history"]

_SHOWN = 8

#: the anomalies the checker reports, with what each means.
ANOMALIES: dict[str, str] = {
    "lost-update": "two committed writes read the same version (Adya's P4): one overwrote another",
    "version-repeat": "two committed writes stored the same version",
    "version-gap": "the committed writes do not form one chain of versions up to the final one",
    "lost-write": "an acknowledged write is not in the final state",
    "counter-mismatch": "a counter field does not equal its start plus the committed deltas",
}


@dataclass(frozen=True)
class Anomaly:
    """One thing wrong with a history.

    Attributes:
        kind: one of :data:`ANOMALIES` (``lost-update``, ``version-gap``, ...).
        key: the key it happened on.
        message: what was found.
        ops: the operations involved.
    """

    kind: str
    key: Any
    message: str
    ops: tuple[Operation, ...] = ()

    def __str__(self) -> str:
        lines = [f"{self.kind} on key {self.key!r}: {self.message}"]
        lines += [f"    {op.describe()}" for op in self.ops[:_SHOWN]]
        if len(self.ops) > _SHOWN:
            lines.append(f"    ... and {len(self.ops) - _SHOWN} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class Report:
    """What :func:`check_history` found.

    Attributes:
        keys: how many keys were checked.
        operations: how many operations.
        committed: how many of them committed (resolved unknown outcomes included).
        anomalies: what is wrong (empty when the history is clean).
    """

    keys: int
    operations: int
    committed: int
    anomalies: tuple[Anomaly, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when no anomaly was found."""
        return not self.anomalies

    @property
    def kinds(self) -> set[str]:
        """The kinds of anomaly found."""
        return {a.kind for a in self.anomalies}

    def __str__(self) -> str:
        head = f"{self.operations} operations on {self.keys} keys, {self.committed} committed: " + (
            "no anomaly" if self.ok else f"{len(self.anomalies)} anomalies"
        )
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
    """Prove, key by key, that a history of versioned writes lost nothing.

    Checks: no two committed writes read the same version (lost update); the
    committed writes form one chain of versions from the initial to the final
    version, without gaps or repeats; the last write of the chain is what the
    final state holds (every acknowledged write is present); each field of
    ``counters`` equals its initial value plus the deltas of committed writes.
    An ``unknown`` outcome counts as committed only if the chain needs it.

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
    anomalies: list[Anomaly] = []
    committed = 0
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
        n, found = _check_key(key, key_ops, initial[key], end_state, counters)
        committed += n
        anomalies += found
    report = Report(len(by_key), len(ops), committed, tuple(anomalies))
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


def _check_key(
    key: Any,
    ops: list[Operation],
    start: State,
    end: State,
    counters: tuple[str, ...],
) -> tuple[int, list[Anomaly]]:
    found: list[Anomaly] = []

    def flag(kind: str, message: str, involved: Iterable[Operation]) -> None:
        found.append(Anomaly(kind, key, message, tuple(involved)))

    committed = [op for op in ops if op.outcome == "committed"]
    by_read: dict[Any, list[Operation]] = {}
    by_written: dict[Any, list[Operation]] = {}
    for op in committed:
        by_read.setdefault(op.read_version, []).append(op)
        by_written.setdefault(op.written_version, []).append(op)
        old, new = op.read_version, op.written_version
        if type(old) is int and type(new) is int and new != old + 1:
            flag("version-gap", f"a committed write went from v{old} to v{new}", [op])
    for version, readers in by_read.items():
        if len(readers) > 1:
            flag(
                "lost-update",
                f"{len(readers)} committed writes read v{version!r}: each "
                "overwrote what the other wrote",
                readers,
            )
    for version, writers in by_written.items():
        if len(writers) > 1:
            flag("version-repeat", f"{len(writers)} committed writes stored v{version!r}", writers)

    chain, version = _walk(ops, by_read, start, end)
    in_chain = {op.seq for op in chain}
    produced = {start.version, *by_written}
    for op in committed:
        if op.seq in in_chain:
            continue
        if op.read_version not in produced:
            flag(
                "version-gap",
                f"a committed write read v{op.read_version!r}, which no "
                "recorded write produced and the key did not start at",
                [op],
            )
        else:
            flag(
                "lost-write",
                "an acknowledged write is not on the chain of versions that "
                f"leads to the final state (v{end.version!r})",
                [op],
            )
    if version != end.version:
        flag(
            "version-gap",
            f"the chain of committed writes ends at v{version!r} but the final "
            f"state is at v{end.version!r}",
            chain[-1:],
        )
    elif chain:
        last = chain[-1]
        differs = [
            f"{name}={value!r} but {end.values[name]!r} is stored"
            for name, value in last.values.items()
            if name in end.values and end.values[name] != value
        ]
        if differs:
            flag(
                "lost-write",
                "the last committed write is not what is stored: " + ", ".join(differs),
                [last],
            )

    applied = committed + [op for op in chain if op.outcome == "unknown"]
    for name in counters:
        for what, state in (("initial", start), ("final", end)):
            if name not in state.values:
                raise HistoryError(
                    f"counter field {name!r} is missing from the {what} state of key {key!r}",
                    state,
                )
        total = sum(op.deltas.get(name, 0) for op in applied)
        expected = start.values[name] + total
        if end.values[name] != expected:
            flag(
                "counter-mismatch",
                f"{name} is {end.values[name]!r}, but it started at "
                f"{start.values[name]!r} and committed writes added {total!r} "
                f"(expected {expected!r})",
                (op for op in applied if name in op.deltas),
            )
    return len(applied), found


def _walk(
    ops: list[Operation], by_read: Mapping[Any, list[Operation]], start: State, end: State
) -> tuple[list[Operation], Version]:
    """Follow the versions from the initial one; return the chain and where it ends.

    An ``unknown`` outcome joins the chain only when a committed write (or the
    final state) needs the version it would have produced.
    """
    unknown: dict[Any, list[Operation]] = {}
    for op in ops:
        if op.outcome == "unknown" and op.read_version is not None:
            unknown.setdefault(op.read_version, []).append(op)
    chain: list[Operation] = []
    seen = {start.version}
    version = start.version
    while True:
        candidates = by_read.get(version) or [
            op
            for op in unknown.get(version, ())
            if op.written_version in by_read or op.written_version == end.version
        ]
        if not candidates:
            return chain, version
        op = _pick(candidates, by_read, end)
        if op.written_version is None or op.written_version in seen:
            return chain, version
        chain.append(op)
        version = op.written_version
        seen.add(version)


def _pick(candidates: list[Operation], by_read: Mapping[Any, Any], end: State) -> Operation:
    """Of writes that read one version, the one the rest of the history builds on."""
    if len(candidates) == 1:
        return candidates[0]
    for op in candidates:
        if op.written_version in by_read:
            return op
    for op in candidates:
        if op.written_version == end.version and _matches(op, end):
            return op
    return candidates[0]


def _matches(op: Operation, state: State) -> bool:
    return all(state.values.get(name, value) == value for name, value in op.values.items())
