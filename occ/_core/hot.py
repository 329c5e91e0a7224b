"""Hot keys: the keys of one repository that met a conflict a moment ago.

Optimistic writes lose to a row lock where many writers want one row: each
attempt that loses costs a read and a write for nothing, and while a writer
holds the lock the others' reads still see the old version, so their writes
wait and then miss. A key that met a conflict within the last ``seconds`` is
*hot*: the next write of it takes the row lock at once (``modify`` reads
``FOR UPDATE`` on its first attempt; a resolved write classifies its first
miss under the lock), so writers of a hot key queue on the lock instead of
colliding. A key that stays quiet for ``seconds`` cools down and is written
optimistically again: a lock is never taken where nothing contends.

Pure (no I/O); the clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["HOT_SECONDS", "HotKeys"]

#: how long a key stays hot after its last conflict.
HOT_SECONDS = 1.0


class HotKeys:
    """A bounded record of keys that met a conflict lately (thread-safe).

    Args:
        seconds: how long a key stays hot after its last conflict.
        size: the most keys remembered (the least recently marked go first).
        clock: seconds from an arbitrary origin (default: ``time.monotonic``).
    """

    def __init__(
        self,
        *,
        seconds: float = HOT_SECONDS,
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._until: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def mark(self, key: Any) -> None:
        """``key`` met a conflict now."""
        if not isinstance(key, Hashable):
            return
        until = self.clock() + self.seconds
        with self._lock:
            self._until[key] = until
            self._until.move_to_end(key)
            while len(self._until) > self.size:
                self._until.popitem(last=False)

    def is_hot(self, key: Any) -> bool:
        """Whether ``key`` met a conflict within the last ``seconds``."""
        if not isinstance(key, Hashable):
            return False
        with self._lock:
            until = self._until.get(key)
            if until is None:
                return False
            if until < self.clock():
                del self._until[key]
                return False
            return True

    def __len__(self) -> int:
        return len(self._until)
