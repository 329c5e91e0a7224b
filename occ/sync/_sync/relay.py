# Generated from occ/sync/_async/relay.py by scripts/unasync.py: edit that file.
"""``occ.sync.Relay``: publishes an outbox's events after commit, at least once.

One loop: lease partitions, read their pending events in order, publish them
(the publisher returns once the broker confirmed them), mark them published.
A relay that dies between publishing and marking publishes the same events
again after its lease expires (at least once; consumers discard duplicates by
version). While the broker is down the relay backs off exponentially.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from occ._modes import sleep
from occ.errors import ConfigurationError
from occ.sync._event import Event

__all__ = ["Publisher", "Relay"]

log = logging.getLogger("occ.sync.relay")


class Publisher(Protocol):
    """What a relay publishes through: a broker's client (or your own).

    ``publish`` returns only once the broker has accepted every event
    (confirms); it raises if any may be lost. A key's events must be
    published in the order given.
    """

    def publish(self, events: Sequence[Event]) -> None: ...


class Relay:
    """Publishes the pending events of an outbox, in order per key, at least once.

    Args:
        outbox: the outbox to read (:class:`~occ.sync.OutboxReader` of a SQL
            database, :class:`~occ.sync.MongoOutboxReader` of a MongoDB one).
        publisher: where events go (a broker, or your own :class:`Publisher`).
        batch: events per round (bounded reads, bounded broker batches).
        lease: seconds a partition lease lasts; renewed every round. A relay
            that dies holds its partitions this long.
        partitions: at most this many partitions per relay (default: all free ones);
            several relays share the outbox when each takes fewer than all.
        poll: seconds between rounds while nothing is pending.
        retention: published events older than this are deleted (``None``: kept).
        backoff: first and longest sleep (seconds) while the broker fails.
        owner: this relay's name in the lease table (default: host, pid, random).
    """

    def __init__(
        self,
        outbox: Any,
        publisher: Any,
        *,
        batch: int = 500,
        lease: float = 30.0,
        partitions: int | None = None,
        poll: float = 0.2,
        retention: dt.timedelta | None = dt.timedelta(days=1),
        backoff: tuple[float, float] = (0.2, 10.0),
        owner: str | None = None,
    ) -> None:
        if type(batch) is not int or batch < 1:
            raise ConfigurationError(f"batch must be an int >= 1, got {batch!r}")
        self.outbox = outbox
        self.publisher = publisher
        self.batch = batch
        self.lease = lease
        self.partitions = partitions or 1 << 30
        self.poll = poll
        self.retention = retention
        self.backoff = backoff
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        #: events published, rounds that failed, events purged.
        self.published = 0
        self.failures = 0
        self.purged = 0
        self._last_purge = 0.0

    def run_once(self) -> int:
        """One round: lease, read, publish, mark; the number of events published.

        Raises whatever the publisher raised (nothing marked then).
        """
        held = self.outbox.claim(self.owner, self.lease, self.partitions)
        events = self.outbox.pending(held, self.batch)
        if not events:
            return 0
        self.publisher.publish(events)
        self.outbox.mark(events)
        self.published += len(events)
        return len(events)

    def run(self, stop: Any = None, *, seconds: float | None = None) -> int:
        """Relay until ``stop.is_set()`` (an ``asyncio.Event`` or ``threading.Event``) or
        for ``seconds``; the number of events published. Leases are released at the end."""
        deadline = None if seconds is None else time.monotonic() + seconds
        delay = self.backoff[0]
        total = 0
        try:
            while (stop is None or not stop.is_set()) and (
                deadline is None or time.monotonic() < deadline
            ):
                try:
                    n = self.run_once()
                except Exception as exc:  # the broker or the database is down: back off
                    self.failures += 1
                    log.warning("occ relay %s: %s; retrying in %.1fs", self.owner, exc, delay)
                    sleep(delay)
                    delay = min(self.backoff[1], delay * 2)
                    continue
                delay = self.backoff[0]
                total += n
                self._maybe_purge()
                if n < self.batch:
                    sleep(self.poll)
        finally:
            try:
                self.outbox.release(self.owner)
            except Exception as exc:  # the database is gone: the leases expire by themselves
                log.warning("occ relay %s: could not release its leases: %s", self.owner, exc)
        return total

    def _maybe_purge(self) -> None:
        if self.retention is None or time.monotonic() - self._last_purge < 60.0:
            return
        self._last_purge = time.monotonic()
        self.purged += self.outbox.purge(self.retention)
