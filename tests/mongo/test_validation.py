"""Bad input raises ValidationError before anything is written (every client)."""

from __future__ import annotations

import dataclasses
import decimal
import re
from typing import Any

import pytest
from bson import Code, MinKey, Regex
from pymongo import WriteConcern

import occ
import occ.mongo
from occ import Versioned
from tests.mongo.conftest import Mongo

BAD_CHANGES = [
    pytest.param({"$set": {"n": 9}}, id="operator-name"),
    pytest.param({"a.b": 1}, id="dotted-name"),
    pytest.param({"a\x00b": 1}, id="nul-in-name"),
    pytest.param({"_id": 2}, id="names-_id"),
    pytest.param({"version": 7}, id="names-version"),
    pytest.param({"_occ_tokens": "x"}, id="names-token"),
    pytest.param({"meta": {"$gt": 1}}, id="nested-operator"),
    pytest.param({"meta": {"a.b": 1}}, id="nested-dot"),
    pytest.param({"meta": [{"$x": 1}]}, id="operator-in-list"),
    pytest.param({"": 1}, id="empty-name"),
    pytest.param({1: 1}, id="non-str-name"),
    pytest.param({"n": {1, 2}}, id="set-value"),
    pytest.param({"n": object()}, id="object-value"),
    pytest.param({"n": decimal.Decimal("1.5")}, id="decimal-value"),
    pytest.param({"n": 2**70}, id="int-too-big"),
    pytest.param({"meta": {1: "a"}}, id="nested-int-key"),
]

BAD_VERSIONS = [
    pytest.param({"$gte": 0}, id="operator-dict"),
    pytest.param("1", id="str"),
    pytest.param(True, id="bool"),
    pytest.param(1.0, id="float"),
    pytest.param(None, id="none"),
    pytest.param(2**64, id="beyond-int64"),
]


async def _seeded(mongo: Mongo) -> Any:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 1, "meta": {"a": 1}})
    mongo.log.clear()
    return repo


def _unchanged(mongo: Mongo) -> None:
    assert mongo.log.names == [], "a command was sent"
    assert mongo.raw().find_one({"_id": 1}, {"_occ_tokens": 0}) == {
        "_id": 1,
        "n": 1,
        "meta": {"a": 1},
        "version": 1,
    }


@pytest.mark.parametrize("changes", BAD_CHANGES)
async def test_bad_changes_are_refused_and_nothing_is_written(
    mongo: Mongo, changes: dict[Any, Any]
) -> None:
    repo = await _seeded(mongo)
    with pytest.raises(occ.ValidationError):
        await repo.update(1, changes, expected_version=1)
    _unchanged(mongo)


def _unchanged_store(mongo: Mongo) -> None:
    assert mongo.raw().find_one({"_id": 1}, {"_occ_tokens": 0}) == {
        "_id": 1,
        "n": 1,
        "meta": {"a": 1},
        "version": 1,
    }


# A value's own version field is not a change: save() and modify() set it (as on SQL).
IN_VALUES = [p for p in BAD_CHANGES if p.id != "names-version"]


@pytest.mark.parametrize("changes", IN_VALUES)
async def test_bad_values_in_save_and_modify_are_refused(
    mongo: Mongo, changes: dict[Any, Any]
) -> None:
    repo = await _seeded(mongo)
    snap = await repo.get(1)
    snap.value.update(changes)
    with pytest.raises(occ.ValidationError):
        await repo.save(snap)
    with pytest.raises(occ.ValidationError):
        await repo.modify(1, lambda doc: {**doc, **changes})
    _unchanged_store(mongo)


@pytest.mark.parametrize("changes", [p for p in BAD_CHANGES if p.id != "names-_id"])
async def test_bad_values_in_insert_are_refused(mongo: Mongo, changes: dict[Any, Any]) -> None:
    repo = mongo.repo()
    with pytest.raises(occ.ValidationError):
        await repo.insert({"_id": 5, "n": 1, **changes})
    assert mongo.raw().count_documents({}) == 0


@pytest.mark.parametrize("version", BAD_VERSIONS)
async def test_expected_version_must_be_an_int_and_never_reaches_a_filter(
    mongo: Mongo, version: Any
) -> None:
    repo = await _seeded(mongo)
    with pytest.raises(occ.ValidationError):
        await repo.update(1, {"n": 2}, expected_version=version)
    with pytest.raises(occ.ValidationError):
        await repo.delete(1, expected_version=version)
    with pytest.raises(occ.ValidationError):
        await repo.save(Versioned({"_id": 1, "n": 2}, version, 1))
    _unchanged(mongo)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param({"$ne": None}, id="operator"),
        pytest.param([1], id="list"),
        pytest.param(re.compile(".*"), id="re-pattern"),
        pytest.param(Regex(".*"), id="bson-regex"),
        pytest.param(Code("function() { return true; }"), id="code"),
        pytest.param(MinKey(), id="minkey"),
        pytest.param({"a": re.compile(".*")}, id="pattern-in-document"),
    ],
)
async def test_operator_pattern_or_list_keys_are_refused(mongo: Mongo, key: Any) -> None:
    repo = await _seeded(mongo)
    with pytest.raises(occ.ValidationError):
        await repo.update(key, {"n": 2}, expected_version=1)
    with pytest.raises(occ.ValidationError):
        await repo.find(key)
    _unchanged(mongo)


async def test_unacknowledged_write_concern_is_refused(mongo: Mongo) -> None:
    coll = mongo.collection().with_options(write_concern=WriteConcern(w=0))
    with pytest.raises(occ.ConfigurationError, match="w=0"):
        mongo.repo(collection=coll)


async def test_model_without_version_field_is_a_configuration_error(mongo: Mongo) -> None:
    @dataclasses.dataclass
    class NoVersion:
        id: int
        name: str

    with pytest.raises(occ.ConfigurationError, match="version"):
        mongo.repo(NoVersion)


async def test_wrong_client_kind_is_a_configuration_error(mongo: Mongo) -> None:
    other = occ.mongo.Repository if mongo.is_async else occ.mongo.AsyncRepository
    with pytest.raises(occ.ConfigurationError, match="Repository"):
        other(mongo.collection())
