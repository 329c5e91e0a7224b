"""A snapshot read before a delete never applies to a document inserted again under its key."""

from __future__ import annotations

import pytest

import occ
from tests.mongo.conftest import Mongo


async def test_a_stale_snapshot_never_applies_to_a_document_inserted_again(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "owner": "alice", "balance": 100})
    stale = await repo.get(1)
    await repo.delete(1, expected_version=1)
    bob = await repo.insert({"_id": 1, "owner": "bob", "balance": 0})
    assert bob.version == 2
    stale.value["balance"] = 70
    with pytest.raises(occ.ConflictError) as raised:
        await repo.save(stale)
    assert raised.value.conflict.actual_version == 2
    with pytest.raises(occ.ConflictError):
        await repo.update(1, {"balance": 70}, expected_version=1)
    got = await repo.get(1)
    assert (got.value["owner"], got.value["balance"], got.version) == ("bob", 0, 2)


async def test_versions_never_repeat_over_delete_and_insert_cycles(mongo: Mongo) -> None:
    repo = mongo.repo()
    seen = []
    for cycle in range(3):
        created = await repo.insert({"_id": "k", "n": cycle})
        updated = await repo.update("k", {"n": 10}, expected_version=created.version)
        seen += [created.version, updated.version]
        await repo.delete("k", expected_version=updated.version)
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    stone = mongo.raw(name="occ_tombstones").find_one({"entity": repo.name})
    assert stone is not None
    assert stone["version"] == seen[-1]


async def test_a_stale_delete_leaves_no_tombstone_behind(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    with pytest.raises(occ.ConflictError):
        await repo.delete(1, expected_version=5)
    await repo.delete(1, expected_version=1)
    assert (await repo.insert({"_id": 1, "n": 1})).version == 2


async def test_tombstones_can_be_turned_off(mongo: Mongo) -> None:
    repo = mongo.repo(tombstones=False)
    await repo.insert({"_id": 1, "n": 0})
    await repo.delete(1, expected_version=1)
    assert (await repo.insert({"_id": 1, "n": 1})).version == 1
