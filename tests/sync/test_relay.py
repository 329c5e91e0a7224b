"""The relay: commit order, at least once, per-key order, several relays, crashes."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import occ.sql
from occ.sync import (
    Consumer,
    Event,
    OutboxReader,
    Publisher,
    RedisStreams,
    RedisSubscriber,
    Relay,
    Replica,
)
from tests.backends import servers_only
from tests.sync.helpers import Service, stream_events
from tests.sync.models import profile


class Collect:
    """A publisher of the tests' own: it keeps what it was given (the user's own sink)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def publish(self, events: Sequence[Event]) -> None:
        with self.lock:
            self.events.extend(events)


def drain(relay: Relay, rounds: int = 50) -> int:
    total = 0
    for _ in range(rounds):
        n = relay.run_once()
        total += n
        if n == 0:
            return total
    raise AssertionError("the relay did not drain the outbox")


def test_the_relay_publishes_every_event_once_in_order_and_marks_it(
    engine: sa.Engine, redis_url: str, stream: str
) -> None:
    svc = Service(engine, engine)
    for key in range(1, 6):
        svc.repo.insert(profile(key))
        svc.repo.update(key, {"visits": 1}, expected_version=1)
    svc.repo.delete(5, expected_version=2)
    reader = OutboxReader(engine, svc.outbox.table)
    relay = Relay(reader, RedisStreams(redis_url, stream=stream), batch=4)
    assert drain(relay) == 11
    events = stream_events(redis_url, stream.format(entity="profiles"))
    assert len(events) == 11
    assert len({e.id for e in events}) == 11
    by_key: dict[Any, list[int]] = defaultdict(list)
    for e in events:
        by_key[e.key].append(e.version)
    assert by_key == {1: [1, 2], 2: [1, 2], 3: [1, 2], 4: [1, 2], 5: [1, 2, 2]}
    status = reader.status()
    assert (status.pending, status.published) == (0, 11)
    assert relay.run_once() == 0


@servers_only  # SQLite runs one write transaction at a time: they cannot overlap
def test_a_transaction_that_commits_late_is_published_not_skipped(engine: sa.Engine) -> None:
    """Two overlapping transactions: the first takes its event id first and commits last."""
    svc = Service(engine, engine)
    svc.repo.insert(profile(1))
    svc.repo.insert(profile(2))
    reader = OutboxReader(engine, svc.outbox.table)
    sink = Collect()
    relay = Relay(reader, sink)
    drain(relay)
    sink.events.clear()
    with engine.connect() as late, engine.connect() as early:
        occ.sql.Repository(late, svc.table, outbox=svc.outbox).update(
            1, {"name": "late"}, expected_version=1
        )
        occ.sql.Repository(early, svc.table, outbox=svc.outbox).update(
            2, {"name": "early"}, expected_version=1
        )
        early.commit()
        drain(relay)
        assert [e.key for e in sink.events] == [2]
        late.commit()
    drain(relay)
    assert [e.key for e in sink.events] == [2, 1]
    # The late one really took the lower position: a high-water mark would have skipped it.
    assert sink.events[1].position < sink.events[0].position


def test_a_relay_killed_between_publishing_and_marking_publishes_again(
    engine: sa.Engine, redis_url: str, stream: str
) -> None:
    svc = Service(engine, engine)
    for key in range(1, 4):
        svc.repo.insert(profile(key))
    reader = OutboxReader(engine, svc.outbox.table)

    class Dies(RedisStreams):
        def publish(self, events: Sequence[Event]) -> None:
            super().publish(events)
            raise SystemExit("killed after publishing, before marking")

    with pytest.raises(SystemExit):
        Relay(reader, Dies(redis_url, stream=stream), lease=0.2).run_once()
    assert reader.status().pending == 3
    survivor = Relay(reader, RedisStreams(redis_url, stream=stream), lease=0.2)
    assert survivor.run_once() == 0  # the dead relay's leases still hold its partitions
    time.sleep(0.3)
    drain(survivor)  # they expired: the survivor takes them
    events = stream_events(redis_url, stream.format(entity="profiles"))
    assert len(events) == 6
    assert len({e.id for e in events}) == 3  # each event twice: at least once
    replica = Replica(engine, svc.copy, entity="profiles")
    group = RedisSubscriber(redis_url, stream.format(entity="profiles"), group="copy")
    consumer = Consumer(group, replica)
    while consumer.run_once(timeout=0.1):
        pass
    assert consumer.counts == {"applied": 3, "duplicate": 3}
    svc.assert_converged()


def test_two_relays_at_once_share_the_partitions_without_double_publishing(
    engine: sa.Engine,
) -> None:
    svc = Service(engine, engine)
    OutboxReader(engine, svc.outbox.table).ready()  # tables first: no CREATE races at start
    sink = Collect()
    relays = [
        Relay(OutboxReader(engine, svc.outbox.table), sink, partitions=8, batch=20, poll=0.01)
        for _ in range(2)
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop,), kwargs={"seconds": 30}) for r in relays]
    for t in threads:
        t.start()
    try:
        for key in range(1, 41):
            svc.repo.insert(profile(key))
            svc.repo.update(key, {"visits": 1}, expected_version=1)
        reader = OutboxReader(engine, svc.outbox.table)
        for _ in range(300):
            if reader.status().pending == 0:
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert len(sink.events) == 80
    assert len({e.id for e in sink.events}) == 80
    assert all(r.published > 0 for r in relays), [r.published for r in relays]
    order: dict[Any, list[int]] = defaultdict(list)
    for e in sink.events:
        order[e.key].append(e.version)
    assert all(versions == [1, 2] for versions in order.values())


async def test_the_async_relay_publishes_through_the_async_redis_client(
    backend: Any, engine: sa.Engine, redis_url: str, stream: str
) -> None:
    from occ.sync import AsyncOutboxReader, AsyncRedisStreams, AsyncRelay

    svc = Service(engine, engine)
    svc.repo.insert(profile(1))
    kwargs = {"connect_args": {"timeout": 30}} if backend.name == "sqlite" else {}
    aengine = create_async_engine(backend.async_url, **kwargs)
    publisher = AsyncRedisStreams(redis_url, stream=stream)
    try:
        relay = AsyncRelay(AsyncOutboxReader(aengine, svc.outbox.table), publisher)
        assert await relay.run_once() == 1
    finally:
        await publisher.close()
        await occ.sql.adispose(aengine)
    assert [e.version for e in stream_events(redis_url, stream.format(entity="profiles"))] == [1]


def test_publisher_is_a_protocol_a_plain_object_satisfies() -> None:
    sink: Publisher = Collect()
    assert hasattr(sink, "publish")
