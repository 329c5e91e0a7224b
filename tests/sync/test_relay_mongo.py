"""The relay of a MongoDB outbox: every event once in order, at least once across crashes,
several relays at once, and a concurrent write's event never lost; in the documents (any
server) and in the outbox collection (replica sets)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import pymongo
import pytest

import occ.mongo
from occ.sync import (
    Consumer,
    Event,
    MongoOutboxReader,
    MongoReplica,
    Outbox,
    RedisStreams,
    RedisSubscriber,
    Relay,
)
from tests.sync.test_relay import Collect, drain

FIELD = "_occ_outbox"


class Source:
    """A profiles collection with an outbox of this test's own, and what a relay reads."""

    def __init__(self, db: Any, mode: str) -> None:
        self.db = db
        self.name = f"src_{uuid.uuid4().hex[:8]}"
        self.box = Outbox(table=f"ob_{uuid.uuid4().hex[:8]}", entity="profiles", mongo=mode)
        self.repo: occ.mongo.Repository[dict[str, Any]] = occ.mongo.Repository(
            db[self.name], outbox=self.box
        )
        self.collections = [self.name, self.box.table, f"{self.box.table}_leases"]

    def reader(self) -> MongoOutboxReader:
        return MongoOutboxReader(self.db, self.box.table, collections=[self.name])

    def live(self) -> dict[Any, tuple[dict[str, Any], int]]:
        """Every document a reader sees: its fields and version, by key."""
        out = {}
        for doc in self.db[self.name].find({}):
            found = self.repo.find(doc["_id"])
            if found is not None:
                fields = {k: v for k, v in found.value.items() if k not in ("_id", "version")}
                out[doc["_id"]] = (fields, found.version)
        return out


@pytest.fixture
def mongo_db(mongodb_uri: str) -> Iterator[Any]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_uri)
    yield client.get_default_database()
    client.close()


@pytest.fixture(params=["document", "collection"])
def source(request: pytest.FixtureRequest, mongo_db: Any) -> Iterator[Source]:
    made = Source(mongo_db, request.param)
    yield made
    for name in made.collections:
        mongo_db.drop_collection(name)


def write_history(repo: Any) -> None:
    """Inserts, updates, a delete, and an insert over a deleted key."""
    for key in range(1, 6):
        repo.insert({"_id": key, "name": f"p{key}", "visits": 0})
        repo.update(key, {"visits": 1}, expected_version=1)
    repo.delete(5, expected_version=2)
    repo.delete(4, expected_version=2)
    repo.insert({"_id": 4, "name": "again", "visits": 9})


def by_key(events: Sequence[Event]) -> dict[Any, list[tuple[str, int]]]:
    order: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    for e in events:
        order[e.key].append((e.operation, e.version))
    return dict(order)


def test_the_relay_publishes_every_event_once_in_order_and_cleans_up(source: Source) -> None:
    write_history(source.repo)
    reader = source.reader()
    sink = Collect()
    assert reader.status().pending == 13
    assert drain(Relay(reader, sink, batch=4)) == 13
    assert len({e.id for e in sink.events}) == 13
    assert by_key(sink.events) == {
        1: [("insert", 1), ("update", 2)],
        2: [("insert", 1), ("update", 2)],
        3: [("insert", 1), ("update", 2)],
        4: [("insert", 1), ("update", 2), ("delete", 2), ("insert", 3)],
        5: [("insert", 1), ("update", 2), ("delete", 2)],
    }
    assert [e for e in sink.events if e.key == 4][-1].value == {"name": "again", "visits": 9}
    status = reader.status()
    assert status.pending == 0
    raw = source.db[source.name]
    assert raw.count_documents({FIELD: {"$exists": True}}) == 0  # published: removed
    assert sorted(d["_id"] for d in raw.find({})) == [1, 2, 3, 4]  # the tombstone is gone
    if source.box.mongo == "collection":
        assert status.published == 13
        assert reader.purge(dt.timedelta(0)) == 13
    assert reader.status().published == 0
    assert Relay(reader, sink).run_once() == 0
    assert source.repo.insert({"_id": 5, "name": "back"}).version == 3  # past its tombstone


@pytest.fixture
def document_source(mongo_db: Any) -> Iterator[Source]:
    made = Source(mongo_db, "document")
    yield made
    for name in made.collections:
        mongo_db.drop_collection(name)


