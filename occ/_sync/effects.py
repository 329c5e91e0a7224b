# Generated from occ/_async/effects.py by scripts/unasync.py: edit that file.
"""Perform the side effects a resolver asked for, before its decision applies.

The order is fixed: every store persists the conflict first (a store that
fails fails the write, so nothing is silently lost), then every sink is
told, each bounded by a timeout (see :mod:`occ.conflicts._delivery`).
"""

from __future__ import annotations

from occ._core.steps import Archive, Effect
from occ.conflicts._delivery import add, notify
from occ.conflicts._records import ConflictEvent

__all__ = ["perform"]


def perform(effect: Effect) -> None:
    """Persist, then notify, as ``effect`` says."""
    c = effect.conflict
    if isinstance(effect, Archive):
        add(effect.store, c, effect.status, effect.outcome, effect.details)
        return
    ids = [add(s, c, "pending", effect.outcome, effect.details) for s in effect.stores]
    event = ConflictEvent(c, effect.outcome, effect.details, ids[0] if ids else None)
    for sink in effect.sinks:
        notify(sink, event, effect.timeout)
