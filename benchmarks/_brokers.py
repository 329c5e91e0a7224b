"""The brokers of the ``sync`` workload: ``occ``'s publisher and subscriber, and the raw baseline.

The raw baseline is the broker's own client moving the same payloads as a
careful user would write it, with no database: Redis — one pipeline of
``XADD`` per batch, ``XREADGROUP COUNT`` and one ``XACK`` per batch; RabbitMQ
(aio-pika) — persistent messages whose publisher confirms are awaited per
batch, a prefetching consumer acknowledging with ``multiple=True``; NATS
JetStream — publishes whose acknowledgements are awaited per batch, a pull
consumer fetching batches and acknowledging each message (without waiting)
then flushing once. Brokers are ``OCC_REDIS_URL``, ``OCC_AMQP_URL`` and
``OCC_NATS_URL`` (default: the local ones); every name a run uses is its own
and is deleted at the end.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["BROKERS", "BrokerBench", "make_broker", "reachable"]

#: the brokers, in the order they run.
BROKERS = ("redis", "rabbitmq", "nats")
_URLS = {
    "redis": ("OCC_REDIS_URL", "redis://127.0.0.1:6379/0", 6379),
    "rabbitmq": ("OCC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", 5672),
    "nats": ("OCC_NATS_URL", "nats://127.0.0.1:4222", 4222),
}
#: the entity of the benchmark's events.
ENTITY = "items"

Seen = Callable[[bytes], None]
Sent = dict[bytes, float]


def url_of(name: str) -> str:
    env, default, _ = _URLS[name]
    return os.environ.get(env, default)


def reachable(name: str) -> bool:
    """Whether the broker accepts a TCP connection (within two seconds)."""
    url = url_of(name)
    rest = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = rest.partition(":")
    try:
        with socket.create_connection((host, int(port or _URLS[name][2])), timeout=2):
            return True
    except OSError:
        return False


async def _paced(payloads: Sequence[bytes], rate: float, send: Any, sent: Sent) -> None:
    """``send(payload)`` each payload at its time, one every ``1/rate`` seconds, noting
    when in ``sent``."""
    start = time.perf_counter()
    for i, payload in enumerate(payloads):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[payload] = time.time()
        await send(payload)


def _chunks(payloads: Sequence[bytes], size: int) -> list[Sequence[bytes]]:
    return [payloads[i : i + size] for i in range(0, len(payloads), size)]


class BrokerBench:
    """One broker: ``occ``'s pair for a run, the raw baseline, and the cleanup."""

    name = ""

    def __init__(self) -> None:
        self.url = url_of(self.name)
        self.tag = f"occbench{uuid.uuid4().hex[:8]}"

    def occ_pair(self, batch: int) -> tuple[Any, Any]:
        """A publisher and a subscriber of ``occ`` on names of this run."""
        raise NotImplementedError

    async def raw(
        self, payloads: Sequence[bytes], batch: int, rate: float | None, seen: Seen, sent: Sent
    ) -> None:
        """Publish ``payloads`` (in batches, or one at a time at ``rate``, noting when in
        ``sent``) and consume them all; ``seen(payload)`` as each one arrives."""
        raise NotImplementedError

    async def cleanup(self) -> None:
        """Delete what this run created on the broker."""


class RedisBench(BrokerBench):
    name = "redis"

    def occ_pair(self, batch: int) -> tuple[Any, Any]:
        from occ.sync import AsyncRedisStreams, AsyncRedisSubscriber

        publisher = AsyncRedisStreams(self.url, stream=f"{self.tag}:{{entity}}")
        return publisher, AsyncRedisSubscriber(self.url, f"{self.tag}:{ENTITY}", group="copy")

    async def raw(
        self, payloads: Sequence[bytes], batch: int, rate: float | None, seen: Seen, sent: Sent
    ) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url)
        stream = f"{self.tag}:raw:{uuid.uuid4().hex[:6]}"
        await client.xgroup_create(stream, "raw", id="0", mkstream=True)

        async def one(payload: bytes) -> None:
            await client.xadd(stream, {"event": payload})

        async def produce() -> None:
            if rate is not None:
                return await _paced(payloads, rate, one, sent)
            for chunk in _chunks(payloads, batch):
                pipe = client.pipeline(transaction=False)
                for payload in chunk:
                    pipe.xadd(stream, {"event": payload})
                await pipe.execute()
            return None

        async def consume() -> None:
            got = 0
            while got < len(payloads):
                reply = await client.xreadgroup("raw", "c", {stream: ">"}, count=batch, block=200)
                ids = []
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        seen(fields[b"event"])
                        ids.append(entry_id)
                if ids:
                    await client.xack(stream, "raw", *ids)
                    got += len(ids)

        try:
            await asyncio.gather(produce(), consume())
        finally:
            await client.delete(stream)
            await client.aclose()

    async def cleanup(self) -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url)
        async for key in client.scan_iter(f"{self.tag}:*"):
            await client.delete(key)
        await client.aclose()


