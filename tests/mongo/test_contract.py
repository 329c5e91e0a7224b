"""The repository contract on MongoDB, through PyMongo sync, PyMongo async and Motor."""

from __future__ import annotations

import pymongo.errors
import pytest

import occ
from occ import Versioned
from occ.resolvers import Discard, Overwrite
from tests.mongo.conftest import Mongo


async def test_insert_starts_at_version_one_and_get_reads_it(mongo: Mongo) -> None:
    repo = mongo.repo()
    created = await repo.insert({"_id": 1, "owner": "ada", "balance": 10})
    assert (created.version, created.key) == (1, 1)
    got = await repo.get(1)
    assert isinstance(got, Versioned)
    assert got.value == {"_id": 1, "owner": "ada", "balance": 10, "version": 1}
    assert got.base == {"owner": "ada", "balance": 10}
    stored = mongo.raw().find_one({"_id": 1})
    assert stored["version"] == 1
    assert [len(t) for t in stored["_occ_tokens"]] == [16]


async def test_insert_without_key_gets_an_object_id(mongo: Mongo) -> None:
    created = await mongo.repo().insert({"owner": "ada"})
    assert created.value["_id"] == created.key
    assert mongo.raw().find_one({"_id": created.key})["owner"] == "ada"


async def test_find_returns_none_and_get_raises_for_missing_key(mongo: Mongo) -> None:
    repo = mongo.repo()
    assert await repo.find(404) is None
    with pytest.raises(occ.NotFoundError) as info:
        await repo.get(404)
    assert (info.value.entity, info.value.key) == (mongo.name, 404)


async def test_update_returns_stored_document_with_next_version(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "owner": "ada", "balance": 10})
    updated = await repo.update(1, {"balance": 15}, expected_version=1)
    assert updated.version == 2
    assert updated.value == {"_id": 1, "owner": "ada", "balance": 15, "version": 2}
    assert (await repo.get(1)).value["balance"] == 15


async def test_stale_update_raises_conflict_with_stored_state(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "owner": "ada", "balance": 10})
    await repo.update(1, {"balance": 20}, expected_version=1)
    with pytest.raises(occ.ConflictError) as info:
        await repo.update(1, {"balance": 30}, expected_version=1, base={"balance": 10})
    c = info.value.conflict
    assert (c.entity, c.key, c.action, c.kind, c.attempt) == (mongo.name, 1, "update", "version", 1)
    assert (c.expected_version, c.actual_version) == (1, 2)
    assert (c.base, c.mine) == ({"balance": 10}, {"balance": 30})
    assert c.theirs == {"owner": "ada", "balance": 20}
    assert (await repo.get(1)).value["balance"] == 20


async def test_save_writes_changed_nested_fields_by_path(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "name": "ada", "address": {"city": "Paris", "zip": "75001"}})
    snap = await repo.get(1)
    snap.value["address"]["city"] = "Lyon"
    mongo.log.clear()
    saved = await repo.save(snap)
    assert saved.version == 2
    assert saved.value["address"] == {"city": "Lyon", "zip": "75001"}
    [(name, command)] = mongo.log.commands
    assert name == "update"
    assert set(command["updates"][0]["u"]["$set"]) == {"address.city", "version"}
    assert set(command["updates"][0]["u"]["$push"]) == {"_occ_tokens"}
    assert command["updates"][0].get("upsert", False) is False
    stored = mongo.raw().find_one({"_id": 1})
    assert stored["address"] == {"city": "Lyon", "zip": "75001"}


async def test_stale_save_raises_and_writes_nothing(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 1, "note": None})
    first, second = await repo.get(1), await repo.get(1)
    first.value["n"] = 2
    assert (await repo.save(first)).version == 2
    second.value["note"] = "stale"
    with pytest.raises(occ.ConflictError) as info:
        await repo.save(second)
    assert info.value.conflict.changes == {"note": "stale"}
    assert info.value.conflict.base == {"n": 1, "note": None}
    assert (await repo.get(1)).value["note"] is None


async def test_save_without_changes_writes_nothing(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 1})
    snap = await repo.get(1)
    mongo.log.clear()
    saved = await repo.save(snap)
    assert saved == snap
    assert saved.outcome == "unchanged"
    assert mongo.log.names == []


async def test_save_of_a_blind_snapshot_writes_every_field(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "owner": "ada", "balance": 1})
    saved = await repo.save(Versioned({"_id": 1, "owner": "bob", "balance": 2}, 1, 1))
    assert saved.version == 2
    assert (await repo.get(1)).value == {"_id": 1, "owner": "bob", "balance": 2, "version": 2}


