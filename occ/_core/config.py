"""What a flow knows of the entity it writes: its configuration and counters (pure)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from occ._core.decisions import Resolver, policy_options
from occ._core.hot import HotKeys
from occ._core.retry import RetryPolicy
from occ._core.versions import VersionScheme

__all__ = ["FlowConfig", "Stats", "is_strict", "strict_writes"]

_STRICT: ContextVar[bool] = ContextVar("occ_strict_writes", default=False)


@contextmanager
def strict_writes() -> Iterator[None]:
    """Within this block, a conflict raises whatever the entity's policy is.

    Used where a write must not be resolved again, e.g. applying a reviewed
    resolution from a conflict store: a stale resolution is itself a conflict.
    """
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def is_strict() -> bool:
    """True inside :func:`strict_writes`."""
    return _STRICT.get()


@dataclass
class Stats:
    """Counters a repository keeps: conflicts met, retries made, decisions taken."""

    conflicts: int = 0
    retries: int = 0
    #: attempts that took the row lock (the lock fallback on hot keys).
    fallbacks: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def conflict(self) -> None:
        with self._lock:
            self.conflicts += 1

    def retry(self) -> None:
        with self._lock:
            self.retries += 1

    def locked(self) -> None:
        with self._lock:
            self.fallbacks += 1

    def decided(self, label: str) -> None:
        with self._lock:
            self.decisions[label] = self.decisions.get(label, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters, safe to keep."""
        with self._lock:
            return {
                "conflicts": self.conflicts,
                "retries": self.retries,
                "fallbacks": self.fallbacks,
                "decisions": dict(self.decisions),
            }


@dataclass(frozen=True)
class FlowConfig:
    """What a flow needs to know about the entity it writes.

    Attributes:
        entity: name used in errors and conflicts.
        versions: the version scheme of the entity.
        retry: attempt budget and backoff.
        resolver: the entity's conflict policy.
        joined: the write runs inside a caller's transaction: a conflict raises
            at once (no resolution, no retry: the transaction must abort).
        points: yield named :class:`Point` steps for schedulers.
        stats: counters to update.
        lock_after: after this many conflicts of one write, its next attempt reads
            the row under a lock held until it wrote (a hot key's writer cannot lose
            again); ``None``: never (backends without row locks).
        hot: the keys whose optimistic attempts keep losing; with ``lock_after``
            set, their writes take the row lock at once (see :mod:`occ._core.hot`).
        commutative: the atomic operations the backend has (the fast path).
    """

    entity: str
    versions: VersionScheme
    retry: RetryPolicy
    resolver: Resolver
    joined: bool = False
    points: bool = False
    stats: Stats | None = None
    lock_after: int | None = None
    hot: HotKeys | None = None
    commutative: frozenset[str] = frozenset()

    @property
    def on_exhausted(self) -> Resolver | None:
        """The resolver's fallback when the retry budget runs out, if it declares one."""
        return policy_options(self.resolver).on_exhausted

    @functools.cached_property
    def fast_ops(self) -> Mapping[str, Any]:
        """The commutative operation of each field the resolver declares (empty: none)."""
        return policy_options(self.resolver).fast_ops()
