"""Policies on the MongoDB backend: hot-key writers under Merge, Discard+archive, Alert; the store.

Bounded: 8 writers x 25 operations each (threads for PyMongo, tasks for its
async client); each test prints the repository's conflict/retry counts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pymongo = pytest.importorskip("pymongo")

import occ  # noqa: E402
from occ.conflicts import ConflictEvent  # noqa: E402
from occ.conflicts.mongo import AsyncConflictStore, ConflictStore  # noqa: E402
from occ.mongo import AsyncRepository, Repository  # noqa: E402
from occ.resolvers import Alert, Counter, Discard, Max, Merge, Union  # noqa: E402
from tests.resolvers.test_sql_concurrency import OPS, PATIENT, TOTAL, WRITERS, hammer  # noqa: E402


@pytest.fixture
def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"occ_t4_counter_{suffix}", f"occ_t4_conflicts_{suffix}"


@pytest.fixture
def db(mongodb_uri: str, names: tuple[str, str]) -> Iterator[Any]:
    """The run's database; the test's two collections are dropped afterwards."""
    client = pymongo.MongoClient(mongodb_uri)
    database = client.get_default_database()
    yield database
    for name in names:
        database.drop_collection(name)
    client.close()


def report(name: str, repo: Any, **extra: Any) -> None:
    print(f"\n[{name}] mongodb: {repo.stats.snapshot()} {extra}")


def test_mongo_merge_counter_with_8_writers_ends_exact(db: Any, names: Any) -> None:
    coll = db[names[0]]
    repo = Repository(coll, policy=Merge(fields={"hits": Counter()}), retry=PATIENT)
    repo.insert({"_id": 1, "hits": 0})

    def increment(w: int, n: int) -> None:
        snap = repo.get(1)
        snap.value["hits"] += 1
        repo.save(snap)

    hammer(increment)
    final = repo.get(1)
    report("mongo merge", repo)
    assert (final.value["hits"], final.version) == (TOTAL, TOTAL + 1)


def test_mongo_discard_with_archive_applied_plus_archived_equals_attempted(
    db: Any, names: Any
) -> None:
    store = ConflictStore(db[names[1]])
    store.create()
    repo = Repository(db[names[0]], policy=Discard(archive=store))
    repo.insert({"_id": 1, "note": "start"})
    applied: list[str] = []

    def write(w: int, n: int) -> None:
        snap = repo.get(1)
        token = f"{w}-{n}"
        result = repo.update(1, {"note": token}, expected_version=snap.version, base=snap)
        if result.value["note"] == token:
            applied.append(token)

    hammer(write)
    archived = [c.conflict.mine["note"] for c in store.list(status="discarded", limit=None)]
    report("mongo discard", repo, applied=len(applied), archived=len(archived))
    assert len(applied) + len(archived) == TOTAL
    assert len(set(applied) | set(archived)) == TOTAL


def test_mongo_alert_with_raising_sink_keeps_every_conflict(db: Any, names: Any) -> None:
    store = ConflictStore(db[names[1]])

    def boom(event: ConflictEvent) -> None:
        raise RuntimeError("pager down")

    policy = Alert(store, boom, then=Merge(fields={"hits": Counter()}))
    repo = Repository(db[names[0]], policy=policy, retry=PATIENT)
    repo.insert({"_id": 1, "hits": 0})

    def increment(w: int, n: int) -> None:
        snap = repo.get(1)
        snap.value["hits"] += 1
        repo.save(snap)

    hammer(increment)
    stats = repo.stats.snapshot()
    report("mongo alert", repo, stored=store.count())
    assert repo.get(1).value["hits"] == TOTAL
    assert store.count(status="pending") == stats["decisions"].get("merged", 0)


def test_mongo_store_resolves_through_a_versioned_write(db: Any, names: Any) -> None:
    store = ConflictStore(db[names[1]])
    repo = Repository(db[names[0]], policy=Discard(archive=store))
    repo.insert({"_id": 1, "note": "start"})
    a, b = repo.get(1), repo.get(1)
    a.value["note"], b.value["note"] = "first", "second"
    repo.save(a)
    repo.save(b)
    (archived,) = store.list(status="discarded")
    assert archived.key == 1
    assert store.resolve(archived.id, repo, take="mine").value["note"] == "second"
    assert store.get(archived.id).status == "resolved"
    c = repo.get(1)
    d = repo.get(1)
    c.value["note"], d.value["note"] = "x", "y"
    repo.save(c)
    repo.save(d)
    repo.update(1, {"note": "moved"}, expected_version=repo.get(1).version)
    stale = store.list(status="discarded")[0]
    with pytest.raises(occ.ConflictError):
        store.resolve(stale.id, repo, take="mine")
    assert store.get(stale.id).status == "discarded"


async def test_mongo_async_merge_and_alert_with_8_tasks(mongodb_uri: str, names: Any) -> None:
    client = pymongo.AsyncMongoClient(mongodb_uri)
    db = client.get_default_database()
    try:
        store = AsyncConflictStore(db[names[1]])

        async def boom(event: ConflictEvent) -> None:
            raise RuntimeError("pager down")

        policy = Alert(store, boom, then=Merge(fields={"hits": Counter()}), timeout=0.5)
        repo = AsyncRepository(db[names[0]], policy=policy, retry=PATIENT)
        await repo.insert({"_id": 1, "hits": 0})

        async def writer() -> None:
            for _ in range(OPS):
                snap = await repo.get(1)
                snap.value["hits"] += 1
                await repo.save(snap)

        await asyncio.wait_for(asyncio.gather(*(writer() for _ in range(WRITERS))), 90)
        final = await repo.get(1)
        stats = repo.stats.snapshot()
        report("mongo async alert+merge", repo, stored=await store.count())
        assert (final.value["hits"], final.version) == (TOTAL, TOTAL + 1)
        assert await store.count(status="pending") == stats["decisions"].get("merged", 0)
    finally:
        for name in names:
            await db.drop_collection(name)
        await client.close()


def test_mongo_fast_path_with_8_writers_never_conflicts(db: Any, names: Any) -> None:
    policy = Merge(fields={"hits": Counter(), "tags": Union(), "best": Max()}, fast_path=True)
    repo = Repository(db[names[0]], policy=policy)
    stale = repo.insert({"_id": 1, "hits": 0, "tags": [], "best": 0})

    def write(w: int, n: int) -> None:
        changes = {"hits": 1, "tags": [f"w{w}"], "best": w * OPS + n}
        repo.update(1, changes, expected_version=stale.version, base=stale)

    hammer(write)
    final = repo.get(1)
    report("mongo fast path", repo)
    assert (final.value["hits"], final.version) == (TOTAL, TOTAL + 1)
    assert sorted(final.value["tags"]) == [f"w{w}" for w in range(WRITERS)]
    assert final.value["best"] == TOTAL - 1
    assert repo.stats.snapshot() == {"conflicts": 0, "retries": 0, "fallbacks": 0, "decisions": {}}
    with pytest.raises(occ.NotFoundError):
        repo.update(2, {"hits": 1}, expected_version=1, base={"hits": 0})


async def test_mongo_async_fast_path_with_8_tasks_never_conflicts(
    mongodb_uri: str, names: Any
) -> None:
    client = pymongo.AsyncMongoClient(mongodb_uri)
    db = client.get_default_database()
    try:
        policy = Merge(fields={"hits": Counter()}, fast_path=True)
        repo = AsyncRepository(db[names[0]], policy=policy)
        await repo.insert({"_id": 1, "hits": 0})

        async def writer() -> None:
            for _ in range(OPS):
                await repo.update(1, {"hits": 1}, expected_version=1, base={"hits": 0})

        await asyncio.wait_for(asyncio.gather(*(writer() for _ in range(WRITERS))), 90)
        final = await repo.get(1)
        report("mongo async fast path", repo)
        assert (final.value["hits"], final.version) == (TOTAL, TOTAL + 1)
        assert repo.stats.conflicts == 0
    finally:
        for name in names:
            await db.drop_collection(name)
        await client.close()
