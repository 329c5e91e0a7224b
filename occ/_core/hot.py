"""Hot keys: the keys of one repository whose optimistic writes keep losing.

Optimistic writes lose to a row lock where many writers want one row: each
attempt that loses costs a read and a write for nothing, and while a writer
holds the lock the others' reads still see the old version, so their writes
wait and then miss. Where conflicts are occasional the optimistic write is
the cheaper one (a shorter lock, no queue), so one conflict proves nothing.
From a key's first conflict on, its optimistic attempts are counted; once at
least ``least`` were made and ``ratio`` of them lost (within ``seconds`` of
each other), the key is *hot* for ``seconds``: every write of it takes the
row lock at its first chance (``modify`` reads ``FOR UPDATE`` on its first
attempt; a resolved write classifies its first miss under the lock), so its
writers queue on the lock instead of colliding. Then it is written
optimistically again and measured afresh: a lock is never kept where nothing
contends any more.

Pure (no I/O); the clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["HOT_SECONDS", "HotKeys"]

#: how long a key stays hot, and how far apart the attempts that make it hot may be.
HOT_SECONDS = 1.0


@dataclass
class _Key:
    since: float  # start of the counted attempts
    tries: int = 0
    lost: int = 0
    hot_until: float = 0.0


class HotKeys:
    """Conflict rates of the keys that met a conflict lately (bounded, thread-safe).

    Args:
        seconds: how long a key stays hot; attempts further apart start a new count.
        ratio: the share of lost attempts that makes a key hot (a third: from
            there the row lock gave more goodput in the contention benchmark).
        least: the fewest counted attempts that can make a key hot.
        size: the most keys remembered (the least recently met go first).
        clock: seconds from an arbitrary origin (default: ``time.monotonic``).
    """

    def __init__(
        self,
        *,
        seconds: float = HOT_SECONDS,
        ratio: float = 1 / 3,
        least: int = 8,
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.ratio = ratio
        self.least = least
        self.size = size
        self.clock = clock
        self._keys: OrderedDict[Hashable, _Key] = OrderedDict()
        self._lock = threading.Lock()

    def attempted(self, key: Any, *, lost: bool) -> None:
        """An optimistic attempt on ``key`` was made: it ``lost`` (a conflict) or not."""
        try:
            known = key in self._keys
        except TypeError:
            return  # unhashable: never counted, never hot
        if not lost and not known:
            return  # a key that never conflicted is not counted (the common case: no lock)
        now = self.clock()
        with self._lock:
            entry = self._keys.get(key)
            if entry is None:
                # The conflict that starts the watch is not counted: a count begun at a
                # loss would overstate every key's losses.
                self._keys[key] = _Key(since=now)
                while len(self._keys) > self.size:
                    self._keys.popitem(last=False)
                return
            if entry.hot_until > now:
                return  # begun before the key ran hot
            elif now - entry.since > self.seconds:
                entry.since, entry.tries, entry.lost = now, 0, 0  # a new count
            entry.tries += 1
            entry.lost += lost
            if lost:
                self._keys.move_to_end(key)
            if entry.tries >= self.least and entry.lost >= self.ratio * entry.tries:
                entry.hot_until = now + self.seconds
                entry.since, entry.tries, entry.lost = entry.hot_until, 0, 0

    def is_hot(self, key: Any) -> bool:
        """Whether writes of ``key`` take the row lock at once now."""
        if not self._keys:
            return False
        try:
            entry = self._keys.get(key)
        except TypeError:
            return False
        return entry is not None and entry.hot_until > self.clock()

    def __len__(self) -> int:
        return len(self._keys)
