"""What one attempt of ``occ.sql.transaction`` read, and which rows the next one locks.

A transaction over several rows that met a conflict, a deadlock or a
serialization failure is run again from a fresh transaction. Where it met one,
it will likely meet another: the rows it read are contended. So its next
attempt reads those rows under a row lock (``SELECT … FOR UPDATE``) through
every repository joined to it, and cannot lose them again — the fallback of a
single write (:mod:`occ._core.hot`), for a whole transaction. An attempt that
met nothing leaves the next transaction optimistic.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from occ._core.hot import HotKeys

__all__ = ["Attempt", "attempt", "locks_read"]

#: rows (engine, entity, key) whose transactions keep losing, across the helper's calls.
_HOT = HotKeys(size=4096)
#: engine numbers: unlike ``id()``, never reused by a later engine.
_engines = itertools.count(1)

Row = tuple[int, str, Hashable]


@dataclass
class Attempt:
    """One attempt: the rows it reads under a lock, and the rows it read
    (engine, entity, key)."""

    lock: frozenset[Row] = frozenset()
    read: set[Row] = field(default_factory=set)
    #: the rows read without a lock: this attempt's optimistic bets.
    bets: set[Row] = field(default_factory=set)

    def ended(self, *, lost: bool) -> None:
        """Count the attempt's optimistic reads as won or lost (see :mod:`occ._core.hot`)."""
        for row in self.bets:
            _HOT.attempted(row, lost=lost)

    def next(self) -> Attempt:
        """The next attempt's: every row this one read is read under the lock."""
        return Attempt(lock=frozenset(self.lock | self.read))


_CURRENT: ContextVar[Attempt | None] = ContextVar("occ_transaction_attempt", default=None)


def _row(engine: int, entity: str, key: Any) -> Row | None:
    try:
        hash(key)
    except TypeError:
        return None
    return engine, entity, key


@contextmanager
def attempt(state: Attempt) -> Iterator[Attempt]:
    """Run a block as ``state``'s attempt (reads of joined repositories consult it)."""
    token = _CURRENT.set(state)
    try:
        yield state
    finally:
        _CURRENT.reset(token)


def locks_read(engine: Any, entity: str, key: Any) -> bool:
    """Whether a joined read of ``key`` takes the row lock (and record that it was read)."""
    current = _CURRENT.get()
    if current is None:
        return False
    slots = getattr(engine, "sync_engine", engine).__dict__  # an AsyncEngine has none
    number = slots.get("_occ_number")
    if number is None:
        number = slots.setdefault("_occ_number", next(_engines))
    row = _row(number, entity, key)
    if row is None:
        return False
    current.read.add(row)
    if row in current.lock or _HOT.is_hot(row):
        return True
    current.bets.add(row)
    return False
