"""What the write tokens stored in a key's final state prove about who wrote it.

A workload that stamps each write's token into the value makes writes
recognisable after the fact. Two shapes are understood, found from the
operations themselves (no configuration):

- a *token field*: an operation's ``values[f]`` is its own ``token``; the
  final ``f`` then names the last write (an unknown outcome that applied, or
  a write that reported failure yet applied);
- a *token log*: ``values[f]`` is a list ending with the operation's token
  (the workload appends, maybe keeping only the latest few); every token in
  the final list applied, and a token listed twice applied twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from occ.testing._history import Operation, State

__all__ = ["Evidence", "evidence"]

_FAILED = frozenset({"conflict", "not-found"})
_AMBIGUOUS = object()


@dataclass
class Evidence:
    """What the tokens of one key's final state prove.

    Attributes:
        final_writer: the operation whose token the final state's token field holds.
        applied: ``seq`` of every operation the final state shows applied.
        twice: operations whose token a token log holds more than once.
        strangers: ``(field, token, operation or None)``: a token in the final
            state of an operation that reported failure, or of no operation.
        logs: each token log field and the tokens it holds.
    """

    final_writer: Operation | None = None
    applied: set[int] = field(default_factory=set)
    twice: list[Operation] = field(default_factory=list)
    strangers: list[tuple[str, Any, Operation | None]] = field(default_factory=list)
    logs: dict[str, set[Any]] = field(default_factory=dict)


def evidence(ops: Iterable[Operation], start: State, end: State) -> Evidence:
    """Read the tokens of ``end`` against the operations of its key (one pass each)."""
    owners: dict[Any, Any] = {}
    singles: set[str] = set()
    logs: set[str] = set()
    for op in ops:
        owners[op.token] = _AMBIGUOUS if op.token in owners else op
        for name, value in op.values.items():
            if value == op.token:
                singles.add(name)
            elif isinstance(value, list | tuple) and value and value[-1] == op.token:
                logs.add(name)
    found = Evidence()
    for name in sorted(singles):
        token = end.values.get(name)
        if name not in end.values or not isinstance(token, Hashable):
            continue
        if token == start.values.get(name):
            continue
        owner = _account(found, name, token, owners)
        if owner is not None and found.final_writer is None:
            found.final_writer = owner
    for name in sorted(logs):
        tokens = end.values.get(name)
        if not isinstance(tokens, list | tuple):
            continue
        before = start.values.get(name)
        already = set(before) if isinstance(before, list | tuple) else set()
        counts = Counter(t for t in tokens if isinstance(t, Hashable) and t not in already)
        found.logs[name] = set(counts)
        for token, times in counts.items():
            owner = _account(found, name, token, owners)
            if owner is not None and times > 1:
                found.twice.append(owner)
    return found


def _account(found: Evidence, name: str, token: Any, owners: dict[Any, Any]) -> Operation | None:
    """Note who wrote ``token``; return the operation if it is one that may have applied."""
    owner = owners.get(token)
    if owner is _AMBIGUOUS:
        return None
    if owner is None or owner.outcome in _FAILED:
        found.strangers.append((name, token, owner))
        return None
    found.applied.add(owner.seq)
    return owner  # type: ignore[no-any-return]
