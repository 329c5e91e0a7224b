"""Finding, settling and purging stored conflicts: the same answers from SQL and MongoDB stores."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa

import occ.sql
from occ import Conflict
from occ.conflicts import Filter
from occ.conflicts.mongo import ConflictStore as MongoStore
from occ.conflicts.sql import ConflictStore
from occ.errors import NotFoundError, ValidationError

pytestmark = pytest.mark.timeout(60)


def conflict(entity: str, key: int) -> Conflict:
    return Conflict(
        entity, key, "update", "version", {"a": 1}, {"a": 2}, {"a": 2}, {"a": 3}, 1, 2, 1
    )


@pytest.fixture(params=["sql", "mongo"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sql":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'store.db'}")
        sql = ConflictStore(engine)
        sql.create()
        yield sql
        occ.sql.dispose(engine)
        return
    uri = request.getfixturevalue("mongodb_uri")
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri)
    collection = client.get_database("occ_t9")["queries"]
    collection.drop()
    mongo = MongoStore(collection)
    mongo.create()
    yield mongo
    collection.drop()
    client.close()


def fill(store: Any) -> list[str]:
    ids = [
        store.add(conflict(e, k), status="pending", decision="discarded", details={})
        for e, k in (("account", 1), ("account", 2), ("order", 1))
    ]
    ids.append(
        store.add(conflict("order", 2), status="discarded", decision="discarded", details={})
    )
    return ids


def test_filters_counts_and_visibility(store: Any) -> None:
    ids = fill(store)
    assert store.count(status="open") == 4
    assert store.count(status="pending", entity="account") == 2
    assert {r.id for r in store.list(where=Filter.of(entities={"order"}))} == set(ids[2:])
    assert store.list(where=Filter.of(entities=set())) == []
    assert store.counts() == {
        ("account", "pending"): 2,
        ("order", "pending"): 1,
        ("order", "discarded"): 1,
    }
    assert store.count(where=Filter.of(older_than=dt.timedelta(hours=1))) == 0
    assert store.count(where=Filter.of(newer_than=dt.timedelta(hours=1))) == 4
    assert [r.id for r in store.list(where=Filter.of(ids=ids[:2]))] == ids[:2]
    with pytest.raises(ValidationError):
        Filter.of(status="nonsense")


def test_prefixes_find_one_or_say_why_not(store: Any) -> None:
    ids = fill(store)
    assert store.get_by_prefix(ids[0][:10]).id == ids[0]
    assert store.get_by_prefix(ids[0].upper()).id == ids[0]
    with pytest.raises(NotFoundError):
        store.get_by_prefix("zz")  # not hex: nothing can match, no pattern reaches the store
    with pytest.raises(NotFoundError):
        store.get_by_prefix(".*")
    shared = {i[0] for i in ids}
    if len(shared) < len(ids):  # two ids share a first digit
        with pytest.raises(ValidationError, match="several"):
            store.get_by_prefix(next(d for d in shared if sum(i[0] == d for i in ids) > 1))


def test_dismiss_records_who_and_purge_deletes_only_old_resolved_ones(store: Any) -> None:
    ids = fill(store)
    store.dismiss(ids[0], by="ann")
    record = store.get(ids[0])
    assert (record.status, record.resolution, record.resolved_by) == (
        "resolved",
        "dismissed",
        "ann",
    )
    with pytest.raises(ValidationError, match="already resolved"):
        store.dismiss(ids[0])
    assert store.purge(dt.timedelta(days=1)) == 0
    time.sleep(1.1)  # the MongoDB test server compares dates to the second
    assert store.purge(dt.timedelta(0), entities={"order"}) == 0  # not among those entities
    assert store.purge(dt.timedelta(0)) == 1
    assert sorted(r.id for r in store.list()) == sorted(ids[1:])
