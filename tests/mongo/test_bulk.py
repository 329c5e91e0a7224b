"""Batch writes and many-key reads on MongoDB, every client (issue 16).

Commands are counted with PyMongo's CommandListener (the harness's log);
what was and was not written is read back with a plain client.
"""

from __future__ import annotations

from typing import Any

import pytest

import occ
from occ.resolvers import Merge, Overwrite
from occ.resolvers.rules import Counter
from tests.mongo.conftest import Mongo


def outcomes(result: Any) -> list[str]:
    return [item.outcome for item in result]


def stored(mongo: Mongo) -> dict[Any, tuple[Any, Any]]:
    return {d["_id"]: (d.get("n"), d.get("version")) for d in mongo.raw().find()}


async def seeded(mongo: Mongo, n: int, **options: Any) -> Any:
    mongo.raw().insert_many([{"_id": k, "n": 0, "version": 1} for k in range(1, n + 1)])
    return mongo.repo(**options)


async def scanned(repo: Any, where: Any = None, **options: Any) -> list[Any]:
    pages = repo.scan(where, **options)
    if hasattr(pages, "__aiter__"):
        return [v.key async for v in pages]
    return [v.key for v in pages]


async def test_update_many_reports_each_item_in_order_and_writes_only_the_good_ones(
    mongo: Mongo,
) -> None:
    repo = await seeded(mongo, 4)
    await repo.update(2, {"n": 7}, expected_version=1)
    mongo.log.clear()
    result = await repo.update_many(
        [
            (1, {"n": 1}, 1),
            (2, {"n": 2}, 1),
            (9, {"n": 9}, 1),
            (1, {"n": 5}, 1),
            (3, {"n": 3}, {"$gte": 0}),
            (3, {"$set": 3}, 1),
            (4, {"n": 4}, 1),
        ]
    )
    assert outcomes(result) == [
        "written",
        "conflict",
        "not_found",
        "invalid",
        "invalid",
        "invalid",
        "written",
    ]
    assert result[1].conflict is not None
    assert result[1].conflict.theirs == {"n": 7}
    assert result[0].value is not None
    assert result[0].value.value == {"_id": 1, "n": 1, "version": 2}
    # one bulk_write; one find attributes it (and returns the documents); one read per miss
    assert mongo.log.names == ["update", "find", "find"]
    assert stored(mongo) == {1: (1, 2), 2: (7, 2), 3: (0, 1), 4: (4, 2)}


@pytest.mark.parametrize("n", [10, 1000])
async def test_a_batch_is_one_command_and_every_write_pushes_its_token(
    mongo: Mongo, n: int
) -> None:
    repo = await seeded(mongo, n)
    snaps = list(await repo.get_many(range(1, n + 1)))
    for snap in snaps:
        snap.value["n"] = 5
    mongo.log.clear()
    result = await repo.save_many(snaps)
    assert result.outcomes == {"written": n}
    assert mongo.log.names == ["update"]  # one bulk_write, all matched: nothing to read
    command = mongo.log.commands[0][1]
    assert len(command["updates"]) == n
    assert all(u["q"]["version"] == {"$eq": 1} for u in command["updates"])
    docs = list(mongo.raw().find())
    assert all(len(d["_occ_tokens"]) == 1 and d["version"] == 2 for d in docs)
    mongo.log.clear()
    updated = await repo.update_many([(k, {"n": 6}, 2) for k in range(1, n + 1)])
    assert updated.outcomes == {"written": n}
    assert mongo.log.names == ["update", "find"]  # the stored documents back: one reply


async def test_conflicting_items_are_merged_in_one_more_round(mongo: Mongo) -> None:
    repo = await seeded(mongo, 10, policy=Merge(fields={"n": Counter()}))
    snaps = list(await repo.get_many(range(1, 11)))
    await repo.update(4, {"n": 100}, expected_version=1)
    await repo.update(8, {"n": 100}, expected_version=1)
    for snap in snaps:
        snap.value["n"] += 1
    mongo.log.clear()
    result = await repo.save_many(snaps)
    assert result.outcomes == {"written": 8, "merged": 2}
    assert mongo.log.names == ["update", "find", "find", "update"]
    assert stored(mongo)[4] == (101, 3)


