"""backfill_mongo_versions on a collection with documents (nx-27017 or OCC_MONGODB_URI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
from bson import ObjectId
from pymongo.collection import Collection

import occ
from occ.migrations import backfill_mongo_versions

Doc = dict[str, Any]


@pytest.fixture
def docs(mongodb_uri: str) -> Iterator[Collection[Doc]]:
    client: pymongo.MongoClient[Doc] = pymongo.MongoClient(mongodb_uri)
    collection = client.get_default_database()["occ_t8_docs"]
    collection.drop()
    collection.insert_many([{"_id": i, "n": i} for i in range(250)])
    collection.insert_many([{"_id": f"s{i}", "n": i} for i in range(20)])  # other _id types
    collection.insert_many([{"_id": ObjectId(), "n": i} for i in range(20)])
    collection.update_many({"_id": {"$in": [3, 4]}}, {"$set": {"version": 7}})
    collection.update_one({"_id": 5}, {"$set": {"version": None}})
    yield collection
    collection.drop()
    client.close()


def counts(collection: Collection[Doc]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for doc in collection.find({}, {"version": 1}):
        out[doc.get("version")] = out.get(doc.get("version"), 0) + 1
    return out


def test_backfill_gives_version_one_in_batches_and_keeps_existing_versions(
    docs: Collection[Doc],
) -> None:
    batches: list[int] = []
    assert backfill_mongo_versions(docs, batch_size=100, on_batch=batches.append) == 288
    assert counts(docs) == {1: 288, 7: 2}
    assert max(batches) <= 100
    assert len(batches) >= 3


def test_backfill_run_twice_changes_nothing(docs: Collection[Doc]) -> None:
    backfill_mongo_versions(docs, batch_size=100)
    assert backfill_mongo_versions(docs, batch_size=100) == 0
    assert counts(docs) == {1: 288, 7: 2}


def test_interrupted_backfill_resumes(docs: Collection[Doc]) -> None:
    def crash_after_first(count: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_mongo_versions(docs, batch_size=50, on_batch=crash_after_first)
    assert counts(docs)[1] == 50
    assert backfill_mongo_versions(docs, batch_size=50) == 238
    assert counts(docs) == {1: 288, 7: 2}


@pytest.mark.parametrize("field", ["$version", "a.b", "", "_id", "v\0"])
def test_bad_field_name_is_refused(docs: Collection[Doc], field: str) -> None:
    with pytest.raises(occ.ValidationError, match="plain top-level field"):
        backfill_mongo_versions(docs, field=field)
    assert counts(docs) == {None: 288, 7: 2}


def test_unacknowledged_write_concern_and_bad_batch_size_are_refused(
    docs: Collection[Doc],
) -> None:
    with pytest.raises(occ.ConfigurationError, match="w=0"):
        backfill_mongo_versions(docs.with_options(write_concern=pymongo.WriteConcern(w=0)))
    with pytest.raises(occ.ValidationError, match="batch_size"):
        backfill_mongo_versions(docs, batch_size=True)
    assert counts(docs) == {None: 288, 7: 2}
