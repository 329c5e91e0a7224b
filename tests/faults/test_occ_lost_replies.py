"""occ through a TCP proxy that drops replies (and requests): nothing lost, nothing applied twice.

Writers hammer one hot key through repositories whose connections go through
the proxy; the proxy drops a bounded number of replies (the server executed
the write, the client never heard) and requests at random. Every acknowledged
write must be present exactly once, every unknown outcome applied at most
once (the history checker proves both), and the faults must really have
happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa

import occ
import occ.mongo
import occ.sql
from occ.testing import counter_workload, hammer
from tests.backends import MARIADB, Backend
from tests.faults.conftest import CONNECT_ARGS
from tests.faults.proxy import Proxy, command
from tests.sql.models import clear_tombstones

md = sa.MetaData()
hot = sa.Table(
    "occ_t12_proxy",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("occ_tokens", sa.String(135)),
)


def _new(key: Any) -> dict[str, Any]:
    return {"id": key, "count": 0}


@pytest.fixture
def tables(server: Backend) -> Iterator[sa.Engine]:
    """The hot table on the server (MariaDB, PostgreSQL) under test, fresh."""
    direct = sa.create_engine(server.url)
    md.drop_all(direct)
    md.create_all(direct)
    clear_tombstones(direct)
    yield direct
    md.drop_all(direct)
    direct.dispose()


@pytest.mark.parametrize("tokens", [True, False], ids=["tokens", "no-tokens"])
def test_sql_writers_through_lost_replies_lose_nothing_and_apply_nothing_twice(
    server: Backend, tables: sa.Engine, proxies: Any, tokens: bool
) -> None:
    sql_proxy: Proxy = proxies(server.url)
    engine = sa.create_engine(
        sql_proxy.url(server.url), pool_size=6, connect_args=CONNECT_ARGS[server.name]
    )
    try:
        repo: Any = occ.sql.Repository(engine, hot, token_column="occ_tokens" if tokens else None)
        workload = counter_workload(repo, new=_new)
        sql_proxy.arm_random(b"UPDATE occ_t12_proxy", probability=0.3, seed=12, limit=8)
        run = hammer(workload, [1], writers=4, ops=60, seconds=60)
    finally:
        sql_proxy.disarm()
        occ.sql.dispose(engine)
    report = run.check()  # acknowledged writes exactly once; unknown ones at most once
    assert sql_proxy.dropped_replies + sql_proxy.dropped_requests > 0, "no fault was injected"
    assert report.operations == 60
    if tokens:
        # The tokens settle almost every lost reply; without them most stay unknown.
        assert report.unknown <= sql_proxy.dropped_replies


def test_mongo_writers_through_lost_replies_lose_nothing_and_apply_nothing_twice(
    mongo_proxy: Proxy, mongodb_uri: str
) -> None:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        mongo_proxy.url(mongodb_uri), serverSelectionTimeoutMS=5000, socketTimeoutMS=15000
    )
    coll = client.get_default_database(default="occ_test")["lost_replies"]
    coll.drop()
    try:
        repo: Any = occ.mongo.Repository(coll, key="id")
        workload = counter_workload(repo, new=_new)
        mongo_proxy.arm_random(command("update"), probability=0.3, seed=12, limit=8)
        run = hammer(workload, [1], writers=4, ops=60, seconds=60)
        mongo_proxy.disarm()
        report = run.check()
        assert mongo_proxy.dropped_replies + mongo_proxy.dropped_requests > 0
        assert report.operations == 60
        assert report.unknown <= mongo_proxy.dropped_replies
    finally:
        coll.drop()
        client.close()


@pytest.mark.parametrize("server", [MARIADB], indirect=True, ids=["mariadb"])
def test_a_lost_reply_to_mysql_update_commit_is_recognised_as_applied(
    server: Backend, tables: sa.Engine, proxies: Any
) -> None:
    # MySQL/MariaDB run update() as UPDATE + read + COMMIT: the COMMIT's reply is lost.
    sql_proxy: Proxy = proxies(server.url)
    engine = sa.create_engine(sql_proxy.url(server.url), connect_args=CONNECT_ARGS["mariadb"])
    try:
        repo: Any = occ.sql.Repository(engine, hot, token_column="occ_tokens")
        repo.insert({"id": 1, "count": 0})
        sql_proxy.arm(b"\x03COMMIT", "drop_reply")
        result = repo.update(1, {"count": 5}, expected_version=1)
    finally:
        occ.sql.dispose(engine)
    assert sql_proxy.dropped_replies == 1
    assert (result.version, result.value["count"]) == (2, 5)
    with tables.connect() as conn:
        assert conn.execute(sa.select(hot.c.count, hot.c.version)).one() == (5, 2)
