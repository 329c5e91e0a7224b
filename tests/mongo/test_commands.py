"""Round trips per operation, counted with a PyMongo CommandListener (every client)."""

from __future__ import annotations

import pytest

import occ
from occ import Versioned
from tests.mongo.conftest import Mongo


async def test_each_operation_sends_the_fewest_commands(mongo: Mongo) -> None:
    repo = mongo.repo()
    log = mongo.log

    log.clear()
    await repo.insert({"_id": 1, "n": 0})
    assert log.names == ["find", "insert"], "the key's tombstone, then the insert"

    log.clear()
    await repo.insert({"n": 0})
    assert log.names == ["insert"], "a new ObjectId has no tombstone to look up"

    log.clear()
    snap = await repo.get(1)
    assert log.names == ["find"]

    log.clear()
    await repo.update(1, {"n": 1}, expected_version=1)
    assert log.names == ["findAndModify"], "update is one command"

    log.clear()
    await repo.save(Versioned({"_id": 1, "n": 2}, 2, 1))
    assert log.names == ["update"], "a blind versioned write is one command"

    log.clear()
    snap = await repo.get(1)
    log.clear()
    snap.value["n"] = 3
    await repo.save(snap)
    assert log.names == ["update"]

    log.clear()
    await repo.modify(1, lambda doc: {**doc, "n": doc["n"] + 1})
    assert log.names == ["find", "update"], "modify is a read and a write per attempt"

    log.clear()
    await repo.delete(1, expected_version=5)
    assert log.names == ["update", "delete"], "the tombstone, then the delete"


async def test_a_miss_costs_one_read_of_the_key(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    await repo.update(1, {"n": 1}, expected_version=1)
    mongo.log.clear()
    with pytest.raises(occ.ConflictError):
        await repo.update(1, {"n": 2}, expected_version=1)
    assert mongo.log.names == ["findAndModify", "find"]
    mongo.log.clear()
    with pytest.raises(occ.NotFoundError):
        await repo.delete(2, expected_version=1)
    # tombstone, delete, the tombstone taken back (nothing was deleted), classify
    assert mongo.log.names == ["update", "delete", "delete", "find"]


async def test_versioned_write_filters_on_eq_version_and_never_upserts(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    mongo.log.clear()
    await repo.update(1, {"n": 1}, expected_version=1)
    [(_, command)] = mongo.log.commands
    assert command["query"] == {"_id": {"$eq": 1}, "version": {"$eq": 1}}
    assert command["update"]["$set"]["version"] == 2
    assert command.get("upsert", False) is False
