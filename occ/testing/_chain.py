"""The chain of writes that produced a key's final version, walked back from it.

Each version after the initial one was produced by exactly one applied write:
a committed operation that says it wrote it, or else one of the operations
with an unknown outcome that read the version before it (int versions: an
unknown write that read ``v`` would have written ``v + 1``). Walking back
from the final version picks, at each version, its producer and moves to the
version that producer read, until the initial version. A version nobody
recorded producing is a *gap*: with int versions the walk steps over it to
the next version someone produced (so one missing write does not hide the
rest); with other versions it stops there.

Time is linear in the operations: one pass builds the producer maps, each
version on the chain is visited once, and only a gap (an anomaly, at most
:data:`MAX_GAPS` of them) scans the versions again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from occ._core.model import Version
from occ.testing._history import Operation, State

__all__ = ["MAX_GAPS", "Chain", "Gap", "walk", "would_write"]

#: gaps stepped over before the walk gives up.
MAX_GAPS = 16


@dataclass(frozen=True)
class Gap:
    """Versions ``below + 1 .. above`` that no recorded write produced (int versions).

    Attributes:
        below: the version under the gap that a write (or the start) did produce.
        above: the highest version in the gap.
        steps: how many writes are unaccounted for (``above - below``).
    """

    below: int
    above: int
    steps: int


@dataclass
class Chain:
    """The writes that lead from the initial to the final version.

    Attributes:
        ops: the producers, oldest first (committed and applied unknown-outcome writes).
        slots: for each unknown-outcome write on the chain, every unknown-outcome
            write that could equally have produced its version (one of them applied).
        gaps: versions nobody recorded producing, oldest first.
        reached: the walk got back to the initial version.
        stop: where the walk stopped (the initial version when ``reached``).
    """

    ops: list[Operation] = field(default_factory=list)
    slots: list[list[Operation]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    reached: bool = False
    stop: Any = None

    @property
    def unexplained(self) -> int:
        """Writes the final version implies that no operation accounts for."""
        return sum(gap.steps for gap in self.gaps)


def would_write(op: Operation) -> Version | None:
    """The version ``op`` stored or would have stored (``read + 1`` for int versions)."""
    if op.written_version is not None:
        return op.written_version
    if type(op.read_version) is int:
        return op.read_version + 1
    return None


def walk(
    ops: Iterable[Operation],
    start: State,
    end: State,
    top: Operation | None = None,
    applied: Collection[int] = (),
) -> Chain:
    """Walk back from ``end``'s version to ``start``'s (see the module docstring).

    Args:
        ops: the key's operations.
        start: its initial state.
        end: its final state.
        top: the operation the final state's token names, if any (it produced
            the final version).
        applied: ``seq`` of operations known to have applied (their token is
            stored): of several that may have produced a version, they did.
    """
    committed: dict[Any, list[Operation]] = {}
    unknown: dict[Any, list[Operation]] = {}
    for each in ops:
        if each.outcome == "committed":
            committed.setdefault(each.written_version, []).append(each)
        elif each.outcome == "unknown" and each.read_version is not None:
            produces = would_write(each)
            if produces is not None:
                unknown.setdefault(produces, []).append(each)
    known = top is not None and top.outcome == "unknown" and top.read_version is not None
    if known and top is not None and would_write(top) is None:
        unknown.setdefault(end.version, []).append(top)  # a timestamp: the token says it is this
    produced = {start.version, *committed, *unknown}
    chain = Chain()
    version: Any = end.version
    seen = {version}
    ints = type(start.version) is int and type(end.version) is int
    while version != start.version:
        op: Operation | None = None
        if version in committed:
            op = _pick(committed[version], top if version == end.version else None, produced)
        elif version in unknown:
            slot = unknown[version]
            proven = [each for each in slot if each.seq in applied]
            slot = proven[:1] or slot
            op = _pick(slot, top if version == end.version else None, produced)
            chain.slots.append(slot)
        if op is None:
            below = _below(version, produced) if ints and len(chain.gaps) < MAX_GAPS else None
            if below is None:
                break
            chain.gaps.append(Gap(below, version, version - below))
            version = below
            continue
        if op.read_version is None or op.read_version in seen:
            break
        chain.ops.append(op)
        version = op.read_version
        seen.add(version)
    chain.reached = version == start.version
    chain.stop = version
    chain.ops.reverse()
    chain.slots.reverse()
    chain.gaps.reverse()
    return chain


def _pick(candidates: list[Operation], top: Operation | None, produced: set[Any]) -> Operation:
    """Of writes that may have produced one version, the one the history supports best."""
    if top is not None and top in candidates:
        return top
    for op in candidates:
        if op.read_version in produced:
            return op
    return candidates[0]


def _below(version: int, produced: set[Any]) -> int | None:
    """The highest produced int version under ``version`` (a scan: gaps are rare)."""
    lower = [v for v in produced if type(v) is int and v < version]
    return max(lower) if lower else None
