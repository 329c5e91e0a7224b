"""The same harness on MongoDB: the naive writer loses updates, occ.mongo does not,
and InMemoryRepository answers like occ.mongo on the same operation sequences."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings

from occ.testing import (
    InMemoryRepository,
    Schedule,
    State,
    Workload,
    Written,
    checkpoint,
    counter_workload,
    on_point,
    run_schedule,
)
from tests.testing.test_interleavings import EVERY, SHRUNK, shrunk_failure
from tests.testing.test_memory import apply, operations
from tests.testing.workloads import KEYS, new_counter

pymongo = pytest.importorskip("pymongo")
occ_mongo = pytest.importorskip("occ.mongo")


@pytest.fixture
def collection(mongodb_uri: str) -> Iterator[Any]:
    client: Any = pymongo.MongoClient(mongodb_uri)
    coll = client.get_default_database()[f"occ_t5_{uuid.uuid4().hex[:8]}"]
    yield coll
    coll.drop()
    client.close()


def naive_mongo(coll: Any) -> Workload:
    """find_one, add one in Python, update_one without a version in the filter."""

    def write(key: Any, token: str) -> Written:
        doc = coll.find_one({"_id": key})
        checkpoint("after_read", key)
        count = doc["count"] + 1
        checkpoint("before_write", key)
        new = {"count": count, "token": token, "version": doc["version"] + 1}
        coll.update_one({"_id": key}, {"$set": new})
        return Written(
            doc["version"], doc["version"] + 1, {"count": count, "token": token}, {"count": 1}
        )

    def read(key: Any) -> State | None:
        doc = coll.find_one({"_id": key})
        if doc is None:
            return None
        return State(doc["version"], {"count": doc["count"], "token": doc["token"]})

    def reset(key: Any) -> None:
        coll.delete_one({"_id": key})
        coll.insert_one({"_id": key, "count": 0, "token": "", "version": 1})

    return Workload(write=write, read=read, reset=reset, counters=("count",))


def test_naive_mongo_writer_is_reported_with_a_lost_update(collection: Any) -> None:
    naive = naive_mongo(collection)
    error, schedule = shrunk_failure(lambda s: run_schedule(naive, s, KEYS))
    assert "lost-update" in error.kinds
    assert schedule == SHRUNK


def test_occ_mongo_repository_passes_the_same_schedules(collection: Any) -> None:
    repo = occ_mongo.Repository(collection, key="id", on_point=on_point)
    workload = counter_workload(repo, new=new_counter)

    @settings(database=None)
    @given(EVERY)
    def prop(schedule: Schedule) -> None:
        run_schedule(workload, schedule, KEYS).check()

    prop()
    assert repo.stats.conflicts > 0


def test_in_memory_repository_behaves_like_mongo(collection: Any) -> None:
    @settings(database=None)
    @given(operations)
    def prop(ops: list[tuple[Any, ...]]) -> None:
        collection.delete_many({})
        collection.database["occ_tombstones"].delete_many({})  # each example starts afresh
        mongo = occ_mongo.Repository(collection, key="id")
        memory = InMemoryRepository(key="id", name=collection.name)
        for op in ops:
            assert apply(memory, op) == apply(mongo, op), op

    prop()
