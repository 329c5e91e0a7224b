"""Three-way, field-level merge of a conflicting write (pure).

``three_way(base, changes, theirs, rules)`` decides, field by field, what the
merged row holds:

- a field only I changed takes my value; a field only they changed keeps theirs;
- a field both changed to the same value is settled (unless it has a rule:
  two increments that both stored 1 still add up to 2);
- a field both changed differently goes to its rule (``Counter``, ``Union``,
  ``Max``, ``Min``, ``Mine``, ``Theirs`` or any ``(base, mine, theirs) -> value``
  callable); dicts without a rule merge key by key (nested paths ``"a.b"``);
- anything else is *unresolved*: the caller escalates it.

Every decision is recorded as a :class:`MergeEntry`. The merge is a function
of ``base`` and ``changes`` (fixed for a write) and ``theirs`` (fresh on each
retry), so a delta is always recomputed from ``base``, never applied twice.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from occ._core.model import Record

__all__ = [
    "MISSING",
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
    "rule_name",
    "three_way",
]


class _Missing:
    """The value of a key that is absent (or a base that is unknown)."""

    _instance: ClassVar[_Missing | None] = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: marks an absent key, or a base value that is not known.
MISSING: Any = _Missing()

#: a per-field rule: ``(base, mine, theirs) -> merged value`` (``base`` is None if unknown).
FieldRule = Callable[[Any, Any, Any], Any]


class Unresolved(Exception):
    """Raised by a rule that cannot decide: the merge escalates the field."""


def _plain(value: Any) -> Any:
    return None if value is MISSING else value


def rule_name(rule: FieldRule) -> str:
    """The action name recorded for ``rule``: ``counter``, ``max``, ... or the callable's name."""
    name = getattr(rule, "action", None)
    if isinstance(name, str):
        return name
    return f"callable:{getattr(rule, '__name__', type(rule).__name__)}"


