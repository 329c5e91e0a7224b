"""The MongoDB replica: a version-guarded upsert per event, duplicate-key races handled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from occ.sync import Event, EventError, MongoReplica
from tests.sync.models import unique


def event(version: int, key: Any = 1, op: str = "update", **kw: Any) -> Event:
    previous = None if op == "insert" else (version if op == "delete" else version - 1)
    value = None if op == "delete" else {"name": f"v{version}", "visits": version}
    fields = {"changes": {} if value is None else value, "value": value}
    fields.update(kw)
    return Event(
        id=f"{key}-{version}-{op}",
        entity="profiles",
        key=key,
        version=version,
        previous=previous,
        operation=op,
        **fields,
    )  # type: ignore[arg-type]


@pytest.fixture
def collection(mongodb_uri: str) -> Iterator[Any]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_uri)
    coll = client.get_default_database()[unique("search")]
    yield coll
    coll.drop()
    client.close()


def test_apply_if_newer_stale_duplicate_and_tombstones(collection: Any) -> None:
    replica = MongoReplica(collection, entity="profiles")
    assert replica.apply(event(1, op="insert")) == "applied"
    assert replica.apply(event(3)) == "applied"
    assert replica.apply(event(2)) == "stale"
    assert replica.apply(event(3)) == "duplicate"
    assert collection.find_one({"_id": 1}) == {"_id": 1, "name": "v3", "visits": 3, "version": 3}
    assert replica.apply(event(3, op="delete")) == "applied"
    assert replica.apply(event(3)) == "stale"
    assert replica.apply(event(3, op="delete")) == "duplicate"
    assert collection.count_documents({"_occ_deleted": {"$ne": True}}) == 0
    assert replica.apply(event(4, op="insert")) == "applied"
    assert collection.find_one({"_id": 1})["version"] == 4
    assert "_occ_deleted" not in collection.find_one({"_id": 1})


def test_changes_only_events_wait_for_the_version_they_follow(collection: Any) -> None:
    replica = MongoReplica(collection, entity="profiles")
    replica.apply(event(1, op="insert"))
    v3 = event(3, value=None, changes={"visits": 30})
    assert replica.apply(v3) == "gap"
    assert replica.apply(event(2, value=None, changes={"name": "two"})) == "applied"
    assert replica.apply(v3) == "applied"
    assert collection.find_one({"_id": 1}) == {"_id": 1, "name": "two", "visits": 30, "version": 3}


def test_concurrent_upserts_of_a_new_key_end_at_the_newest_version(collection: Any) -> None:
    replicas = [MongoReplica(collection, entity="profiles") for _ in range(8)]
    for key in range(20):
        barrier = threading.Barrier(len(replicas))

        def apply(
            replica: MongoReplica,
            version: int,
            key: int = key,
            barrier: threading.Barrier = barrier,
        ) -> None:
            barrier.wait(5)
            replica.apply(event(version, key=key))

        threads = [threading.Thread(target=apply, args=(r, v + 1)) for v, r in enumerate(replicas)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert collection.find_one({"_id": key})["version"] == len(replicas)
    total: dict[str, int] = {}
    for r in replicas:
        for outcome, n in r.counts.items():
            total[outcome] = total.get(outcome, 0) + n
    assert total["applied"] >= 20
    assert total.get("stale", 0) > 0  # the race really happened


def test_apply_many_is_one_bulk_write_with_outcomes(collection: Any) -> None:
    replica = MongoReplica(collection, entity="profiles")
    replica.apply(event(5, key=1))
    outcomes = replica.apply_many(
        [
            event(2, key=1),
            event(5, key=1),
            event(1, key=2, op="insert"),
            event(2, key=2, value=None, changes={"visits": 2}),
        ]
    )
    assert outcomes == ["stale", "duplicate", "applied", "applied"]


def test_a_replica_keeps_only_its_fields_and_rejects_bad_events(collection: Any) -> None:
    replica = MongoReplica(collection, entity="profiles", fields=["name"])
    replica.apply(event(1, op="insert"))
    assert collection.find_one({"_id": 1}) == {"_id": 1, "name": "v1", "version": 1}
    for bad in (
        event(2, value={"$where": "1", "name": "x"}),
        event(2, value={"name": "x", "a.b": 1}),
        event(2, value={"visits": 1}),
        Event(id="x", entity="orders", key=1, version=2, previous=1, operation="update"),
    ):
        with pytest.raises(EventError):
            replica.apply(bad)
    with pytest.raises(EventError):
        replica.apply_many([event(2, key=9), event(2, value={"visits": 1})])
    assert collection.find_one({"_id": 1})["version"] == 1
    assert collection.find_one({"_id": 9}) is None