async def test_delete_is_conditional_on_the_version(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    await repo.update(1, {"n": 5}, expected_version=1)
    with pytest.raises(occ.ConflictError) as info:
        await repo.delete(1, expected_version=1)
    assert info.value.conflict.action == "delete"
    assert await repo.find(1) is not None
    await repo.delete(1, expected_version=2)
    assert await repo.find(1) is None


async def test_update_or_delete_of_a_missing_key_is_not_found_and_never_upserts(
    mongo: Mongo,
) -> None:
    repo = mongo.repo()
    with pytest.raises(occ.NotFoundError) as info:
        await repo.update(7, {"n": 1}, expected_version=1)
    assert not isinstance(info.value, occ.ConflictError)
    with pytest.raises(occ.NotFoundError):
        await repo.delete(7, expected_version=1)
    assert mongo.raw().count_documents({}) == 0


async def test_document_deleted_after_read_is_reported_as_deleted(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    snap = await repo.get(1)
    await repo.delete(1, expected_version=1)
    snap.value["n"] = 3
    with pytest.raises(occ.DeletedError) as info:
        await repo.save(snap)
    c = info.value.conflict
    assert (c.kind, c.deleted, c.theirs, c.actual_version) == ("deleted", True, None, None)
    assert await repo.find(1) is None


async def test_modify_applies_function_and_returns_new_version(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "balance": 1})

    def deposit(doc: dict[str, int]) -> dict[str, int]:
        doc["balance"] += 9
        return doc

    result = await repo.modify(1, deposit)
    assert (result.version, result.value["balance"]) == (2, 10)
    assert (await repo.get(1)).value["balance"] == 10
    with pytest.raises(occ.NotFoundError):
        await repo.modify(5, deposit)


async def test_insert_of_taken_id_is_already_exists_and_other_unique_index_is_not(
    mongo: Mongo,
) -> None:
    mongo.raw().create_index("email", unique=True)
    repo = mongo.repo()
    await repo.insert({"_id": 1, "email": "a@x"})
    with pytest.raises(occ.AlreadyExistsError):
        await repo.insert({"_id": 1, "email": "b@x"})
    with pytest.raises(pymongo.errors.DuplicateKeyError) as info:
        await repo.insert({"_id": 2, "email": "a@x"})
    assert not isinstance(info.value, occ.OCCError)
    assert list(mongo.raw().find({}, {"email": 1})) == [{"_id": 1, "email": "a@x"}]


async def test_documents_without_version_read_as_zero_and_stay_protected(mongo: Mongo) -> None:
    mongo.raw().insert_one({"_id": 1, "n": 1})
    repo = mongo.repo()
    assert (await repo.get(1)).version == 0
    with pytest.raises(occ.ConflictError):
        await repo.update(1, {"n": 2}, expected_version=1)
    assert (await repo.update(1, {"n": 2}, expected_version=0)).version == 1
    with pytest.raises(occ.ConflictError):
        await repo.update(1, {"n": 3}, expected_version=0)
    assert (await repo.get(1)).value["n"] == 2


async def test_discard_policy_returns_stored_value(mongo: Mongo) -> None:
    repo = mongo.repo(policy=Discard())
    await repo.insert({"_id": 1, "n": 1})
    await repo.update(1, {"n": 2}, expected_version=1)
    kept = await repo.update(1, {"n": 99}, expected_version=1)
    assert (kept.version, kept.value["n"]) == (2, 2)
    assert repo.stats.snapshot()["decisions"] == {"discarded": 1}


async def test_overwrite_policy_writes_mine_at_stored_version(mongo: Mongo) -> None:
    repo = mongo.repo(policy=Overwrite())
    await repo.insert({"_id": 1, "n": 1, "note": None})
    await repo.update(1, {"n": 2, "note": "theirs"}, expected_version=1)
    won = await repo.update(1, {"n": 99}, expected_version=1)
    assert (won.version, won.value["n"], won.value["note"]) == (3, 99, "theirs")
    snap = await repo.get(1)
    await repo.update(1, {"note": "x"}, expected_version=3)
    snap.value["n"] = 5
    saved = await repo.save(snap)
    assert (saved.version, saved.value["n"], saved.value["note"]) == (5, 5, "x")


async def test_policy_registry_by_collection_name_supplies_the_policy(mongo: Mongo) -> None:
    occ.policies.register(mongo.name, Discard())
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 1})
    await repo.update(1, {"n": 2}, expected_version=1)
    assert (await repo.update(1, {"n": 3}, expected_version=1)).value["n"] == 2


async def test_custom_key_version_and_token_fields(mongo: Mongo) -> None:
    repo = mongo.repo(key="sku", version_field="rev", token_field="_w")
    created = await repo.insert({"sku": "bolt", "qty": 3})
    assert created.value == {"sku": "bolt", "qty": 3, "rev": 1}
    updated = await repo.update("bolt", {"qty": 4}, expected_version=1)
    assert updated.value == {"sku": "bolt", "qty": 4, "rev": 2}
    stored = mongo.raw().find_one({"_id": "bolt"})
    assert set(stored) == {"_id", "qty", "rev", "_w"}
