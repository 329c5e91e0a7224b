"""Each broker end to end: outbox -> relay -> broker -> consumer -> replica, on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import occ.sql
from occ.sync import (
    AsyncConsumer,
    AsyncOutboxReader,
    AsyncRelay,
    AsyncReplica,
    Event,
    NatsJetStream,
    NatsSubscriber,
    RabbitPublisher,
    RabbitSubscriber,
)
from occ.sync._nats import waves
from tests.sync.helpers import Service
from tests.sync.models import profile, unique


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Any:
    eng = sa.create_engine(f"sqlite:///{tmp_path}/svc.db", connect_args={"timeout": 30})
    yield eng
    occ.sql.dispose(eng)


@pytest.fixture
async def async_sqlite(tmp_path: Any) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/svc.db")
    yield eng
    await occ.sql.adispose(eng)


def write_history(svc: Service) -> None:
    for key in range(1, 11):
        svc.repo.insert(profile(key))
    for key in range(1, 11):
        svc.repo.update(key, {"visits": key}, expected_version=1)
    svc.repo.delete(10, expected_version=2)


async def pump(relay: AsyncRelay, consumer: AsyncConsumer, publishes: int = 1) -> None:
    for _ in range(publishes):
        while await relay.run_once():
            pass
    idle = 0
    for _ in range(100):  # settled: two fetches in a row found nothing (a loaded machine is slow)
        idle = 0 if await consumer.run_once(timeout=0.3) else idle + 1
        if idle == 2:
            return
    raise AssertionError("the consumer did not settle")


def test_waves_keep_one_event_per_key_in_order() -> None:
    def e(key: int, v: int) -> Event:
        return Event(
            id=f"{key}-{v}", entity="p", key=key, version=v, previous=None, operation="insert"
        )

    got = waves([e(1, 1), e(2, 1), e(1, 2), e(1, 3), e(3, 1)])
    assert [[(x.key, x.version) for x in w] for w in got] == [
        [(1, 1), (2, 1), (3, 1)],
        [(1, 2)],
        [(1, 3)],
    ]


async def test_nats_jetstream_end_to_end_drops_republished_events_by_id(
    nats_url: str, sqlite_engine: sa.Engine, async_sqlite: AsyncEngine
) -> None:
    svc = Service(sqlite_engine, sqlite_engine)
    write_history(svc)
    name = unique("OCC").upper()
    publisher = NatsJetStream(nats_url, stream=name, prefix=name.lower())
    subject = f"{name.lower()}.profiles"
    subscriber = NatsSubscriber(
        nats_url, subject, durable="copy", stream=name, dead_letter=f"{name.lower()}_dead"
    )
    replica = AsyncReplica(async_sqlite, svc.copy, entity="profiles")
    consumer = AsyncConsumer(subscriber, replica)
    relay = AsyncRelay(AsyncOutboxReader(async_sqlite, svc.outbox.table), publisher)
    try:
        await pump(relay, consumer)
        events = await AsyncOutboxReader(async_sqlite, svc.outbox.table).pending(
            list(range(16)), 100
        )
        assert events == []
        # The relay killed before marking publishes the same events again: JetStream drops them.
        with sqlite_engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {svc.outbox.table} SET published_at = NULL"))
        assert await relay.run_once() == 21
        info = await publisher.js.stream_info(name)
        assert info.state.messages == 21
        # A poison message goes to the dead-letter subject with its reason.
        dead = await publisher.nc.subscribe(f"{name.lower()}_dead")
        await publisher.nc.publish(subject, b'{"id": "x", "version": "seven"}')
        await pump(relay, consumer)
        msg = await dead.next_msg(timeout=5)
        assert "invalid event" in msg.headers["reason"]
        assert consumer.counts["applied"] == 21
        assert consumer.counts["dead"] == 1
        svc.assert_converged()
    finally:
        if publisher.js is not None:
            await publisher.js.delete_stream(name)
        await publisher.close()
        await subscriber.close()


async def test_rabbitmq_end_to_end_with_confirms_duplicates_and_dead_letters(
    amqp_url: str, sqlite_engine: sa.Engine, async_sqlite: AsyncEngine
) -> None:
    svc = Service(sqlite_engine, sqlite_engine)
    write_history(svc)
    exchange = unique("occ.events")
    queue = unique("copy")
    publisher = RabbitPublisher(amqp_url, exchange=exchange)
    subscriber = RabbitSubscriber(
        amqp_url, queue, entity="profiles", exchange=exchange, dead_letter=f"{queue}.dead"
    )
    replica = AsyncReplica(async_sqlite, svc.copy, entity="profiles")
    consumer = AsyncConsumer(subscriber, replica)
    relay = AsyncRelay(AsyncOutboxReader(async_sqlite, svc.outbox.table), publisher)
    try:
        await subscriber.fetch(1, 0.01)  # declare and bind the queue before anything is sent
        await pump(relay, consumer)
        with sqlite_engine.begin() as conn:  # redelivery: every event published twice
            conn.execute(sa.text(f"UPDATE {svc.outbox.table} SET published_at = NULL"))
        await pump(relay, consumer)
        await (await publisher.connect()).publish(
            __import__("aio_pika").Message(b"not json"), routing_key="profiles"
        )
        await pump(relay, consumer)
        dead = await subscriber.channel.declare_queue(f"{queue}.dead", durable=True)
        msg = await dead.get(fail=False, timeout=5)
        assert msg is not None
        assert "invalid event" in msg.headers["reason"]
        await msg.ack()
        # Redelivered: inserts and the deleted key's update are older than held (stale).
        assert consumer.counts == {"applied": 21, "duplicate": 10, "stale": 11, "dead": 1}
        svc.assert_converged()
    finally:
        if subscriber.channel is not None:
            await subscriber.channel.queue_delete(queue)
            await subscriber.channel.queue_delete(f"{queue}.dead")
            await subscriber.channel.exchange_delete(exchange)
        await publisher.close()
        await subscriber.close()


async def test_an_unreachable_broker_is_a_clear_error_not_a_hang() -> None:
    from tests.sync.brokers import free_port

    port = free_port()
    with pytest.raises(ConnectionError, match="unreachable"):
        await asyncio.wait_for(NatsJetStream(f"nats://127.0.0.1:{port}", timeout=1).connect(), 10)
    with pytest.raises(ConnectionError, match="unreachable"):
        await asyncio.wait_for(
            RabbitPublisher(f"amqp://guest:guest@127.0.0.1:{port}/", timeout=1).connect(), 10
        )
