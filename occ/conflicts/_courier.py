"""Deliver notifications off the write path, rate limited, bursts folded into digests.

A notifying sink (webhook, e-mail) hands each event to a :class:`Courier` and
returns at once: the write never waits for a mail server. The courier's
thread sends at most one message per ``every`` seconds; the events that
arrive in between are sent together as one digest (listing at most
``max_items`` of them and counting the rest), so a burst of a thousand
conflicts makes two messages, not a thousand. A message that still fails
after its retries is logged and dropped: the conflicts it was about are in
the conflict store already.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from occ.conflicts._records import ConflictEvent

__all__ = ["Batch", "Courier", "retrying"]

logger = logging.getLogger("occ.conflicts")


@dataclass(frozen=True)
class Batch:
    """What one message is about.

    Attributes:
        events: the conflicts it lists, oldest first.
        more: how many more arrived than it lists.
    """

    events: tuple[ConflictEvent, ...]
    more: int = 0

    @property
    def total(self) -> int:
        """How many conflicts the message stands for."""
        return len(self.events) + self.more


class Courier:
    """A thread that sends batches of events with ``send``, at most one per ``every`` seconds.

    Args:
        send: delivers one batch (raises on failure, after its own retries).
        every: seconds between two messages.
        max_items: the most events one message lists.
        name: for the thread and the logs.
    """

    def __init__(
        self, send: Callable[[Batch], None], *, every: float, max_items: int, name: str
    ) -> None:
        if every < 0 or max_items < 1:
            raise ValueError("every must be >= 0 and max_items >= 1")
        self._send = send
        self.every = every
        self.max_items = max_items
        self.name = name
        self._cond = threading.Condition()
        self._pending: list[ConflictEvent] = []
        self._more = 0
        self._busy = False
        self._closed = False
        self._last = float("-inf")
        self._thread: threading.Thread | None = None
        #: messages sent and messages dropped after failing, since start.
        self.sent = 0
        self.failed = 0

    def put(self, event: ConflictEvent) -> None:
        """Queue ``event`` (never blocks; beyond ``max_items`` waiting, it is only counted)."""
        with self._cond:
            if self._closed:
                logger.warning(
                    "%s is closed; conflict %s not notified", self.name, event.conflict_id
                )
                return
            if len(self._pending) < self.max_items:
                self._pending.append(event)
            else:
                self._more += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
                _open.add(self)
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued was sent (or dropped); whether it was, in ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._more or self._busy:
                self._cond.notify_all()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (within ``timeout``, the rate limit waived), then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._more):
                    if self._closed:
                        return
                    self._cond.wait()
                while not self._closed:
                    wait = self._last + self.every - time.monotonic()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                batch = Batch(tuple(self._pending), self._more)
                self._pending, self._more, self._busy = [], 0, True
            try:
                self._send(batch)
                self.sent += 1
            except Exception:  # a sink's failure never reaches the write; it is logged
                self.failed += 1
                logger.warning(
                    "%s could not deliver a message about %d conflicts; dropped (they are in "
                    "the conflict store)",
                    self.name,
                    batch.total,
                    exc_info=True,
                )
            with self._cond:
                self._busy = False
                self._last = time.monotonic()
                self._cond.notify_all()


def retrying(
    attempt: Callable[[], None],
    *,
    retries: int,
    backoff: float,
    retryable: Callable[[Exception], float | None],
) -> None:
    """Run ``attempt``, retrying up to ``retries`` times while ``retryable(exc)`` gives a delay.

    ``retryable`` returns how long to wait before the next try (``None``: do not
    retry: the error is final); the wait is at least the exponential backoff.
    """
    for n in range(retries + 1):
        try:
            attempt()
            return
        except Exception as exc:
            delay = retryable(exc)
            if delay is None or n == retries:
                raise
            time.sleep(max(delay, backoff * 2**n))


_open: weakref.WeakSet[Courier] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # pragma: no cover - runs at interpreter exit
    for courier in list(_open):
        courier.close(timeout=2.0)
