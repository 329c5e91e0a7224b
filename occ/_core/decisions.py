"""What a resolver decides about a conflict, and what a policy may declare.

A resolver is any callable ``(Conflict) -> Decision``. It is pure: side
effects it wants (persist the conflict, notify someone) travel in
``Decision.effects`` as data, and the driver performs them before the
decision is applied.

A decision names the *outcome* the write will report (``"merged"``,
``"discarded"``, ...; ``"raised"`` raises :class:`~occ.ConflictError`) and,
unless it raises or keeps what is stored, the ``values`` to write at the
stored version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from occ._core.model import Conflict
from occ._core.steps import Effect

__all__ = ["RAISED", "Decision", "Outcome", "Policy", "Resolver", "policy_options"]

#: What a write reports it did. ``written``: as asked; ``unchanged``: nothing to write;
#: ``merged`` / ``overwritten`` / ``discarded``: a policy resolved a conflict;
#: ``retried``: a serialization abort was retried as is; ``commutative``: the
#: atomic fast path; ``raised`` is never reported (the write raised).
Outcome = Literal[
    "written",
    "unchanged",
    "merged",
    "overwritten",
    "discarded",
    "retried",
    "commutative",
    "raised",
]

#: the outcome of a decision that raises :class:`~occ.ConflictError`.
RAISED = "raised"


@dataclass(frozen=True)
class Decision:
    """A resolver's decision about one conflict.

    Attributes:
        outcome: what the write will report; ``"raised"`` raises the conflict.
        values: the fields to write at the stored version (still a conditional
            write), or ``None`` to keep what is stored. For a delete conflict any
            non-``None`` value retries the delete at the stored version.
        effects: side effects (archive, alert) the driver performs first.
        details: what a sink may want to know (a merge's per-field decisions).
        alerted: a human was alerted (the conflict was persisted for review).
    """

    outcome: str
    values: Mapping[str, Any] | None = None
    effects: tuple[Effect, ...] = field(default=(), kw_only=True)
    details: Mapping[str, Any] = field(default_factory=dict, kw_only=True)
    alerted: bool = field(default=False, kw_only=True)

    @property
    def raises(self) -> bool:
        """True when the conflict is raised."""
        return self.outcome == RAISED

    @classmethod
    def raise_conflict(cls, **options: Any) -> Decision:
        """Raise :class:`~occ.ConflictError` with the conflict."""
        return cls(RAISED, **options)

    @classmethod
    def keep_theirs(cls, outcome: str = "discarded", **options: Any) -> Decision:
        """Keep what is stored: the write returns the stored value."""
        return cls(outcome, None, **options)

    @classmethod
    def write(
        cls, values: Mapping[str, Any], outcome: str = "overwritten", **options: Any
    ) -> Decision:
        """Write ``values`` at the stored version."""
        return cls(outcome, dict(values), **options)


@runtime_checkable
class Resolver(Protocol):
    """A conflict policy: a pure function of a conflict that returns a decision."""

    def __call__(self, conflict: Conflict) -> Decision: ...


FastOp = Literal["inc", "add_to_set", "max", "min"]


@dataclass(frozen=True)
class Policy:
    """What a resolver may declare beyond deciding (built-ins subclass this).

    A plain function is a resolver too; it declares nothing, and
    :func:`policy_options` reads these defaults for it.

    Attributes:
        on_exhausted: the resolver asked when the retry budget runs out; if it
            keeps theirs the write returns the stored value, otherwise
            :class:`~occ.RetryExhaustedError` is raised.
    """

    on_exhausted: Resolver | None = field(default=None, kw_only=True)

    def fast_ops(self) -> Mapping[str, FastOp]:
        """Fields whose writes commute, and the atomic operation of each (none here)."""
        return {}


_DEFAULT = Policy()


def policy_options(resolver: Any) -> Policy:
    """What ``resolver`` declares (:class:`Policy` defaults for a plain function)."""
    return resolver if isinstance(resolver, Policy) else _DEFAULT
