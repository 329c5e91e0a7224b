"""Real writers on hot documents: exact totals and gapless versions.

8 threads (PyMongo sync) and, separately, 8 asyncio tasks (PyMongo async,
Motor) each do 100 ``modify`` increments spread over 3 hot documents. Every
acknowledged write records the version it wrote; per document those versions
must be exactly 2..N+1 (no gap, no repeat), and each counter must equal the
number of increments acknowledged on it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest

from occ import RetryPolicy
from occ.mongo import AsyncRepository, Repository
from tests.mongo.conftest import CommandLog, close_client, make_client

WRITERS = 8
OPS = 100
KEYS = (0, 1, 2)
RETRY = RetryPolicy(attempts=1000, base_delay=0.0005, max_delay=0.01, seed=7)


def _increment(doc: dict[str, Any]) -> dict[str, Any]:
    doc["n"] += 1
    return doc


def _check(written: dict[int, list[int]], raw: Any) -> None:
    assert sum(len(v) for v in written.values()) == WRITERS * OPS
    for key in KEYS:
        versions = sorted(written[key])
        assert versions == list(range(2, len(versions) + 2)), f"gap or repeat on {key}"
        stored = raw.find_one({"_id": key})
        assert stored["n"] == len(versions)
        assert stored["version"] == len(versions) + 1


@pytest.fixture
def hot(raw_client: pymongo.MongoClient[dict[str, Any]]) -> Iterator[Any]:
    name = f"hot_{uuid.uuid4().hex[:12]}"
    raw = raw_client.get_default_database()[name]
    raw.insert_many([{"_id": k, "n": 0, "version": 1} for k in KEYS])
    yield raw
    raw.drop()


def test_eight_threads_modify_hot_documents_without_lost_updates(
    mongodb_uri: str, hot: Any
) -> None:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_uri)
    repo: Repository[dict[str, Any]] = Repository(client[hot.database.name][hot.name], retry=RETRY)
    written: dict[int, list[int]] = defaultdict(list)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(OPS):
                key = KEYS[(w + i) % len(KEYS)]
                version = repo.modify(key, _increment).version
                assert isinstance(version, int)
                with lock:
                    written[key].append(version)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    assert not errors, errors[0]
    _check(written, hot)
    assert repo.stats.snapshot()["retries"] > 0, "the writers never collided"


@pytest.mark.parametrize("kind", ["pymongo_async", "motor"])
async def test_eight_tasks_modify_hot_documents_without_lost_updates(
    mongodb_uri: str, hot: Any, kind: str
) -> None:
    client = make_client(kind, mongodb_uri, CommandLog())
    collection = client[hot.database.name][hot.name]
    repo: AsyncRepository[dict[str, Any]] = AsyncRepository(collection, retry=RETRY)
    written: dict[int, list[int]] = defaultdict(list)

    async def writer(w: int) -> None:
        for i in range(OPS):
            key = KEYS[(w + i) % len(KEYS)]
            version = (await repo.modify(key, _increment)).version
            assert isinstance(version, int)
            written[key].append(version)

    try:
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    finally:
        await close_client(kind, client)
    _check(written, hot)
    assert repo.stats.snapshot()["retries"] > 0, "the writers never collided"
