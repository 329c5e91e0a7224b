"""One key's audit: every write accounted for exactly once, unknown outcomes at most once.

The checks, each linear in the key's operations:

1. committed writes: no two read the same version (lost update), none stored
   the same version twice, each int version step is ``+1``;
2. the chain back from the final version (:mod:`occ.testing._chain`): every
   committed write is on it (else it was lost), the last write is what is
   stored, and no version lacks a producer (a gap) — an unknown outcome is on
   the chain, at most once, only where a version needs it;
3. tokens in the final state (:mod:`occ.testing._tokens`): a token of a write
   that reported failure, or of no write, is a phantom; a token listed twice
   is a duplicate apply; a token log must hold every later acknowledged write;
4. counters: the final value minus the initial one minus every committed
   delta must be made up by the unknown outcomes, each applied at most once —
   one per version they produced when int versions say which applied, any
   subset otherwise (:mod:`occ.testing._sums`). When it only adds up with one
   write applied twice, and the versions show a write nobody accounts for,
   that is a duplicate apply, named; otherwise a counter mismatch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from occ.testing._chain import Chain, walk, would_write
from occ.testing._history import HistoryError, Operation, State
from occ.testing._sums import Sums
from occ.testing._tokens import Evidence, evidence

__all__ = ["ANOMALIES", "Anomaly", "Audit", "audit"]

_SHOWN = 8

#: the anomalies the checker reports, with what each means.
ANOMALIES: dict[str, str] = {
    "lost-update": "two committed writes read the same version (Adya's P4): one overwrote another",
    "version-repeat": "two committed writes stored the same version",
    "version-gap": "a version between the initial and the final one was produced by no recorded "
    "write, or a committed write did not add one to the version it read",
    "lost-write": "an acknowledged write is not in the final state",
    "duplicate-apply": "a write applied twice: the final state only adds up if one operation "
    "(typically one whose outcome was unknown, then retried) applied two times",
    "phantom-write": "the final state holds the token of a write that reported failure "
    "(conflict, not-found), or of no recorded operation",
    "counter-mismatch": "a counter field does not equal its start plus the committed deltas "
    "plus the deltas of some unknown-outcome writes, each applied at most once",
}


@dataclass(frozen=True)
class Anomaly:
    """One thing wrong with a history.

    Attributes:
        kind: one of :data:`ANOMALIES` (``lost-update``, ``duplicate-apply``, ...).
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
class Audit:
    """What one key's audit found.

    Attributes:
        applied: committed writes plus unknown outcomes the chain shows applied.
        unknown: operations with an unknown outcome.
        unknown_applied: those the final state shows applied (versions or tokens).
        anomalies: what is wrong.
    """

    applied: int
    unknown: int
    unknown_applied: int
    anomalies: tuple[Anomaly, ...]


def audit(
    key: Any, ops: Sequence[Operation], start: State, end: State, counters: Sequence[str]
) -> Audit:
    """Audit one key (see the module docstring)."""
    return _Auditor(key, ops, start, end).run(counters)


