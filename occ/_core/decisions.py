"""What a resolver decides about a conflict.

A resolver is any callable ``(Conflict) -> Decision``. It is pure: side
effects it wants (persist the conflict, notify someone) travel in
``Decision.effects`` and run in the driver, before the decision is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from occ._core.model import Conflict
from occ._core.steps import Effect

__all__ = ["Decision", "KeepTheirs", "RaiseConflict", "Resolver", "WriteValues"]


@dataclass(frozen=True)
class Decision:
    """Base of the three decisions. ``effects`` run before it is applied."""

    effects: tuple[Effect, ...] = field(default=(), kw_only=True)
    #: a label for statistics and sinks: "raised", "discarded", "overwritten", "merged", ...
    label: str = field(default="decided", kw_only=True)
    #: details a sink may want (a merge's per-field decisions, ...).
    details: Mapping[str, Any] = field(default_factory=dict, kw_only=True)


@dataclass(frozen=True)
class RaiseConflict(Decision):
    """Raise :class:`~occ.ConflictError` with the conflict."""

    label: str = field(default="raised", kw_only=True)


@dataclass(frozen=True)
class KeepTheirs(Decision):
    """Keep what is stored; the write returns the stored value."""

    label: str = field(default="discarded", kw_only=True)


@dataclass(frozen=True)
class WriteValues(Decision):
    """Write ``values`` at the stored version (still a conditional write).

    For a delete conflict, ``values`` is ignored and the delete is retried at
    the stored version.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    label: str = field(default="overwritten", kw_only=True)


Resolver = Callable[[Conflict], Decision]