class RabbitBench(BrokerBench):
    name = "rabbitmq"

    def occ_pair(self, batch: int) -> tuple[Any, Any]:
        from occ.sync import RabbitPublisher, RabbitSubscriber

        exchange, queue = f"{self.tag}.events", f"{self.tag}.copy"
        publisher = RabbitPublisher(self.url, exchange=exchange)
        subscriber = RabbitSubscriber(
            self.url,
            queue,
            entity=ENTITY,
            exchange=exchange,
            dead_letter=f"{queue}.dead",
            prefetch=batch,
        )
        return publisher, subscriber

    async def raw(
        self, payloads: Sequence[bytes], batch: int, rate: float | None, seen: Seen, sent: Sent
    ) -> None:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            name = f"{self.tag}.raw.{uuid.uuid4().hex[:6]}"
            exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC)
            queue = await channel.declare_queue(name, durable=True)
            await queue.bind(exchange, routing_key=ENTITY)
            reader = await connection.channel()
            await reader.set_qos(prefetch_count=batch)
            persistent = aio_pika.DeliveryMode.PERSISTENT

            async def one(payload: bytes) -> None:
                message = aio_pika.Message(payload, delivery_mode=persistent)
                await exchange.publish(message, routing_key=ENTITY)

            async def produce() -> None:
                if rate is not None:
                    return await _paced(payloads, rate, one, sent)
                for chunk in _chunks(payloads, batch):
                    await asyncio.gather(*(one(p) for p in chunk))
                return None

            async def consume() -> None:
                got = 0
                incoming = await reader.get_queue(name)
                async with incoming.iterator() as messages:
                    async for message in messages:
                        seen(message.body)
                        got += 1
                        if got % min(batch, 50) == 0 or got == len(payloads):
                            await message.ack(multiple=True)
                        if got == len(payloads):
                            return

            await asyncio.gather(produce(), consume())
            await queue.delete(if_unused=False, if_empty=False)
            await exchange.delete()
        finally:
            await connection.close()

    async def cleanup(self) -> None:
        import aio_pika

        connection = await aio_pika.connect(self.url)
        try:
            channel = await connection.channel()
            for queue in (f"{self.tag}.copy", f"{self.tag}.copy.dead"):
                await channel.queue_delete(queue)
            await channel.exchange_delete(f"{self.tag}.events")
        finally:
            await connection.close()


class NatsBench(BrokerBench):
    name = "nats"

    def occ_pair(self, batch: int) -> tuple[Any, Any]:
        from occ.sync import NatsJetStream, NatsSubscriber

        stream = self.tag.upper()
        publisher = NatsJetStream(self.url, stream=stream, prefix=self.tag)
        subscriber = NatsSubscriber(
            self.url,
            f"{self.tag}.{ENTITY}",
            durable="copy",
            stream=stream,
            dead_letter=f"{self.tag}_dead",
        )
        return publisher, subscriber

    async def raw(
        self, payloads: Sequence[bytes], batch: int, rate: float | None, seen: Seen, sent: Sent
    ) -> None:
        import nats

        nc = await nats.connect(self.url)
        js = nc.jetstream()
        name = f"{self.tag}RAW{uuid.uuid4().hex[:6]}".upper()
        subject = f"{name.lower()}.{ENTITY}"
        await js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
        try:
            sub = await js.pull_subscribe(subject, durable="raw", stream=name)

            async def one(payload: bytes) -> None:
                await js.publish(subject, payload)

            async def produce() -> None:
                if rate is not None:
                    return await _paced(payloads, rate, one, sent)
                for chunk in _chunks(payloads, batch):
                    await asyncio.gather(*(one(p) for p in chunk))
                return None

            async def consume() -> None:
                got = 0
                while got < len(payloads):
                    try:
                        msgs = await sub.fetch(batch, timeout=0.2)
                    except nats.errors.TimeoutError:
                        continue
                    for msg in msgs:
                        seen(msg.data)
                        await msg.ack()
                    await nc.flush()
                    got += len(msgs)

            await asyncio.gather(produce(), consume())
        finally:
            await js.delete_stream(name)
            await nc.close()

    async def cleanup(self) -> None:
        import nats

        nc = await nats.connect(self.url)
        try:
            await nc.jetstream().delete_stream(self.tag.upper())
        except Exception:  # never created (the broker was skipped early)
            pass
        finally:
            await nc.close()


def make_broker(name: str) -> BrokerBench:
    return {"redis": RedisBench, "rabbitmq": RabbitBench, "nats": NatsBench}[name]()
