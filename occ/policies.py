"""One place to declare the conflict policy of every entity.

Repositories take ``policy=`` at construction; when they are not given one,
they ask this registry, and fall back to :class:`~occ.resolvers.Raise`::

    occ.policies.register(Order, Merge(fields={"total": Counter()}))
    occ.policies.register("events", Discard())   # a Mongo collection or table name

Beside its conflict policy, an entity can opt in to the outbox (change events
in the same transaction as each write, see :mod:`occ.sync`)::

    occ.policies.register_outbox(Account, occ.sync.Outbox(table="occ_outbox"))
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from occ._core.decisions import Resolver

__all__ = [
    "PolicyRegistry",
    "clear",
    "declare",
    "outbox_for",
    "policy_for",
    "register",
    "register_outbox",
    "registry",
]


class PolicyRegistry:
    """Maps models (classes, tables) or entity names to resolvers."""

    def __init__(self, default: Resolver | None = None) -> None:
        self._policies: dict[Any, Resolver] = {}
        self._outboxes: dict[Any, Any] = {}
        self._default = default
        self._lock = threading.Lock()
        #: bumped on every change: repositories built without ``policy=`` look up
        #: their policy again when it moves, so declaring after building works.
        self.generation = 0

    def register(self, model: Any, resolver: Resolver) -> None:
        """Use ``resolver`` for repositories of ``model`` built without ``policy=``."""
        if not callable(resolver):
            raise TypeError(f"a resolver is a callable of a Conflict, got {resolver!r}")
        with self._lock:
            self._policies[model] = resolver
            self.generation += 1

    def declare(self, policies: Mapping[Any, Resolver]) -> None:
        """Register every ``model -> resolver`` pair of ``policies`` (one place for all)."""
        for model, resolver in policies.items():
            self.register(model, resolver)

    def register_outbox(self, model: Any, outbox: Any) -> None:
        """Emit change events through ``outbox`` (an :class:`occ.sync.Outbox`) for the
        repositories of ``model`` built from now on without ``outbox=``."""
        from occ.sync._outbox import Outbox

        if not isinstance(outbox, Outbox):
            raise TypeError(f"register_outbox takes an occ.sync.Outbox, got {outbox!r}")
        with self._lock:
            self._outboxes[model] = outbox

    def unregister(self, model: Any) -> None:
        """Forget the policy and the outbox of ``model``."""
        with self._lock:
            self._policies.pop(model, None)
            self._outboxes.pop(model, None)
            self.generation += 1

    def clear(self) -> None:
        """Forget every registered policy and outbox."""
        with self._lock:
            self._policies.clear()
            self._outboxes.clear()
            self.generation += 1

    def outbox_for(self, model: Any, *names: Any) -> Any:
        """The outbox registered for ``model`` (or one of its names), else ``None``."""
        with self._lock:
            for candidate in (model, *names, getattr(model, "__name__", None)):
                if candidate is not None and candidate in self._outboxes:
                    return self._outboxes[candidate]
        return None

    def lookup(self, model: Any, *names: Any) -> Resolver:
        """The resolver for ``model`` (or one of its names), else the default, else Raise."""
        with self._lock:
            for candidate in (model, *names, getattr(model, "__name__", None)):
                if candidate is not None and candidate in self._policies:
                    return self._policies[candidate]
        if self._default is not None:
            return self._default
        from occ.resolvers import Raise

        return Raise()


registry = PolicyRegistry()


def register(model: Any, resolver: Resolver) -> None:
    """Register ``resolver`` as the policy of ``model`` in the global registry.

    Repositories built without ``policy=`` use it from their next write on,
    even when they were built before it was registered.
    """
    registry.register(model, resolver)


def declare(policies: Mapping[Any, Resolver]) -> None:
    """Register every ``model -> resolver`` pair in the global registry::

    occ.policies.declare({
        Order: Merge(fields={"total": Counter()}),
        AuditLog: Discard(archive=store),
    })
    """
    registry.declare(policies)


def policy_for(model: Any, *names: str) -> Resolver:
    """The policy of ``model`` in the global registry (``Raise`` if none)."""
    return registry.lookup(model, *names)


def register_outbox(model: Any, outbox: Any) -> None:
    """Emit change events for ``model`` through ``outbox`` (an :class:`occ.sync.Outbox`).

    Repositories (and ``occ.orm`` versioned flushes) of ``model`` built after
    this call without ``outbox=`` record an event with every write that changes a row.
    """
    registry.register_outbox(model, outbox)


def outbox_for(model: Any, *names: str) -> Any:
    """The :class:`occ.sync.Outbox` registered for ``model``, ``None`` if none."""
    return registry.outbox_for(model, *names)


def clear() -> None:
    """Forget every registered policy and outbox (for tests)."""
    registry.clear()