def _number(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise Unresolved(f"Counter needs numbers, got {type(value).__name__}")
    return value


class Rule:
    """Base of the built-in field rules: ``rule(base, mine, theirs) -> merged value``.

    Attributes:
        action: the name recorded in merge entries.
        op: the commutative server-side operation, if any (``inc``, ``add_to_set``,
            ``max``, ``min``): eligible for the fast path.
        needs_base: the rule cannot decide without the base value.
    """

    action: ClassVar[str] = "rule"
    op: ClassVar[str | None] = None
    needs_base: ClassVar[bool] = False

    def __call__(self, base: Any, mine: Any, theirs: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Counter(Rule):
    """Theirs plus my delta: ``theirs + (mine - base)``; needs the base.

    ``None`` counts as 0. Commutative: eligible for the server-side fast path.
    """

    action: ClassVar[str] = "counter"
    op: ClassVar[str | None] = "inc"
    needs_base: ClassVar[bool] = True

    def __call__(self, base: Any, mine: Any, theirs: Any) -> Any:
        try:
            return _number(theirs) + (_number(mine) - _number(base))
        except TypeError as exc:
            raise Unresolved(str(exc)) from None


@dataclass(frozen=True)
class Union(Rule):
    """Collections merged as sets: what either side added is in, what either removed is out.

    Lists keep theirs' order, then my additions in my order; sets, frozensets
    and tuples keep their type. Without a base, nothing counts as removed.
    """

    action: ClassVar[str] = "union"
    op: ClassVar[str | None] = "add_to_set"
    needs_base: ClassVar[bool] = False

    def __call__(self, base: Any, mine: Any, theirs: Any) -> Any:
        items = [m for m in (base, mine, theirs) if m is not None]
        if not all(isinstance(m, list | tuple | set | frozenset) for m in items):
            raise Unresolved("Union needs lists, tuples or sets")
        base_items = list(base or ())
        mine_items = list(mine or ())
        removed = [x for x in base_items if x not in mine_items]
        added = [x for x in mine_items if x not in base_items]
        out: list[Any] = []
        for x in [*(theirs or ()), *added]:
            if x not in removed and x not in out:
                out.append(x)
        kind = type(theirs if theirs is not None else mine)
        if kind is list:
            return out
        if kind in (set, frozenset):
            return kind(out)
        return tuple(out)


@dataclass(frozen=True)
class Max(Rule):
    """The larger of mine and theirs (``None`` loses)."""

    action: ClassVar[str] = "max"
    op: ClassVar[str | None] = "max"
    needs_base: ClassVar[bool] = False

    def __call__(self, base: Any, mine: Any, theirs: Any) -> Any:
        if mine is None or theirs is None:
            return theirs if mine is None else mine
        try:
            return mine if mine > theirs else theirs
        except TypeError as exc:
            raise Unresolved(str(exc)) from None


@dataclass(frozen=True)
class Min(Rule):
    """The smaller of mine and theirs (``None`` loses)."""

    action: ClassVar[str] = "min"
    op: ClassVar[str | None] = "min"
    needs_base: ClassVar[bool] = False

    def __call__(self, base: Any, mine: Any, theirs: Any) -> Any:
        if mine is None or theirs is None:
            return theirs if mine is None else mine
        try:
            return mine if mine < theirs else theirs
        except TypeError as exc:
            raise Unresolved(str(exc)) from None


@dataclass(frozen=True)
class Mine(Rule):
    """My value wins the overlap."""

    action: ClassVar[str] = "mine"
    needs_base: ClassVar[bool] = False

    def __call__(self, base: Any, mine: Any, theirs: Any) -> Any:
        return mine


@dataclass(frozen=True)
class Theirs(Rule):
    """Their value wins the overlap."""

    action: ClassVar[str] = "theirs"
    needs_base: ClassVar[bool] = False

    def __call__(self, base: Any, mine: Any, theirs: Any) -> Any:
        return theirs


@dataclass(frozen=True)
class MergeEntry:
    """One merge decision: at ``path``, the three values and what was done.

    ``action`` is ``mine``, ``theirs``, ``same``, a rule's name (``counter``,
    ``union``, ``max``, ``min``, ``callable:<name>``) or ``unresolved``.
    """

    path: str
    base: Any
    mine: Any
    theirs: Any
    action: str
    result: Any = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (``MISSING`` shown as ``None``) for sinks and stores."""
        out = {
            "path": self.path,
            "base": _plain(self.base),
            "mine": _plain(self.mine),
            "theirs": _plain(self.theirs),
            "action": self.action,
            "result": _plain(self.result),
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class MergeResult:
    """What a merge decided.

    Attributes:
        values: the fields to write (each of my changed fields whose merged value
            differs from theirs), with merged values.
        merged: my changed fields with their merged values (written or not).
        entries: every decision taken, in order.
        unresolved: paths no rule could decide.
    """

    values: dict[str, Any]
    merged: dict[str, Any]
    entries: tuple[MergeEntry, ...]
    unresolved: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every overlap was decided."""
        return not self.unresolved


class _Merger:
    def __init__(self, rules: Mapping[str, FieldRule]) -> None:
        self.rules = rules
        self.entries: list[MergeEntry] = []
        self.unresolved: list[str] = []

    def note(
        self, path: str, b: Any, m: Any, t: Any, action: str, result: Any, why: str = ""
    ) -> Any:
        self.entries.append(MergeEntry(path, b, m, t, action, result, why))
        if action == "unresolved":
            self.unresolved.append(path)
        return result

    def field(self, path: str, b: Any, m: Any, t: Any, base_known: bool) -> Any:
        if base_known and m == b:
            return self.note(path, b, m, t, "theirs", t)
        if base_known and t == b:
            return self.note(path, b, m, t, "mine", m)
        # Both changed it (or the base is unknown). A rule decides even equal values:
        # two increments of 1 that both stored 1 still add up to 2.
        rule = self.rules.get(path)
        if rule is None and m == t:
            return self.note(path, b, m, t, "same", m)
        if rule is not None:
            if not base_known and getattr(rule, "needs_base", False):
                return self.note(path, b, m, t, "unresolved", t, "needs the base: none was given")
            try:
                merged = rule(_plain(b), _plain(m), _plain(t))
            except Unresolved as exc:
                return self.note(path, b, m, t, "unresolved", t, str(exc) or "rule declined")
            return self.note(path, b, m, t, rule_name(rule), merged)
        if base_known and isinstance(m, dict) and isinstance(t, dict):
            return self.nested(path, b if isinstance(b, dict) else {}, m, t)
        why = "both changed it and no rule is set" if base_known else "no base to compare"
        return self.note(path, b, m, t, "unresolved", t, why)

    def nested(self, path: str, b: dict[str, Any], m: dict[str, Any], t: dict[str, Any]) -> Any:
        out: dict[str, Any] = {}
        keys = list(dict.fromkeys([*t, *m, *b]))
        for k in keys:
            bv, mv, tv = b.get(k, MISSING), m.get(k, MISSING), t.get(k, MISSING)
            unchanged = mv == bv and tv == bv
            value = tv if unchanged else self.field(f"{path}.{k}", bv, mv, tv, True)
            if value is not MISSING:
                out[k] = value
        return out


def three_way(
    base: Record | None,
    changes: Record,
    theirs: Record,
    rules: Mapping[str, FieldRule] | None = None,
) -> MergeResult:
    """Merge my ``changes`` (made on ``base``) into ``theirs``, field by field.

    Args:
        base: the values I read; ``None`` (or a field missing from it) means
            unknown, and only rules that need no base can decide that field.
        changes: the fields I wrote.
        theirs: the values stored now.
        rules: per-path rules for overlaps (``"field"`` or ``"field.key"``).

    Returns:
        The merged values to write, every decision, and the unresolved paths.
    """
    merger = _Merger(rules or {})
    merged: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for name, mine in changes.items():
        known = base is not None and name in base
        b = base[name] if base is not None and known else MISSING
        t = theirs.get(name, MISSING)
        value = merger.field(name, b, mine, t, known)
        if value is MISSING:
            continue
        merged[name] = value
        if value != t:
            values[name] = value
    return MergeResult(values, merged, tuple(merger.entries), tuple(merger.unresolved))
