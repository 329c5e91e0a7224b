"""NATS JetStream: a publisher for relays and a durable pull subscriber (``occ[nats]``).

Events go to subject ``occ.<entity>`` (configurable) of a stream the
publisher creates if missing; each carries its event id as ``Nats-Msg-Id``, so
JetStream drops a republished event inside the stream's duplicate window (a
relay killed between publishing and marking). A batch is published in
waves with at most one event per key, each wave's acknowledgements awaited
together: a key's events stay in order. Async only (``nats-py`` has no sync
client).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from occ.sync._clients import require
from occ.sync._delivery import Delivery
from occ.sync._event import Event, encode

__all__ = ["NatsJetStream", "NatsSubscriber", "waves"]


def waves(events: Sequence[Event]) -> list[list[Event]]:
    """``events`` in consecutive groups holding at most one event per key, in order."""
    out: list[list[Event]] = []
    last: dict[tuple[str, Any], int] = {}
    for event in events:
        index = last.get((event.entity, event.key), -1) + 1
        if index == len(out):
            out.append([])
        out[index].append(event)
        last[(event.entity, event.key)] = index
    return out


async def _connect(servers: Any, timeout: float) -> Any:
    nats = require("nats")
    if not isinstance(servers, str):
        return servers

    async def quiet(exc: Exception) -> None:  # nats-py logs every failed attempt otherwise
        return None

    try:
        # Reconnect for ever once connected; fail the first connection after ``timeout``.
        return await asyncio.wait_for(
            nats.connect(
                servers,
                connect_timeout=timeout,
                max_reconnect_attempts=-1,
                error_cb=quiet,
            ),
            timeout,
        )
    except Exception as exc:
        raise ConnectionError(f"NATS at {servers} is unreachable: {exc}") from exc


class NatsJetStream:
    """Publishes events to a JetStream stream, de-duplicated by event id.

    Args:
        servers: a ``nats://`` URL (or a connected ``nats.NATS`` client).
        stream: the JetStream stream (created with subjects ``<prefix>.>`` if missing).
        prefix: events of entity ``e`` go to subject ``<prefix>.e``.
        duplicate_window: seconds JetStream remembers message ids.
        timeout: seconds to connect, and to wait for each acknowledgement.
    """

    def __init__(
        self,
        servers: Any,
        *,
        stream: str = "OCC",
        prefix: str = "occ",
        duplicate_window: float = 120.0,
        timeout: float = 5.0,
    ) -> None:
        require("nats")
        self.servers = servers
        self.stream = stream
        self.prefix = prefix
        self.duplicate_window = duplicate_window
        self.timeout = timeout
        self.nc: Any = None
        self.js: Any = None

    async def connect(self) -> Any:
        """Connect and create the stream if it does not exist; the JetStream context."""
        if self.js is None:
            self.nc = await _connect(self.servers, self.timeout)
            js = self.nc.jetstream(timeout=self.timeout)
            await js.add_stream(
                name=self.stream,
                subjects=[f"{self.prefix}.>"],
                duplicate_window=self.duplicate_window,
            )
            self.js = js
        return self.js

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish ``events``; returns when JetStream acknowledged each (stored or duplicate)."""
        js = await self.connect()
        for wave in waves(events):
            await asyncio.gather(
                *(
                    js.publish(
                        f"{self.prefix}.{e.entity}",
                        encode(e),
                        headers={"Nats-Msg-Id": e.id},
                    )
                    for e in wave
                )
            )

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()
            self.nc = self.js = None


class NatsSubscriber:
    """A durable pull consumer of one entity's subject, for :class:`~occ.sync.AsyncConsumer`.

    Args:
        servers: a ``nats://`` URL or a connected client.
        subject: the subject to read (e.g. ``occ.profiles``).
        durable: the durable consumer's name (one per consuming service).
        stream: the stream holding the subject.
        dead_letter: the subject poison events go to (``reason`` header).
        ack_wait: seconds before an unacknowledged message is delivered again.
    """

    def __init__(
        self,
        servers: Any,
        subject: str,
        *,
        durable: str,
        stream: str = "OCC",
        dead_letter: str = "occ_dead.events",
        ack_wait: float = 60.0,
        timeout: float = 5.0,
    ) -> None:
        self.nats = require("nats")
        self.servers = servers
        self.subject = subject
        self.durable = durable
        self.stream = stream
        self.dead_letter_subject = dead_letter
        self.ack_wait = ack_wait
        self.timeout = timeout
        self.nc: Any = None
        self.sub: Any = None

    async def _ensure(self) -> Any:
        if self.sub is None:
            self.nc = await _connect(self.servers, self.timeout)
            js = self.nc.jetstream(timeout=self.timeout)
            config = self.nats.js.api.ConsumerConfig(ack_wait=self.ack_wait)
            self.sub = await js.pull_subscribe(
                self.subject, durable=self.durable, stream=self.stream, config=config
            )
        return self.sub

    async def fetch(self, count: int, timeout: float) -> list[Delivery]:
        """Up to ``count`` messages, waiting up to ``timeout`` seconds for the first."""
        sub = await self._ensure()
        try:
            msgs = await sub.fetch(count, timeout=max(timeout, 0.05))
        except (TimeoutError, self.nats.errors.TimeoutError):  # nats-py raises either
            return []
        return [Delivery(m.data, m) for m in msgs]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge ``deliveries``: every ack sent, then one flush for the batch (an ack
        lost on the way only brings its event back, and the replica discards it)."""
        for delivery in deliveries:
            await delivery.handle.ack()
        if deliveries:
            await self.nc.flush(timeout=self.timeout)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Publish ``delivery`` to the dead-letter subject with ``reason``, then ack it."""
        await self.nc.publish(
            self.dead_letter_subject, delivery.data, headers={"reason": reason[:1000]}
        )
        await self.nc.flush()
        await self.ack([delivery])

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()
            self.nc = self.sub = None