async def test_insert_many_and_delete_many_outcomes(mongo: Mongo) -> None:
    repo = await seeded(mongo, 3)
    mongo.raw().create_index("email", unique=True, sparse=True)
    mongo.raw().update_one({"_id": 3}, {"$set": {"email": "a@x"}})
    mongo.log.clear()
    result = await repo.insert_many(
        [{"_id": 1}, {"_id": 4, "n": 4}, {"_id": 4}, {"_id": 5, "email": "a@x"}, {"_id": 6}]
    )
    assert outcomes(result) == ["already_exists", "written", "invalid", "error", "written"]
    assert mongo.log.names[:2] == ["find", "insert"]  # the keys' tombstones, then the batch
    assert set(stored(mongo)) == {1, 2, 3, 4, 6}
    await repo.update(2, {"n": 2}, expected_version=1)
    mongo.log.clear()
    deleted = await repo.delete_many([(1, 1), (2, 1), (9, 1), (6, 1)])
    assert outcomes(deleted) == ["deleted", "conflict", "not_found", "deleted"]
    # which are at their version, their tombstones, the deletes; one read of the misses
    assert mongo.log.names == ["find", "update", "delete", "find"]
    assert set(stored(mongo)) == {2, 3, 4}
    again = await repo.insert_many([{"_id": 1}, {"_id": 6}, {"_id": 7}])
    assert [(item.outcome, item.version) for item in again] == [
        ("written", 2),  # past the versions they were deleted at
        ("written", 2),
        ("written", 1),
    ]


async def test_all_or_nothing_batch_is_one_transaction(mongo: Mongo) -> None:
    repo = await seeded(mongo, 3, policy=Overwrite())
    await repo.update(2, {"n": 5}, expected_version=1)
    result = await repo.update_many([(k, {"n": 9}, 1) for k in (1, 2, 3)], atomic=True)
    assert outcomes(result) == ["aborted", "conflict", "aborted"]
    assert stored(mongo) == {1: (0, 1), 2: (5, 2), 3: (0, 1)}
    done = await repo.update_many([(1, {"n": 9}, 1), (3, {"n": 9}, 1)], atomic=True)
    assert done.ok
    assert stored(mongo) == {1: (9, 2), 2: (5, 2), 3: (9, 2)}
    async with repo.transaction() as tx:
        with pytest.raises(occ.ValidationError, match="savepoint"):
            await tx.update_many([(1, {"n": 1}, 2)], atomic=True)


async def test_bad_batches_are_refused_before_anything_is_sent(mongo: Mongo) -> None:
    repo = await seeded(mongo, 2)
    repo.inner.max_batch = 1
    mongo.log.clear()
    with pytest.raises(occ.ValidationError, match="max_batch"):
        await repo.update_many([(1, {"n": 1}, 1), (2, {"n": 1}, 1)])
    assert len(await repo.delete_many([])) == 0
    repo.inner.max_batch = 10
    invalid = await repo.update_many([(1, {"n": 1}, 1), (2, {"n": 1}, True)], atomic=True)
    assert outcomes(invalid) == ["aborted", "invalid"]
    assert mongo.log.names == []
    assert stored(mongo) == {1: (0, 1), 2: (0, 1)}


def k(n: int) -> str:
    """String keys: the nx-27017 emulator sorts integer ``_id``s as text (1, 10, 11, 2, ...)."""
    return f"k{n:02d}"


async def test_get_many_query_and_scan(mongo: Mongo) -> None:
    mongo.raw().insert_many([{"_id": k(n), "n": n % 3, "version": 1} for n in range(1, 21)])
    repo = mongo.repo()
    mongo.log.clear()
    found = await repo.get_many([k(5), "nope", k(1), k(5)])
    assert [v.key for v in found] == [k(5), k(1)]
    assert found.missing == ("nope",)
    assert mongo.log.names == ["find"]
    assert [v.key for v in await repo.query({"n": 1}, limit=3)] == [k(1), k(4), k(7)]
    newest = await repo.query({"n": {"$gte": 1}}, order_by="-_id", limit=2)
    assert [v.key for v in newest] == [k(20), k(19)]
    assert [v.key for v in await repo.query(order_by=["-n", "_id"], limit=2)] == [k(2), k(5)]
    mongo.log.clear()
    assert await scanned(repo, {"n": 0}, page_size=3) == [k(n) for n in (3, 6, 9, 12, 15, 18)]
    assert mongo.log.names == ["find"] * 3
    assert await scanned(repo, page_size=8, after=k(15)) == [k(n) for n in range(16, 21)]


async def test_upsert_many_inserts_updates_and_resolves_a_taken_key(mongo: Mongo) -> None:
    repo = await seeded(mongo, 2, policy=Overwrite())
    result = await repo.upsert_many(
        [{"_id": 1, "n": 9}, {"_id": 3, "n": 3}, {"_id": 2, "n": 2, "version": 1}]
    )
    assert outcomes(result) == ["overwritten", "written", "written"]
    assert stored(mongo) == {1: (9, 2), 2: (2, 2), 3: (3, 1)}
