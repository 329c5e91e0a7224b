"""Every repository gives a batch the same per-item outcomes (issue 16): in memory, SQLite,
MariaDB, PostgreSQL and MongoDB run the same batches and must agree item by item.

And a batch whose replies are lost is settled item by item with the write tokens
every batch write stores: applied exactly once, reported written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa

import occ.mongo
import occ.sql
from occ._core.steps import Lost, WriteMany
from occ.resolvers import Overwrite
from occ.testing import InMemoryRepository
from tests.backends import MARIADB, POSTGRESQL, SQLITE, SuiteDatabases
from tests.conftest import make_engine
from tests.sql.models import clear_tombstones

md = sa.MetaData()
table = sa.Table(
    "occ_t16_contract",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False, default=0),
    sa.Column("note", sa.String(40)),
    sa.Column("version", sa.Integer),
    sa.Column("tokens", sa.String(135)),
)
SQL = {"sqlite": SQLITE, "mariadb": MARIADB, "postgresql": POSTGRESQL}
Make = Callable[..., Any]


@pytest.fixture(params=["memory", "sqlite", "mariadb", "postgresql", "mongo"])
def make(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Make]:
    """``make(**options)``: a repository of the kind under test over an empty store."""
    kind: str = request.param
    if kind == "memory":
        store = InMemoryRepository(key="id", name="occ_t16_contract")
        yield lambda **options: _share(store, InMemoryRepository(key="id", **options))
        return
    if kind in SQL:
        databases: SuiteDatabases = request.getfixturevalue("private_databases")
        backend = databases.require(SQL[kind])
        if kind == "sqlite":
            backend = backend.sqlite_file(str(tmp_path))
        engine = make_engine(backend)
        md.drop_all(engine)
        md.create_all(engine)
        clear_tombstones(engine)
        yield lambda **options: occ.sql.Repository(engine, table, token_column="tokens", **options)
        md.drop_all(engine)
        occ.sql.dispose(engine)
        return
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        request.getfixturevalue("mongodb_uri"), retryWrites=False
    )
    coll = client.get_default_database()[f"t16_{id(request)}"]
    yield lambda **options: occ.mongo.Repository(coll, key="id", **options)
    coll.drop()
    client.close()


def _share(first: InMemoryRepository, other: InMemoryRepository) -> InMemoryRepository:
    other._store = first._store  # the same dict, as every SQL repository shares a table
    return other


def outcomes(result: Any) -> list[tuple[str, Any]]:
    return [(item.outcome, item.version) for item in result]


def test_every_repository_gives_the_same_outcome_for_each_item(make: Make) -> None:
    repo = make()
    made = repo.insert_many([{"id": k, "n": 0} for k in (1, 2, 3, 4)] + [{"id": 2}, "junk"])
    assert outcomes(made) == [
        *[("written", 1)] * 4,
        ("invalid", None),
        ("invalid", None),
    ]
    repo.update(2, {"n": 1}, expected_version=1)
    updated = repo.update_many(
        [(1, {"n": 5}, 1), (2, {"n": 5}, 1), (7, {"n": 5}, 1), (3, {"n": 5}, 1.0)]
    )
    assert outcomes(updated) == [
        ("written", 2),
        ("conflict", None),
        ("not_found", None),
        ("invalid", None),
    ]
    assert [v.value["n"] for v in updated.values] == [5]
    snaps = list(repo.get_many([3, 4, 9]))
    snaps[0].value["note"] = "x"
    assert outcomes(repo.save_many(snaps)) == [("written", 2), ("unchanged", 1)]
    deleted = repo.delete_many([(3, 2), (4, 7), (9, 1)])
    assert outcomes(deleted) == [("deleted", 2), ("conflict", None), ("not_found", None)]
    again = repo.insert_many([{"id": 3, "n": 3}])
    assert outcomes(again) == [("written", 3)]  # past the version it was deleted at
    atomic = repo.update_many([(1, {"n": 6}, 2), (2, {"n": 6}, 1)], atomic=True)
    assert outcomes(atomic) == [("aborted", None), ("conflict", None)]
    upserts = make(policy=Overwrite()).upsert_many(
        [{"id": 1, "n": 8}, {"id": 5, "n": 8}, {"id": 2, "n": 8, "version": 2}]
    )
    assert outcomes(upserts) == [("overwritten", 3), ("written", 1), ("written", 3)]
    assert {v.key: (v.value["n"], v.version) for v in repo.get_many([1, 2, 3, 4, 5])} == {
        1: (8, 3),
        2: (8, 3),
        3: (3, 3),
        4: (0, 1),
        5: (8, 1),
    }


# The in-memory store keeps no write tokens: its lost replies are tests/core/test_bulk.py's.
@pytest.mark.parametrize("make", ["sqlite", "mariadb", "postgresql", "mongo"], indirect=True)
def test_a_batch_whose_replies_are_lost_is_applied_once_and_reported_written(
    make: Make,
) -> None:
    repo = make()
    repo.insert_many([{"id": k, "n": 0} for k in range(1, 6)])
    real = repo._write_many
    lost = {2, 4}

    def losing(step: WriteMany) -> list[Any]:
        done = list(real(step))  # the writes really ran; then two replies are lost
        for i, write in enumerate(step.writes):
            if write.key in lost:
                lost.discard(write.key)
                done[i] = Lost()
        return done

    repo._write_many = losing
    result = repo.update_many([(k, {"n": k}, 1) for k in range(1, 6)])
    assert outcomes(result) == [("written", 2)] * 5
    assert {v.key: (v.value["n"], v.version) for v in repo.get_many(range(1, 6))} == {
        k: (k, 2) for k in range(1, 6)
    }


def test_every_repository_class_has_the_many_key_methods() -> None:
    from occ.mongo import AsyncRepository as MongoAsync
    from occ.mongo import Repository as Mongo
    from occ.sql import AsyncRepository, Repository
    from occ.testing import AsyncInMemoryRepository

    methods = {
        *("get_many", "query", "scan", "insert_many", "save_many", "update_many"),
        *("delete_many", "upsert", "upsert_many"),
    }
    for cls in (Repository, AsyncRepository, Mongo, MongoAsync):
        assert methods <= set(dir(cls)), cls
    for cls in (InMemoryRepository, AsyncInMemoryRepository):
        assert methods <= set(dir(cls)), cls
