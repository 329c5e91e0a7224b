"""Faults injected between source and replica; each ends with every replica equal to its source."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

import occ
from occ.sync import (
    Consumer,
    Event,
    OutboxReader,
    RedisStreams,
    RedisSubscriber,
    Relay,
    Replica,
)
from occ.testing import ReplicaLog, check_replicas
from tests.sync.brokers import private
from tests.sync.helpers import Service
from tests.sync.models import profile, unique


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Any:
    eng = sa.create_engine(f"sqlite:///{tmp_path}/svc.db", connect_args={"timeout": 30})
    yield eng
    eng.dispose()


def history(svc: Service, keys: int = 8, updates: int = 4) -> None:
    for key in range(1, keys + 1):
        svc.repo.insert(profile(key))
    for round_ in range(updates):
        for key in range(1, keys + 1):
            svc.repo.update(key, {"visits": round_ + 1}, expected_version=round_ + 1)
    svc.repo.delete(keys, expected_version=updates + 1)


def all_events(svc: Service) -> list[Event]:
    reader = OutboxReader(svc.source, svc.outbox.table)
    return reader.pending(list(range(16)), 10_000)


@pytest.mark.parametrize("value", ["full", "changes"])
def test_duplicated_and_reordered_deliveries_converge(sqlite_engine: sa.Engine, value: str) -> None:
    svc = Service(sqlite_engine, sqlite_engine, value=value)
    history(svc)
    events = all_events(svc)
    deliveries = events * 3
    random.Random(7).shuffle(deliveries)
    assert deliveries[: len(events)] != events  # really out of order
    replica = Replica(sqlite_engine, svc.copy, entity="profiles")
    log = ReplicaLog()

    def apply(e: Event) -> str:
        outcome = replica.apply(e)
        row = svc.rows(sqlite_engine, svc.copy).get(e.key)
        log.observe("copy", e.key, None if row is None else row[-1])
        return outcome

    pending = list(deliveries)
    for _ in range(10):  # changes-only gaps are held and retried, as a consumer does
        pending = [e for e in pending if apply(e) == "gap"]
        if not pending:
            break
    assert pending == []
    svc.assert_converged()
    final = {k: r[-1] for k, r in svc.rows(sqlite_engine, svc.table).items()}
    copy = {k: r[-1] for k, r in svc.rows(sqlite_engine, svc.copy).items()}
    assert check_replicas(log, final, {"copy": copy}).ok
    assert replica.counts["applied"] >= 1
    assert replica.counts["stale"] + replica.counts["duplicate"] >= 2 * len(events)
    if value == "changes":
        assert replica.counts["gap"] > 0  # the reordering really made gaps


def test_a_consumer_killed_between_applying_and_acknowledging_gets_the_event_again(
    sqlite_engine: sa.Engine, redis_url: str, stream: str
) -> None:
    svc = Service(sqlite_engine, sqlite_engine)
    history(svc, keys=3, updates=1)
    relay = Relay(
        OutboxReader(sqlite_engine, svc.outbox.table), RedisStreams(redis_url, stream=stream)
    )
    while relay.run_once():
        pass
    name = stream.format(entity="profiles")
    replica = Replica(sqlite_engine, svc.copy, entity="profiles")

    class Dies(RedisSubscriber):
        def ack(self, deliveries: Any) -> None:
            raise SystemExit("killed after applying, before acknowledging")

    with pytest.raises(SystemExit):
        Consumer(Dies(redis_url, name, group="copy", consumer="c1"), replica).run_once(0.1)
    assert replica.counts["applied"] >= 1
    again = Consumer(RedisSubscriber(redis_url, name, group="copy", consumer="c1"), replica)
    while again.run_once(timeout=0.1):
        pass
    assert again.counts["duplicate"] >= 1  # the unacknowledged event came back
    svc.assert_converged()


def test_the_relay_backs_off_while_the_broker_restarts_and_loses_nothing(
    sqlite_engine: sa.Engine,
) -> None:
    svc = Service(sqlite_engine, sqlite_engine)
    with private("redis") as broker:
        publisher = RedisStreams(broker.url, stream="occ:{entity}")
        relay = Relay(
            OutboxReader(sqlite_engine, svc.outbox.table),
            publisher,
            poll=0.02,
            backoff=(0.05, 0.2),
            batch=5,
        )
        stop = threading.Event()
        runner = threading.Thread(target=relay.run, args=(stop,), kwargs={"seconds": 60})
        runner.start()
        try:
            history(svc, keys=5, updates=1)
            time.sleep(0.3)
            broker.stop()
            svc.repo.update(1, {"name": "written while the broker was down"}, expected_version=2)
            time.sleep(0.5)
            assert relay.failures > 0  # the relay really met the dead broker
            broker.start()
            deadline = time.monotonic() + 20
            while OutboxReader(sqlite_engine, svc.outbox.table).status().pending:
                assert time.monotonic() < deadline, "the relay did not catch up"
                time.sleep(0.05)
        finally:
            stop.set()
            runner.join(30)
        replica = Replica(sqlite_engine, svc.copy, entity="profiles")
        consumer = Consumer(RedisSubscriber(broker.url, "occ:profiles", group=unique("g")), replica)
        while consumer.run_once(timeout=0.1):
            pass
        publisher.close()
    svc.assert_converged()


def test_the_replica_rule_catches_a_version_going_down_and_a_divergence() -> None:
    from occ.testing import HistoryAnomalyError

    log = ReplicaLog()
    for version in (1, 3, 2):
        log.observe("copy", 1, version)
    with pytest.raises(HistoryAnomalyError) as caught:
        check_replicas(log, {1: 4}, {"copy": {1: 2}})
    assert caught.value.kinds == {"replica-regression", "replica-divergence"}


def test_a_batched_consumer_applies_each_batch_at_once_and_still_dead_letters_poison(
    sqlite_engine: sa.Engine, redis_url: str, stream: str
) -> None:
    import redis

    from occ.sync import Event, encode

    svc = Service(sqlite_engine, sqlite_engine)
    history(svc, keys=6, updates=3)  # 6 inserts, 18 updates, 1 delete
    relay = Relay(
        OutboxReader(sqlite_engine, svc.outbox.table), RedisStreams(redis_url, stream=stream)
    )
    while relay.run_once():
        pass
    name = stream.format(entity="profiles")
    client = redis.Redis.from_url(redis_url)
    client.xadd(name, {"event": b"not json"})  # poison among the valid ones
    stranger = Event(id="x1", entity="orders", key=1, version=1, previous=None, operation="insert")
    client.xadd(name, {"event": encode(stranger)})
    client.close()
    replica = Replica(sqlite_engine, svc.copy, entity="profiles")
    dead = f"{name}:dead"
    group = RedisSubscriber(redis_url, name, group="copy", dead_letter=dead)
    statements: list[str] = []
    sa.event.listen(sqlite_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    consumer = Consumer(group, replica, batch=100, batched=True)
    while consumer.run_once(timeout=0.1):
        pass
    svc.assert_converged()
    assert consumer.counts["dead"] == 2
    assert consumer.counts["applied"] == 25  # the poisoned batch went one by one
    # a clean batch (a redelivery of everything) goes at once
    with sqlite_engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {svc.outbox.table} SET published_at = NULL"))
    while relay.run_once():
        pass
    statements.clear()
    while consumer.run_once(timeout=0.1):
        pass
    assert consumer.counts["stale"] + consumer.counts["duplicate"] == 25
    assert 0 < len(statements) <= 3  # one batch: a read of rows, one of tombstones, no upsert
    svc.assert_converged()
    assert Consumer(group, replica, batched=False).handle_many is None
    with pytest.raises(occ.ConfigurationError, match="apply_many"):
        Consumer(group, lambda e: None, batched=True)
