"""The resolvers behind ``occ demo --policy raise|merge|discard|alert``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["POLICIES", "Alerts", "build_policy"]

#: the policies the demo knows, with what each does to a conflicting increment.
POLICIES: dict[str, str] = {
    "raise": "ConflictError; the writer reads again and retries",
    "merge": "three-way merge: my +1 is added to theirs (Counter), written at their version",
    "discard": "the stored value wins; the increment is dropped (and counted)",
    "alert": "the conflict is persisted for review, then discarded",
}


class Alerts:
    """A sink that counts the alerts it receives (thread-safe)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            self.count += 1


def build_policy(name: str, store: Callable[[], Any]) -> tuple[Any, Alerts, list[str]]:
    """The resolver for policy ``name``, the alert counter, and notes for the report.

    Args:
        name: one of :data:`POLICIES`.
        store: returns the conflict store ``alert`` persists to (``None`` if the
            backend has none yet).
    """
    from occ import resolvers
    from occ._cli._common import CliError
    from occ.conflicts import CallbackSink

    if name not in POLICIES:
        raise CliError(f"unknown policy {name!r}: use one of {', '.join(POLICIES)}")
    alerts = Alerts()
    notes: list[str] = []
    if name == "raise":
        return resolvers.Raise(), alerts, notes
    if name == "merge":
        rules = {"hits": resolvers.Counter(), "token": resolvers.Mine()}
        return resolvers.Merge(fields=rules), alerts, notes
    if name == "discard":
        return resolvers.Discard(), alerts, notes
    found = store()
    sinks: list[Any] = [CallbackSink(alerts)]
    if found is None:
        notes.append("no conflict store for this backend yet: alerts were counted, not persisted")
    else:
        sinks.insert(0, found)
    return resolvers.Alert(*sinks, then=resolvers.Discard()), alerts, notes
