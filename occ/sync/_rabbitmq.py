"""RabbitMQ: a publisher with publisher confirms and a queue subscriber (``occ[rabbitmq]``).

Events go to a durable topic exchange (``occ.events``) with the entity as
routing key, persistent, ``message_id`` set to the event id. The channel
runs in confirm mode: ``publish`` returns when the broker confirmed every
message of the batch (published in waves of one event per key, so a key's
events stay in order). Async only (``aio-pika``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from occ.sync._clients import require
from occ.sync._delivery import Delivery
from occ.sync._event import Event, encode
from occ.sync._nats import waves

__all__ = ["RabbitPublisher", "RabbitSubscriber"]


async def _connect(url: str, timeout: float) -> Any:
    aio_pika = require("aio_pika")
    try:
        return await aio_pika.connect_robust(url, timeout=timeout)
    except Exception as exc:
        raise ConnectionError(f"RabbitMQ at {url} is unreachable: {exc}") from exc


class RabbitPublisher:
    """Publishes events to a topic exchange with publisher confirms.

    Args:
        url: an ``amqp://`` URL.
        exchange: the durable topic exchange (declared if missing).
        timeout: seconds to connect.
    """

    def __init__(self, url: str, *, exchange: str = "occ.events", timeout: float = 5.0) -> None:
        self.aio_pika = require("aio_pika")
        self.url = url
        self.exchange_name = exchange
        self.timeout = timeout
        self.connection: Any = None
        self.exchange: Any = None

    async def connect(self) -> Any:
        if self.exchange is None:
            self.connection = await _connect(self.url, self.timeout)
            channel = await self.connection.channel(publisher_confirms=True)
            self.exchange = await channel.declare_exchange(
                self.exchange_name, self.aio_pika.ExchangeType.TOPIC, durable=True
            )
        return self.exchange

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish ``events``; returns when RabbitMQ confirmed each of them."""
        exchange = await self.connect()
        persistent = self.aio_pika.DeliveryMode.PERSISTENT
        for wave in waves(events):
            await asyncio.gather(
                *(
                    exchange.publish(
                        self.aio_pika.Message(
                            encode(e),
                            message_id=e.id,
                            delivery_mode=persistent,
                            content_type="application/json",
                        ),
                        routing_key=e.entity,
                    )
                    for e in wave
                )
            )

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = self.exchange = None


class RabbitSubscriber:
    """A durable queue bound to an entity's events, for :class:`~occ.sync.AsyncConsumer`.

    Args:
        url: an ``amqp://`` URL.
        queue: the durable queue (one per consuming service), declared and bound.
        entity: the routing key it binds (the source entity).
        exchange: the exchange the relay publishes to.
        dead_letter: the durable queue poison events go to (header ``reason``).
        prefetch: messages delivered ahead of acknowledgements.
    """

    def __init__(
        self,
        url: str,
        queue: str,
        *,
        entity: str,
        exchange: str = "occ.events",
        dead_letter: str = "occ.dead",
        prefetch: int = 200,
        timeout: float = 5.0,
    ) -> None:
        self.aio_pika = require("aio_pika")
        self.url = url
        self.queue_name = queue
        self.entity = entity
        self.exchange_name = exchange
        self.dead_letter_queue = dead_letter
        self.prefetch = prefetch
        self.timeout = timeout
        self.connection: Any = None
        self.channel: Any = None
        self.queue: Any = None
        self._pushed: asyncio.Queue[Any] = asyncio.Queue()

    async def _ensure(self) -> Any:
        if self.queue is None:
            self.connection = await _connect(self.url, self.timeout)
            channel = await self.connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=self.prefetch)
            exchange = await channel.declare_exchange(
                self.exchange_name, self.aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.queue_name, durable=True)
            await queue.bind(exchange, routing_key=self.entity)
            await channel.declare_queue(self.dead_letter_queue, durable=True)
            self.channel, self.queue = channel, queue
            # RabbitMQ pushes up to ``prefetch`` unacknowledged messages into this buffer.
            self._pushed = asyncio.Queue()
            await queue.consume(self._pushed.put, no_ack=False)
        return self.queue

    async def fetch(self, count: int, timeout: float) -> list[Delivery]:
        """Up to ``count`` messages; waits up to ``timeout`` seconds for the first."""
        await self._ensure()
        try:
            first = await asyncio.wait_for(self._pushed.get(), timeout)
        except TimeoutError:
            return []
        out = [first]
        while len(out) < count and not self._pushed.empty():
            out.append(self._pushed.get_nowait())
        return [Delivery(message.body, message) for message in out]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await delivery.handle.ack()

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Send ``delivery`` to the dead-letter queue with ``reason`` (confirmed), then ack it."""
        await self.channel.default_exchange.publish(
            self.aio_pika.Message(delivery.data, headers={"reason": reason[:1000]}),
            routing_key=self.dead_letter_queue,
        )
        await self.ack([delivery])

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = self.channel = self.queue = None