class _Auditor:
    def __init__(self, key: Any, ops: Sequence[Operation], start: State, end: State) -> None:
        self.key, self.ops, self.start, self.end = key, ops, start, end
        self.committed = [op for op in ops if op.outcome == "committed"]
        self.unknown = [op for op in ops if op.outcome == "unknown"]
        self.ints = type(start.version) is int and type(end.version) is int
        self.found: list[Anomaly] = []

    def flag(self, kind: str, message: str, involved: Iterable[Operation] = ()) -> None:
        self.found.append(Anomaly(kind, self.key, message, tuple(involved)))

    def run(self, counters: Sequence[str]) -> Audit:
        self.committed_writes()
        tokens = evidence(self.ops, self.start, self.end)
        chain = walk(self.ops, self.start, self.end, tokens.final_writer, tokens.applied)
        self.chain_writes(chain)
        self.tokens(tokens, chain)
        duplicates = len(tokens.twice) + self.counters(counters, chain, tokens)
        self.gaps(chain, explained=duplicates)
        on_chain = {op.seq for op in chain.ops if op.outcome == "unknown"}
        unknown_seqs = {op.seq for op in self.unknown}
        applied = on_chain | (tokens.applied & unknown_seqs)
        return Audit(
            len(self.committed) + len(on_chain),
            len(self.unknown),
            len(applied),
            tuple(self.found),
        )

    # -- 1. committed writes ----------------------------------------------------

    def committed_writes(self) -> None:
        by_read: dict[Any, list[Operation]] = {}
        by_written: dict[Any, list[Operation]] = {}
        for op in self.committed:
            by_read.setdefault(op.read_version, []).append(op)
            by_written.setdefault(op.written_version, []).append(op)
            old, new = op.read_version, op.written_version
            if type(old) is int and type(new) is int and new != old + 1:
                self.flag("version-gap", f"a committed write went from v{old} to v{new}", [op])
        for version, readers in by_read.items():
            if len(readers) > 1:
                self.flag(
                    "lost-update",
                    f"{len(readers)} committed writes read v{version!r}: each "
                    "overwrote what the other wrote",
                    readers,
                )
        for version, writers in by_written.items():
            if len(writers) > 1:
                self.flag(
                    "version-repeat",
                    f"{len(writers)} committed writes stored v{version!r}",
                    writers,
                )

    # -- 2. the chain of versions -----------------------------------------------

    def chain_writes(self, chain: Chain) -> None:
        on_chain = {op.seq for op in chain.ops}
        missing = [op for op in self.committed if op.seq not in on_chain]
        if not chain.reached:
            self.flag(
                "version-gap",
                f"the writes leading to the final v{self.end.version!r} go back to "
                f"v{chain.stop!r}, which no recorded write produced (the key started at "
                f"v{self.start.version!r})",
                chain.ops[:1] + missing,
            )
            return
        produced = {self.start.version, *(would_write(op) for op in self.ops)}
        for op in missing:
            if op.read_version not in produced:
                self.flag(
                    "version-gap",
                    f"a committed write read v{op.read_version!r}, which no "
                    "recorded write produced and the key did not start at",
                    [op],
                )
            else:
                self.flag(
                    "lost-write",
                    "an acknowledged write is not on the chain of versions that "
                    f"leads to the final state (v{self.end.version!r})",
                    [op],
                )
        last = chain.ops[-1] if chain.ops else None
        if last is None or (chain.gaps and chain.gaps[-1].above == self.end.version):
            return
        differs = [
            f"{name}={value!r} but {self.end.values[name]!r} is stored"
            for name, value in last.values.items()
            if name in self.end.values and self.end.values[name] != value
        ]
        if differs:
            self.flag(
                "lost-write",
                "the last write of the chain is not what is stored: " + ", ".join(differs),
                [last],
            )

    def gaps(self, chain: Chain, explained: int) -> None:
        if chain.unexplained == explained:
            return  # each write nobody accounts for is a duplicate apply already reported
        for gap in chain.gaps:
            span = f"v{gap.above}" if gap.steps == 1 else f"v{gap.below + 1}..v{gap.above}"
            self.flag(
                "version-gap",
                f"{span} {'was' if gap.steps == 1 else 'were'} produced by no recorded write "
                f"({gap.steps} unaccounted for)",
                [op for op in chain.ops if op.read_version == gap.above][:1],
            )

    # -- 3. tokens ----------------------------------------------------------------

    def tokens(self, tokens: Evidence, chain: Chain) -> None:
        for name, token, owner in tokens.strangers:
            if owner is None:
                self.flag("phantom-write", f"{name} holds {token!r}, which no operation wrote")
            else:
                self.flag(
                    "phantom-write",
                    f"{name} holds the token of a write that reported {owner.outcome}: it applied",
                    [owner],
                )
        for op in tokens.twice:
            self.flag("duplicate-apply", f"its token {op.token!r} is stored more than once", [op])
        for name, logged in tokens.logs.items():
            stamped = [op for op in chain.ops if name in op.values]
            first = next((i for i, op in enumerate(stamped) if op.token in logged), None)
            lost = [
                op
                for op in stamped[(first or 0) + 1 :]
                if op.outcome == "committed" and op.token not in logged
            ]
            if first is not None and lost:
                self.flag(
                    "lost-write",
                    f"{name} lacks the token of acknowledged writes made after ones it holds",
                    lost,
                )

    # -- 4. counters ----------------------------------------------------------------

    def counters(self, names: Sequence[str], chain: Chain, tokens: Evidence) -> int:
        """Check the counter totals; return how many duplicate applies they prove (0 or 1)."""
        rest: dict[str, Any] = {}
        sums: dict[str, Sums] = {}
        added: dict[str, Any] = {}
        by_slot = self.ints and chain.reached
        for name in names:
            for what, state in (("initial", self.start), ("final", self.end)):
                if name not in state.values:
                    raise HistoryError(
                        f"counter field {name!r} is missing from the {what} state of key "
                        f"{self.key!r}",
                        state,
                    )
            added[name] = sum(op.deltas.get(name, 0) for op in self.committed)
            rest[name] = self.end.values[name] - self.start.values[name] - added[name]
            sums[name] = possible = Sums()
            if by_slot:  # versions say how many unknown writes applied, and among which
                for slot in chain.slots:
                    possible.choose(op.deltas.get(name, 0) for op in slot)
            else:
                tally = Counter(op.deltas.get(name, 0) for op in self.unknown)
                for value, times in tally.items():
                    possible.optional(value, times)
        misfits = [name for name in names if rest[name] not in sums[name]]
        if not misfits:
            return 0
        twice = self._fit_twice(names, rest, sums)
        if tokens.twice and {op.seq for op in tokens.twice} & {op.seq for op in twice}:
            return 0  # the token already proved which write applied twice
        unaccounted = chain.unexplained == 1 if self.ints and chain.reached else not chain.reached
        if twice and unaccounted:
            near = _near_gaps(chain)  # most suspect: next to the version nobody accounts for
            twice.sort(key=lambda op: (op.seq not in near, op.outcome != "unknown", op.seq))
            totals = ", ".join(
                f"{name} is its start plus the committed deltas plus {rest[name]!r}"
                for name in misfits
            )
            which = (
                "this write"
                if len(twice) == 1
                else f"one of these {len(twice)} writes (the most suspect first)"
            )
            self.flag(
                "duplicate-apply",
                f"{totals}, which the unknown-outcome writes, each applied at most once, "
                f"cannot make up: it only adds up if {which} applied twice",
                twice,
            )
            return 1
        for name in misfits:
            start, end, total = self.start.values[name], self.end.values[name], added[name]
            message = (
                f"{name} is {end!r}, but it started at {start!r} and committed writes "
                f"added {total!r} (expected {start + total!r}"
            )
            if self.unknown:
                message += (
                    f" plus what {len(self.unknown)} unknown-outcome writes added, each at "
                    "most once: no choice of them makes up the difference"
                )
            self.flag(
                "counter-mismatch", message + ")", (op for op in self.ops if name in op.deltas)
            )
        return 0

    def _fit_twice(
        self, names: Sequence[str], rest: dict[str, Any], sums: dict[str, Sums]
    ) -> list[Operation]:
        """Operations whose one more application makes every counter add up."""
        fits: dict[tuple[Any, ...], bool] = {}
        found = []
        for op in (*self.unknown, *self.committed):
            deltas = tuple(op.deltas.get(name, 0) for name in names)
            if not any(deltas):
                continue
            if deltas not in fits:
                fits[deltas] = all(
                    rest[name] - delta in sums[name]
                    for name, delta in zip(names, deltas, strict=True)
                )
            if fits[deltas]:
                found.append(op)
        return found


def _near_gaps(chain: Chain) -> set[int]:
    """``seq`` of the chain's writes right under or over a gap (or where the walk stopped)."""
    edges = {gap.above for gap in chain.gaps}
    bottoms = {gap.below for gap in chain.gaps}
    if not chain.reached:
        edges.add(chain.stop)
    return {
        op.seq
        for op in chain.ops
        if op.read_version in edges or (op.outcome == "unknown" and would_write(op) in bottoms)
    }