def test_an_event_written_while_the_relay_publishes_is_never_lost(
    document_source: Source,
) -> None:
    source = document_source
    source.repo.insert({"_id": 1, "name": "ada"})
    reader = source.reader()
    held = reader.claim("me", 30.0, 16)
    read = reader.pending(held, 100)
    assert [e.operation for e in read] == ["insert"]
    source.repo.update(1, {"name": "ada l."}, expected_version=1)  # while the relay publishes
    reader.mark(read)
    doc = source.db[source.name].find_one({"_id": 1})
    assert doc[FIELD]["n"] == 1
    (late,) = reader.pending(held, 100)
    assert (late.operation, late.version, late.value) == ("update", 2, {"name": "ada l."})
    reader.mark([late])
    assert FIELD not in source.db[source.name].find_one({"_id": 1})
    reader.mark([*read, late])  # marked twice (a second relay): nothing more happens
    assert source.db[source.name].find_one({"_id": 1})["name"] == "ada l."


def test_a_deleted_document_revived_before_the_relay_removes_it_survives(
    document_source: Source,
) -> None:
    source = document_source
    source.repo.insert({"_id": 1, "name": "ada"})
    source.repo.delete(1, expected_version=1)
    reader = source.reader()
    held = reader.claim("me", 30.0, 16)
    read = reader.pending(held, 100)
    assert [e.operation for e in read] == ["insert", "delete"]
    source.repo.insert({"_id": 1, "name": "grace"})  # before the relay removes the tombstone
    reader.mark(read)
    (revived,) = reader.pending(held, 100)
    assert (revived.operation, revived.version) == ("insert", 2)
    reader.mark([revived])
    assert source.live() == {1: ({"name": "grace"}, 2)}


def test_a_relay_killed_between_publishing_and_marking_publishes_again_and_replicas_converge(
    source: Source, mongo_db: Any, redis_url: str, stream: str
) -> None:
    write_history(source.repo)
    reader = source.reader()

    class Dies(RedisStreams):
        def publish(self, events: Sequence[Event]) -> None:
            super().publish(events)
            raise SystemExit("killed after publishing, before marking")

    with pytest.raises(SystemExit):
        Relay(reader, Dies(redis_url, stream=stream), lease=0.2).run_once()
    assert reader.status().pending == 13
    time.sleep(0.3)  # its leases expire
    survivor = Relay(source.reader(), RedisStreams(redis_url, stream=stream), lease=0.2)
    assert drain(survivor) == 13
    copy = mongo_db[f"copy_{uuid.uuid4().hex[:8]}"]
    source.collections.append(copy.name)
    replica = MongoReplica(copy, entity="profiles")
    group = RedisSubscriber(redis_url, stream.format(entity="profiles"), group="search")
    consumer = Consumer(group, replica)
    while consumer.run_once(timeout=0.1):
        pass
    assert consumer.counts["applied"] == 13  # each event once; its copy discarded
    assert consumer.counts["duplicate"] + consumer.counts["stale"] == 13
    held = {
        d["_id"]: ({k: v for k, v in d.items() if k in ("name", "visits")}, d["version"])
        for d in copy.find({"_occ_deleted": {"$exists": False}})
    }
    assert held == source.live()
    assert copy.find_one({"_id": 5})["_occ_deleted"]  # a tombstone: key 5 was deleted


def test_two_relays_at_once_share_the_partitions_without_double_publishing(
    source: Source,
) -> None:
    source.reader().ready()
    sink = Collect()
    relays = [Relay(source.reader(), sink, partitions=8, batch=10, poll=0.01) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop,), kwargs={"seconds": 30}) for r in relays]
    for t in threads:
        t.start()
    try:
        for key in range(1, 31):
            source.repo.insert({"_id": key, "n": 0})
            source.repo.update(key, {"n": 1}, expected_version=1)
        reader = source.reader()
        deadline = time.monotonic() + 20
        while reader.status().pending and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert len(sink.events) == 60
    assert len({e.id for e in sink.events}) == 60
    assert all(r.published > 0 for r in relays), [r.published for r in relays]
    assert all(v == [("insert", 1), ("update", 2)] for v in by_key(sink.events).values())
    assert all(who is None for who in source.reader().status().leases.values())  # released


async def test_the_async_reader_serves_the_async_relay(mongodb_uri: str, mongo_db: Any) -> None:
    from occ.sync import AsyncMongoOutboxReader, AsyncRelay

    source = Source(mongo_db, "document")
    client: Any = pymongo.AsyncMongoClient(mongodb_uri)
    published: list[Event] = []

    class AsyncCollect:
        async def publish(self, events: Sequence[Event]) -> None:
            published.extend(events)

    try:
        source.repo.insert({"_id": 1, "name": "ada"})
        source.repo.update(1, {"name": "ada l."}, expected_version=1)
        db = client.get_default_database()
        reader = AsyncMongoOutboxReader(db, source.box.table, collections=[source.name])
        assert await AsyncRelay(reader, AsyncCollect()).run_once() == 2
        assert [e.version for e in published] == [1, 2]
        assert (await reader.status()).pending == 0
    finally:
        await client.close()
        for name in source.collections:
            mongo_db.drop_collection(name)
