# Generated from occ/sync/_async/redis.py by scripts/unasync.py: edit that file.
"""Redis Streams: a publisher for relays and a consumer-group subscriber (``occ[redis]``).

Events go to one stream per entity (``occ:<entity>``, configurable), each
entry ``{"event": <JSON>}``. A relay's batch is one pipeline; Redis answers
each ``XADD`` once the entry is in the stream (durable as your Redis
persistence: AOF ``appendfsync always`` for no loss on a crash). Consumers read
through a consumer group: an entry stays pending until acknowledged, a
restarted consumer reads its own pending entries first, and entries left
pending by a dead consumer are claimed after ``claim_idle`` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from occ.errors import ConfigurationError
from occ.sync._clients import Redis, require
from occ.sync._delivery import Delivery
from occ.sync._event import Event, encode

__all__ = ["RedisStreams", "RedisSubscriber"]


class RedisStreams:
    """Publishes events to Redis Streams, a relay's batch in one pipeline.

    Args:
        redis: a URL (``redis://host:6379/0``) or a ``redis`` client of this mode.
        stream: the stream's name; ``{entity}`` is replaced by the event's entity.
        maxlen: trim each stream to about this many entries (``None``: never).
    """

    def __init__(self, redis: Any, *, stream: str = "occ:{entity}", maxlen: int | None = None):
        require("redis")
        try:
            stream.format(entity="entity")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(
                f"stream {stream!r}: a Redis stream name may hold {{entity}} and nothing else "
                f"in braces ({type(exc).__name__}: {exc})"
            ) from None
        self.client = Redis(redis)
        self.stream = stream
        self.maxlen = maxlen

    def publish(self, events: Sequence[Event]) -> None:
        """Append ``events`` in order; returns when Redis has stored them all."""
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(
                self.stream.format(entity=event.entity),
                {"event": encode(event)},
                maxlen=self.maxlen,
                approximate=True,
            )
        pipe.execute()

    def close(self) -> None:
        self.client.close()


class RedisSubscriber:
    """Reads a stream through a consumer group, for :class:`~occ.sync.Consumer`.

    Args:
        redis: a URL or a ``redis`` client of this mode.
        stream: the stream to read (e.g. ``occ:profiles``).
        group: the consumer group (one per consuming service).
        consumer: this consumer's name in the group (keep it across restarts:
            a restarted consumer first reads what it had not acknowledged).
        dead_letter: the stream poison events go to, with their reason.
        claim_idle: seconds after which entries another consumer left
            unacknowledged are claimed.
    """

    def __init__(
        self,
        redis: Any,
        stream: str,
        *,
        group: str,
        consumer: str = "consumer-1",
        dead_letter: str = "occ:dead",
        claim_idle: float = 30.0,
    ) -> None:
        self.redis = require("redis")
        self.client = Redis(redis)
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.dead_letter_stream = dead_letter
        self.claim_idle = claim_idle
        self._ready = False
        self._own_pending = True

    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except self.redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._ready = True

    def fetch(self, count: int, timeout: float) -> list[Delivery]:
        """Up to ``count`` entries: first those this consumer had not acknowledged, then
        those idle in dead consumers, then new ones (waiting up to ``timeout`` seconds)."""
        self._ensure()
        if self._own_pending:
            got = self._read("0", count, None)
            if got:
                return got
            self._own_pending = False
        claimed = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            int(self.claim_idle * 1000),
            "0-0",
            count=count,
        )
        entries = [(i, f) for i, f in claimed[1] if f]
        if entries:
            return [Delivery(f[b"event"], i) for i, f in entries]
        return self._read(">", count, max(1, int(timeout * 1000)))

    def _read(self, start: str, count: int, block: int | None) -> list[Delivery]:
        reply = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count, block=block
        )
        out = []
        for _, entries in reply or []:
            for entry_id, fields in entries:
                if fields:
                    out.append(Delivery(fields.get(b"event", b""), entry_id))
                else:  # trimmed away while pending: nothing to apply
                    self.client.xack(self.stream, self.group, entry_id)
        return out

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge ``deliveries`` (they will not come again)."""
        if deliveries:
            self.client.xack(self.stream, self.group, *(d.handle for d in deliveries))

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move ``delivery`` to the dead-letter stream with ``reason``, then acknowledge it."""
        self.client.xadd(
            self.dead_letter_stream,
            {"event": delivery.data, "reason": reason, "stream": self.stream},
        )
        self.ack([delivery])

    def close(self) -> None:
        self.client.close()
