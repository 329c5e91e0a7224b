"""The outbox of MongoDB repositories: one event per write that changes a document, atomic
with it — in the document itself (any server) or in the outbox collection in the write's
transaction (replica sets) — for every client."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from bson import ObjectId, Timestamp

import occ
import occ.policies
from occ.resolvers import Counter, Discard, Merge
from occ.sync import Outbox, decode
from tests.mongo.conftest import Mongo
from tests.mongo.proxy import Proxy

FIELD = "_occ_outbox"


def pending(mongo: Mongo, key: Any) -> list[tuple[str, int, int | None]]:
    """The events the document ``key`` carries, in order: (operation, version, previous)."""
    doc = mongo.raw().find_one({"_id": key}) or {}
    events = [decode(text) for text in doc.get(FIELD, {}).get("e", {}).values()]
    events.sort(key=lambda e: e.order)
    assert doc.get(FIELD, {}).get("n", 0) == len(events)
    return [(e.operation, e.version, e.previous) for e in events]


def events_of(mongo: Mongo, key: Any) -> list[Any]:
    doc = mongo.raw().find_one({"_id": key}) or {}
    return sorted((decode(t) for t in doc[FIELD]["e"].values()), key=lambda e: e.order)


def outbox(**options: Any) -> Outbox:
    return Outbox(table=f"ob_{uuid.uuid4().hex[:8]}", entity="people", **options)


async def test_every_write_carries_its_event_in_the_document(mongo: Mongo) -> None:
    repo = mongo.repo(outbox=outbox(mongo="document"))
    await repo.insert({"_id": 1, "name": "ada", "email": "ada@example.org", "visits": 0})
    await repo.update(1, {"email": "ada@lovelace.org"}, expected_version=1)  # no base: read first
    snap = await repo.get(1)
    snap.value["visits"] = 5
    await repo.save(snap)
    await repo.modify(1, lambda v: {**v, "visits": v["visits"] + 1})
    assert FIELD not in snap.value
    assert FIELD not in snap.base
    await repo.delete(1, expected_version=4)
    assert pending(mongo, 1) == [
        ("insert", 1, None),
        ("update", 2, 1),
        ("update", 3, 2),
        ("update", 4, 3),
        ("delete", 4, 4),
    ]
    events = events_of(mongo, 1)
    assert {e.entity for e in events} == {"people"}
    assert {e.key for e in events} == {1}
    assert events[1].changes == {"email": "ada@lovelace.org"}
    assert events[3].value == {"name": "ada", "email": "ada@lovelace.org", "visits": 6}
    assert events[4].value is None
    assert len({e.id for e in events}) == 5
    # the deleted document waits for the relay, and reads as absent meanwhile
    assert await repo.find(1) is None
    with pytest.raises(occ.NotFoundError):
        await repo.update(1, {"visits": 9}, expected_version=4)
    with pytest.raises(occ.NotFoundError):
        await repo.delete(1, expected_version=4)
    assert len(pending(mongo, 1)) == 5


async def test_writes_that_write_nothing_carry_no_event(mongo: Mongo) -> None:
    box = outbox(mongo="document")
    repo = mongo.repo(outbox=box)
    first = await repo.insert({"_id": 1, "name": "ada"})
    with pytest.raises(occ.ConflictError):
        await repo.update(1, {"name": "x"}, expected_version=7)
    assert (await repo.save(first)).outcome == "unchanged"
    await repo.update(1, {"name": "theirs"}, expected_version=1)
    stale = await mongo.repo(outbox=box, policy=Discard()).update(
        1, {"name": "mine"}, expected_version=1
    )
    assert stale.outcome == "discarded"
    with pytest.raises(occ.AlreadyExistsError):
        await repo.insert({"_id": 1, "name": "again"})
    with pytest.raises(occ.ConflictError):
        await repo.delete(1, expected_version=1)
    assert pending(mongo, 1) == [("insert", 1, None), ("update", 2, 1)]


async def test_the_pending_events_field_is_never_read_nor_written_by_users(
    mongo: Mongo,
) -> None:
    repo = mongo.repo(outbox=outbox(mongo="document"))
    inserted = await repo.insert({"_id": 1, "name": "ada"})
    assert FIELD not in inserted.value
    updated = await repo.update(1, {"name": "grace"}, expected_version=1)
    assert FIELD not in updated.value
    assert set((await repo.get(1)).value) == {"_id", "name", "version"}
    plain = mongo.repo()  # a repository without an outbox on the same collection
    assert FIELD not in (await plain.get(1)).value
    for bad in ({FIELD: {}}, {"name": "x", FIELD: None}):
        with pytest.raises(occ.ValidationError, match="pending change events"):
            await repo.update(1, bad, expected_version=2)
    with pytest.raises(occ.ValidationError, match="pending change events"):
        await repo.insert({"_id": 2, FIELD: {"n": 0}})
    assert pending(mongo, 1) == [("insert", 1, None), ("update", 2, 1)]
    assert mongo.raw().find_one({"_id": 2}) is None


async def test_an_insert_over_a_deleted_document_revives_it_past_its_version(
    mongo: Mongo,
) -> None:
    repo = mongo.repo(outbox=outbox(mongo="document"))
    await repo.insert({"_id": 1, "name": "ada", "old": True})
    await repo.update(1, {"name": "ada l."}, expected_version=1)
    await repo.delete(1, expected_version=2)
    again = await repo.insert({"_id": 1, "name": "grace"})
    assert again.version == 3  # versions never repeat across the delete
    stored = mongo.raw().find_one({"_id": 1})
    assert {k: v for k, v in stored.items() if not k.startswith("_occ")} == {
        "_id": 1,
        "name": "grace",
        "version": 3,
    }
    assert (await repo.get(1)).value == {"_id": 1, "name": "grace", "version": 3}
    assert pending(mongo, 1) == [
        ("insert", 1, None),
        ("update", 2, 1),
        ("delete", 2, 2),
        ("insert", 3, None),
    ]
    with pytest.raises(occ.AlreadyExistsError):
        await repo.insert({"_id": 1, "name": "twice"})


async def test_round_trips_with_the_event_in_the_document(mongo: Mongo) -> None:
    repo = mongo.repo(outbox=outbox(mongo="document"))
    snap = await repo.insert({"_id": 1, "n": 0})
    mongo.log.clear()
    snap.value["n"] = 1
    snap = await repo.save(snap)
    assert mongo.log.names == ["update"]  # the write and its event: one command
    mongo.log.clear()
    await repo.modify(1, lambda v: {**v, "n": v["n"] + 1})
    assert mongo.log.names == ["find", "update"]
    mongo.log.clear()
    await repo.update(1, {"n": 9}, expected_version=3)
    assert mongo.log.names == ["find", "findAndModify"]  # a full event needs the value first
    changes_only = mongo.repo(outbox=outbox(mongo="document", value="changes"))
    mongo.log.clear()
    await changes_only.update(1, {"n": 10}, expected_version=4)
    assert mongo.log.names == ["findAndModify"]


async def test_bad_keys_and_values_are_refused_and_write_nothing(mongo: Mongo) -> None:
    repo = mongo.repo(outbox=outbox(mongo="document"))
    for key in (uuid.uuid4(), {"a": 1}):
        with pytest.raises(occ.ValidationError, match="an outbox event's key"):
            await repo.insert({"_id": key, "name": "x"})
    with pytest.raises(occ.ValidationError, match="Timestamp"):
        await repo.insert({"_id": 1, "at": Timestamp(1, 1)})
    assert mongo.raw().count_documents({}) == 0
    await repo.insert({"_id": 2, "n": 0})
    with pytest.raises(occ.ValidationError, match="Timestamp"):
        await repo.update(2, {"at": Timestamp(1, 1)}, expected_version=1)
    assert pending(mongo, 2) == [("insert", 1, None)]
    oid = ObjectId()
    inserted = await repo.insert({"_id": oid, "n": 1})
    assert inserted.key == oid
    (event,) = events_of(mongo, oid)
    assert event.key == str(oid)  # an ObjectId key travels as its hex string


async def test_the_fast_path_becomes_a_conditional_update_with_its_event(mongo: Mongo) -> None:
    policy = Merge(fields={"hits": Counter()}, fast_path=True)
    repo = mongo.repo(outbox=outbox(mongo="document"), policy=policy)
    await repo.insert({"_id": 1, "hits": 0})
    first = await repo.get(1)
    second = await repo.get(1)
    first.value["hits"] += 2
    second.value["hits"] += 3
    await repo.save(first)
    done = await repo.save(second)
    assert done.value["hits"] == 5
    assert pending(mongo, 1) == [("insert", 1, None), ("update", 2, 1), ("update", 3, 2)]
    assert [e.changes for e in events_of(mongo, 1)][1:] == [{"hits": 2}, {"hits": 5}]


async def test_the_outbox_declared_in_policies_and_auto_mode_on_a_standalone_server(
    mongo: Mongo,
) -> None:
    box = outbox()  # mongo="auto": the emulator is a standalone server
    occ.policies.register_outbox(mongo.name, box)
    repo = mongo.repo()
    await repo.insert({"_id": 1})
    assert repo.inner.outbox.mode == "document"
    assert pending(mongo, 1) == [("insert", 1, None)]
    with pytest.raises(occ.ConfigurationError, match="tombstones"):
        mongo.repo(outbox=box, tombstones=False)
    with pytest.raises(occ.ConfigurationError, match="mongo="):
        Outbox(mongo="somewhere")


async def test_in_the_outbox_collection_each_event_commits_with_its_write(
    mongo: Mongo,
) -> None:
    """The outbox collection needs transactions: the emulator's roll back on abort (they do
    not isolate, which only a replica set shows)."""
    box = outbox(mongo="collection")
    repo = mongo.repo(outbox=box)
    await repo.insert({"_id": 1, "name": "ada"})
    mongo.log.clear()
    snap = await repo.get(1)
    snap.value["name"] = "ada l."
    await repo.save(snap)
    assert mongo.log.names == ["find", "update", "insert", "commitTransaction"]
    await repo.update(1, {"name": "grace"}, expected_version=2)
    with pytest.raises(occ.ConflictError):
        await repo.update(1, {"name": "stale"}, expected_version=2)

    async def rolled_back() -> None:
        async with repo.transaction() as bound:
            await bound.update(1, {"name": "never"}, expected_version=3)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await rolled_back()
    await repo.delete(1, expected_version=3)
    rows = list(mongo.raw(box.table).find({}).sort([("entity_key", 1), ("order", 1)]))
    assert [(r["version"], r["published_at"]) for r in rows] == [
        (1, 0.0),
        (2, 0.0),
        (3, 0.0),
        (3, 0.0),
    ]
    events = [decode(r["event"]) for r in rows]
    assert [e.operation for e in events] == ["insert", "update", "update", "delete"]
    assert events[2].value == {"name": "grace"}
    assert [r["_id"] for r in rows] == [e.id for e in events]
    assert mongo.raw().find_one({"_id": 1}) is None  # deleted for real: the event is elsewhere
    assert json.loads(rows[0]["event"])["key"] == 1
    mongo.collection(box.table)  # dropped with the test's collections


@pytest.mark.parametrize("mode", ["drop_reply", "drop_request"])
async def test_a_write_whose_reply_was_lost_carries_its_event_once(
    cut: tuple[Mongo, Proxy], mode: str
) -> None:
    mongo, proxy = cut
    repo = mongo.repo(outbox=outbox(mongo="document"))
    snap = await repo.insert({"_id": 1, "n": 0})
    snap.value["n"] = 1
    proxy.arm("update", mode)
    saved = await repo.save(snap)
    assert proxy.cut == 1
    assert saved.version == 2
    assert pending(mongo, 1) == [("insert", 1, None), ("update", 2, 1)]
