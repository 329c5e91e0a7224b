"""A write whose connection dropped recognises by its token whether it applied (every client).

The connection is really cut (by a TCP proxy), with retryable writes off so
the driver reports the unknown outcome to occ instead of retrying itself.
"""

from __future__ import annotations

import pytest

from occ import Versioned
from tests.mongo.conftest import Mongo
from tests.mongo.proxy import Proxy


async def test_update_whose_reply_was_lost_is_recognised_as_applied(
    cut: tuple[Mongo, Proxy],
) -> None:
    mongo, proxy = cut
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    proxy.arm("findAndModify", "drop_reply")
    updated = await repo.update(1, {"n": 1}, expected_version=1)
    assert proxy.cut == 1
    assert (updated.version, updated.value["n"]) == (2, 1)
    assert mongo.raw().find_one({"_id": 1})["version"] == 2


async def test_update_that_never_arrived_is_sent_again(cut: tuple[Mongo, Proxy]) -> None:
    mongo, proxy = cut
    repo = mongo.repo()
    await repo.insert({"_id": 1, "n": 0})
    proxy.arm("findAndModify", "drop_request")
    updated = await repo.update(1, {"n": 1}, expected_version=1)
    assert proxy.cut == 1
    assert (updated.version, updated.value["n"]) == (2, 1)
    assert mongo.raw().find_one({"_id": 1})["version"] == 2


@pytest.mark.parametrize("mode", ["drop_reply", "drop_request"])
async def test_insert_save_and_delete_survive_a_cut_connection(
    cut: tuple[Mongo, Proxy], mode: str
) -> None:
    mongo, proxy = cut
    repo = mongo.repo()
    proxy.arm("insert", mode)
    created = await repo.insert({"_id": 1, "n": 0})
    assert created.version == 1
    proxy.arm("update", mode)
    saved = await repo.save(Versioned({"_id": 1, "n": 5}, 1, 1))
    assert saved.version == 2
    proxy.arm("delete", mode)
    await repo.delete(1, expected_version=2)
    assert proxy.cut == 3
    assert mongo.raw().count_documents({}) == 0
    assert mongo.collection().database.name == mongo.raw().database.name
