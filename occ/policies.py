"""One place to declare the conflict policy of every entity.

Repositories take ``policy=`` at construction; when they are not given one,
they ask this registry, and fall back to :class:`~occ.resolvers.Raise`::

    occ.policies.register(Order, Merge(fields={"total": Counter()}))
    occ.policies.register("events", Discard())   # a Mongo collection or table name
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from occ._core.decisions import Resolver

__all__ = ["PolicyRegistry", "clear", "declare", "policy_for", "register", "registry"]


class PolicyRegistry:
    """Maps models (classes, tables) or entity names to resolvers."""

    def __init__(self, default: Resolver | None = None) -> None:
        self._policies: dict[Any, Resolver] = {}
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

    def unregister(self, model: Any) -> None:
        """Forget the policy of ``model``."""
        with self._lock:
            self._policies.pop(model, None)
            self.generation += 1

    def clear(self) -> None:
        """Forget every registered policy."""
        with self._lock:
            self._policies.clear()
            self.generation += 1

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


def clear() -> None:
    """Forget every registered policy (for tests)."""
    registry.clear()
