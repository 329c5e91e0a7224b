"""Write concern, read concern, read preference and a caller's causal session reach the server.

Proved with command monitoring (PyMongo's ``CommandListener``) on every client.
The test server is a standalone, so what only a replica set does — route a
read to a secondary, wait for ``afterClusterTime``, roll back a ``w: 1``
write — is not observable here: docs/scaling.md says what rests on reasoning.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pymongo import ReadPreference, WriteConcern
from pymongo.read_concern import ReadConcern

import occ
from tests.mongo.conftest import Mongo, Repo

MAJORITY = WriteConcern(w="majority", wtimeout=5000)


def concerns(mongo: Mongo, name: str) -> list[tuple[Any, Any]]:
    """(writeConcern, readConcern) of each logged ``name`` command, in order."""
    return [
        (cmd.get("writeConcern"), cmd.get("readConcern"))
        for logged, cmd in mongo.log.commands
        if logged == name
    ]


async def test_every_write_carries_the_write_concern_given(mongo: Mongo) -> None:
    repo = mongo.repo(write_concern=MAJORITY)
    await repo.insert({"_id": 1, "n": 0})
    await repo.update(1, {"n": 1}, expected_version=1)
    await repo.save(await repo.get(1))
    await repo.delete(1, expected_version=2)
    writes = [(name, cmd) for name, cmd in mongo.log.commands if name != "find"]
    assert {name for name, _ in writes} >= {"insert", "findAndModify", "delete"}
    assert all(cmd.get("writeConcern") == {"w": "majority", "wtimeout": 5000} for _, cmd in writes)


async def test_reads_carry_the_read_concern_and_conflict_reads_the_primarys_latest(
    mongo: Mongo,
) -> None:
    repo = mongo.repo(read_concern=ReadConcern("majority"))
    await repo.insert({"_id": 1, "n": 0})
    await repo.update(1, {"n": 1}, expected_version=1)
    mongo.log.clear()
    await repo.get(1)
    assert concerns(mongo, "find") == [(None, {"level": "majority"})]
    mongo.log.clear()
    with pytest.raises(occ.ConflictError):
        await repo.update(1, {"n": 2}, expected_version=1)
    # The read that classifies the miss asks for the primary's latest, not a majority snapshot.
    assert concerns(mongo, "find") == [(None, None)]


async def test_a_callers_causal_session_is_on_every_command(mongo: Mongo) -> None:
    session = mongo.client.start_session(causal_consistency=True)
    if inspect.isawaitable(session):  # Motor
        session = await session
    try:
        repo = Repo(mongo.repo().inner.with_session(session), mongo.is_async)
        await repo.insert({"_id": 1, "n": 0})
        await repo.modify(1, lambda doc: {**doc, "n": 1})
        await repo.get(1)
        lsid = session.session_id
        assert mongo.log.commands
        assert all(cmd.get("lsid") == lsid for _, cmd in mongo.log.commands)
        assert session.options.causal_consistency
    finally:
        ended = session.end_session()
        if inspect.isawaitable(ended):
            await ended


async def test_read_preference_applies_to_routed_reads_only(mongo: Mongo) -> None:
    repo = mongo.repo(read_preference=ReadPreference.SECONDARY_PREFERRED)
    await repo.insert({"_id": 1, "n": 0})
    assert (await repo.get(1)).version == 1  # served: a standalone takes any preference
    assert repo.inner.reads.read_preference == ReadPreference.SECONDARY_PREFERRED
    assert repo.inner.collection.read_preference == ReadPreference.PRIMARY
    assert mongo.repo().inner.reads.read_preference == ReadPreference.PRIMARY


async def test_an_unacknowledged_write_concern_is_refused(mongo: Mongo) -> None:
    with pytest.raises(occ.ConfigurationError, match="w=0"):
        mongo.repo(write_concern=WriteConcern(w=0))
