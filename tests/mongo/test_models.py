"""Dataclass and pydantic v2 models, nested values updated by path (every client)."""

from __future__ import annotations

import dataclasses

import pydantic
import pytest

import occ
from tests.mongo.conftest import Mongo


@dataclasses.dataclass
class Address:
    city: str
    zip: str


@dataclasses.dataclass
class Customer:
    name: str
    address: Address
    tags: list[str] = dataclasses.field(default_factory=list)
    id: int | None = None
    version: int | None = None


@dataclasses.dataclass(frozen=True)
class Frozen:
    id: str
    label: str
    version: int | None = None


class Place(pydantic.BaseModel):
    city: str
    zip: str


class Shop(pydantic.BaseModel):
    id: str
    name: str
    place: Place
    stock: dict[str, int] = {}
    rev: int | None = None


async def test_dataclass_round_trip_with_nested_dataclass(mongo: Mongo) -> None:
    repo = mongo.repo(Customer)
    created = await repo.insert(Customer("ada", Address("Paris", "75001"), id=1))
    assert created.value == Customer("ada", Address("Paris", "75001"), [], 1, 1)
    snap = await repo.get(1)
    assert isinstance(snap.value.address, Address)
    snap.value.address.city = "Lyon"
    mongo.log.clear()
    saved = await repo.save(snap)
    assert saved.version == 2
    assert saved.value.version == 2
    [(_, command)] = mongo.log.commands
    assert set(command["updates"][0]["u"]["$set"]) == {"address.city", "version"}
    assert set(command["updates"][0]["u"]["$push"]) == {"_occ_tokens"}
    modified = await repo.modify(1, lambda c: dataclasses.replace(c, tags=["vip"]))
    assert modified.value == Customer("ada", Address("Lyon", "75001"), ["vip"], 1, 3)
    assert mongo.raw().find_one({"_id": 1})["address"] == {"city": "Lyon", "zip": "75001"}


async def test_frozen_dataclass_gets_a_copy_with_the_new_version(mongo: Mongo) -> None:
    repo = mongo.repo(Frozen)
    await repo.insert(Frozen("a", "x"))
    result = await repo.modify("a", lambda f: dataclasses.replace(f, label="y"))
    assert result.value == Frozen("a", "y", 2)


async def test_pydantic_model_with_custom_version_field(mongo: Mongo) -> None:
    repo = mongo.repo(Shop, version_field="rev")
    await repo.insert(Shop(id="s1", name="corner", place=Place(city="Oslo", zip="0150")))
    snap = await repo.get("s1")
    assert snap.value.rev == 1
    assert isinstance(snap.value.place, Place)
    snap.value.stock = {"apples": 3}
    snap.value.place.zip = "0151"
    mongo.log.clear()
    saved = await repo.save(snap)
    [(_, command)] = mongo.log.commands
    assert set(command["updates"][0]["u"]["$set"]) == {"stock", "place.zip", "rev"}
    assert set(command["updates"][0]["u"]["$push"]) == {"_occ_tokens"}
    assert saved.value.rev == 2
    updated = await repo.update(
        "s1", {"place": Place(city="Bergen", zip="5003")}, expected_version=2
    )
    assert updated.value.place == Place(city="Bergen", zip="5003")
    assert mongo.raw().find_one({"_id": "s1"})["place"] == {"city": "Bergen", "zip": "5003"}
    with pytest.raises(occ.ValidationError, match="no field"):
        await repo.update("s1", {"colour": "red"}, expected_version=3)


async def test_nested_keys_removed_from_a_dict_are_unset_by_path(mongo: Mongo) -> None:
    repo = mongo.repo()
    await repo.insert({"_id": 1, "meta": {"a": 1, "b": 2}})
    snap = await repo.get(1)
    del snap.value["meta"]["b"]
    snap.value["meta"]["c"] = 3
    mongo.log.clear()
    await repo.save(snap)
    [(_, command)] = mongo.log.commands
    update = command["updates"][0]["u"]
    assert update["$unset"] == {"meta.b": ""}
    assert "meta.c" in update["$set"]
    assert mongo.raw().find_one({"_id": 1})["meta"] == {"a": 1, "c": 3}
