"""The resolvers behind ``occ demo --policy raise|merge|discard|alert``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from occ import resolvers
from occ._cli._common import CliError

__all__ = ["POLICIES", "build_policy"]

#: the policies the demo knows, with what each does to a conflicting increment.
POLICIES: dict[str, str] = {
    "raise": "ConflictError; the writer reads again and retries",
    "merge": "three-way merge: my +1 is added to theirs (Counter), written at their version",
    "discard": "the stored value wins; the increment is dropped (and counted)",
    "alert": "the conflict is persisted for review, then discarded",
}


def build_policy(
    name: str, store: Callable[[], Any], sink: Callable[[Any], None]
) -> resolvers.Resolver:
    """The resolver for policy ``name``.

    Args:
        name: one of :data:`POLICIES`.
        store: returns the conflict store ``alert`` persists to.
        sink: ``alert`` also calls ``sink(event)`` for each conflict.

    Raises:
        CliError: ``name`` is not a policy the demo knows.
    """
    if name == "raise":
        return resolvers.Raise()
    if name == "merge":
        return resolvers.Merge(fields={"hits": resolvers.Counter(), "token": resolvers.Mine()})
    if name == "discard":
        return resolvers.Discard()
    if name == "alert":
        return resolvers.Alert(store(), sink, then=resolvers.Discard())
    raise CliError(f"unknown policy {name!r}: use one of {', '.join(POLICIES)}")
