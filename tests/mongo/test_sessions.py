"""Sessions, transactions and the shard key (every client)."""

from __future__ import annotations

from typing import Any

import pytest

import occ
from occ.resolvers import Overwrite
from tests.mongo.conftest import Mongo


async def test_writes_in_a_transaction_commit_together(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    async with repo.transaction() as tx:
        await tx.update(1, {"n": 1}, expected_version=1)
        await tx.insert({"_id": 2, "n": 2})
    assert (await repo.get(1)).value["n"] == 1
    assert (await repo.get(2)).version == 1


async def test_conflict_inside_a_transaction_raises_and_aborts_it(mongo: Mongo) -> None:
    # Overwrite would retry outside a transaction; inside one, a conflict must raise.
    repo = mongo.repo(policy=Overwrite())
    await repo.insert({"_id": 1, "n": 0})
    await repo.update(1, {"n": 1}, expected_version=1)

    async def stale_write_in_a_transaction() -> None:
        # A write first: the emulator rolls back only transactions a write started (a
        # real server rolls back any). An insert under an explicit key reads its tombstone.
        async with repo.transaction() as tx:
            await tx.insert({"n": 2})
            await tx.update(1, {"n": 9}, expected_version=1)

    with pytest.raises(occ.ConflictError) as info:
        await stale_write_in_a_transaction()
    assert info.value.conflict.kind == "version"
    assert mongo.raw().find_one({"n": 2}) is None, "the transaction was not aborted"
    assert (await repo.get(1)).value["n"] == 1


async def test_modify_inside_a_transaction_is_not_retried(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})

    async def modify_then_fail() -> None:
        async with repo.transaction() as tx:
            await tx.modify(1, lambda doc: {**doc, "n": doc["n"] + 1})
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await modify_then_fail()
    assert (await repo.get(1)).value == {"_id": 1, "n": 0, "version": 1}


async def test_a_callers_session_joins_the_write(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    if mongo.kind == "pymongo":
        with mongo.client.start_session() as session:
            session.start_transaction()
            bound = repo.with_session(session)
            bound.update(1, {"n": 5}, expected_version=1)
            assert bound.get(1).value["n"] == 5
            session.abort_transaction()
    elif mongo.kind == "pymongo_async":
        async with mongo.client.start_session() as session:
            await session.start_transaction()
            bound = repo.with_session(session)
            await bound.update(1, {"n": 5}, expected_version=1)
            assert (await bound.get(1)).value["n"] == 5
            await session.abort_transaction()
    else:
        async with await mongo.client.start_session() as session:
            session.start_transaction()
            bound = repo.with_session(session)
            await bound.update(1, {"n": 5}, expected_version=1)
            assert (await bound.get(1)).value["n"] == 5
            await session.abort_transaction()
    assert (await repo.get(1)).value == {"_id": 1, "n": 0, "version": 1}


async def test_shard_key_is_in_every_filter_and_in_inserts(mongo: Mongo) -> None:
    acme = mongo.repo(shard_key={"tenant": "acme"})
    other = mongo.repo(shard_key={"tenant": "other"})
    created = await acme.insert({"_id": 1, "n": 0})
    assert created.value["tenant"] == "acme"
    mongo.log.clear()
    await acme.update(1, {"n": 1}, expected_version=1)
    snap = await acme.get(1)
    snap.value["n"] = 2
    await acme.save(snap)
    await acme.modify(1, lambda doc: {**doc, "n": 3})
    await acme.delete(1, expected_version=4)
    filters = []
    tombstones = [c for n, c in mongo.log.commands if c.get(n) == "occ_tombstones"]
    for name, command in mongo.log.commands:
        if command in tombstones:  # the tombstone collection is keyed by entity and key
            continue
        if name == "findAndModify":
            filters.append(command["query"])
        elif name in ("update", "delete"):
            filters.append(command[name + "s"][0]["q"])
        elif name == "find":
            filters.append(command["filter"])
    assert len(tombstones) == 1
    assert len(filters) == len(mongo.log.commands) - 1 == 6
    assert all(f["tenant"] == {"$eq": "acme"} for f in filters)
    await acme.insert({"_id": 2, "n": 0})
    assert await other.find(2) is None
    with pytest.raises(occ.NotFoundError):
        await other.update(2, {"n": 9}, expected_version=1)
    with pytest.raises(occ.ValidationError):
        await acme.update(2, {"tenant": "other"}, expected_version=1)
    with pytest.raises(occ.ValidationError):
        await acme.insert({"_id": 3, "tenant": "other"})


# -- occ.mongo.transaction / atransaction: run again on a conflict ------------------


async def test_the_transaction_helper_runs_the_function_again_on_a_conflict(
    mongo: Mongo,
) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    stale = await repo.get(1)  # read earlier...
    await repo.update(1, {"n": 50}, expected_version=1)  # ...then another writer wrote
    calls: list[int] = []

    async def work(session: Any) -> Any:
        calls.append(1)
        bound = repo.bound(session)
        await bound.insert({"attempt": len(calls)})  # a write first (see above)
        snap = stale if len(calls) == 1 else await bound.get(1)
        snap.value["n"] += 1
        return await bound.save(snap)

    saved = await mongo.run_transaction(work)
    assert len(calls) == 2
    assert saved.value["n"] == 51
    assert (await repo.get(1)).value["n"] == 51
    # the first attempt's insert was aborted with it; the second committed once
    assert mongo.raw().count_documents({"attempt": 1}) == 0
    assert mongo.raw().count_documents({"attempt": 2}) == 1


async def test_the_transaction_helper_gives_up_after_its_budget_and_writes_nothing(
    mongo: Mongo,
) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    stale = await repo.get(1)
    await repo.update(1, {"n": 50}, expected_version=1)
    calls: list[int] = []

    async def always_stale(session: Any) -> None:
        calls.append(1)
        bound = repo.bound(session)
        await bound.insert({"attempt": len(calls)})
        await bound.update(1, {"n": -1}, expected_version=stale.version)

    with pytest.raises(occ.RetryExhaustedError):
        await mongo.run_transaction(always_stale, retry=occ.RetryPolicy(attempts=3))
    assert len(calls) == 3
    assert mongo.raw().count_documents({"attempt": {"$exists": True}}) == 0
    assert (await repo.get(1)).value["n"] == 50


async def test_the_transaction_helper_does_not_retry_a_deleted_document(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    snap = await repo.get(1)
    await repo.delete(1, expected_version=snap.version)
    snap.value["n"] = 5
    calls: list[int] = []

    async def on_deleted(session: Any) -> None:
        calls.append(1)
        await repo.bound(session).save(snap)

    with pytest.raises(occ.DeletedError):
        await mongo.run_transaction(on_deleted)
    assert calls == [1]
