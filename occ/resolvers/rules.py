"""Per-field rules of :class:`~occ.resolvers.Merge`: how an overlap of two changes merges.

A rule is any ``(base, mine, theirs) -> merged value`` callable; it raises
:class:`Unresolved` when it cannot decide, and the merge escalates the field.
The built-ins: :class:`Counter` (my delta added to theirs), :class:`Union`,
:class:`Max`, :class:`Min`, :class:`Mine`, :class:`Theirs`. Those that
commute (``Counter``, ``Union``, ``Max``, ``Min``) can also run as one atomic
server-side operation (``Merge(..., fast_path=True)``).
"""

from __future__ import annotations

from typing import Any

from occ._core.decisions import FastOp
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
)

__all__ = [
    "Counter",
    "FieldRule",
    "Max",
    "MergeEntry",
    "MergeResult",
    "Min",
    "Mine",
    "Rule",
    "Theirs",
    "Union",
    "Unresolved",
    "fast_op",
]

_FAST: frozenset[str] = frozenset({"inc", "add_to_set", "max", "min"})


def fast_op(rule: Any) -> FastOp | None:
    """The atomic server-side operation of a commutative ``rule``, else ``None``."""
    op = getattr(rule, "op", None) if isinstance(rule, Rule) else None
    return op if op in _FAST else None
