"""The fault proxy against the real servers: what it drops is really lost, or really applied."""

from __future__ import annotations

import socket
import time
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa
from pymongo.errors import ConnectionFailure
from sqlalchemy.ext.asyncio import create_async_engine

from tests.backends import POSTGRESQL
from tests.faults import Proxy, command
from tests.faults.conftest import Probe
from tests.faults.plugin import Proxies

AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def autocommit(engine: sa.Engine) -> sa.Connection:
    return engine.connect().execution_options(**AUTOCOMMIT)


def test_dropped_reply_leaves_the_write_applied_and_the_client_cut_off(
    probe: Probe, proxies: Proxies
) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    with autocommit(engine) as conn:
        probe.bump(conn)
        proxy.arm(probe.pattern, "drop_reply")
        with pytest.raises(sa.exc.OperationalError):
            probe.bump(conn)
    assert (proxy.dropped_replies, proxy.dropped_requests) == (1, 0)
    assert probe.n() == 2  # the server executed (and committed) what the client never heard of
    with autocommit(engine) as conn:  # the proxy goes on forwarding
        probe.bump(conn)
    assert probe.n() == 3
    engine.dispose()


def test_dropped_request_never_reaches_the_server(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    proxy.arm(probe.pattern, "drop_request")
    with autocommit(engine) as conn, pytest.raises(sa.exc.OperationalError):
        probe.bump(conn)
    assert (proxy.dropped_replies, proxy.dropped_requests) == (0, 1)
    assert probe.n() == 0
    engine.dispose()


def test_dropped_reply_inside_a_transaction_rolls_it_back(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    proxy.arm(probe.pattern, "drop_reply")
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
        probe.bump(conn)  # executed in a transaction the cut ends uncommitted
    assert proxy.dropped_replies == 1
    assert probe.n() == 0
    engine.dispose()


#: a COMMIT statement alone (bare b"COMMIT" also matches PyMySQL's "SET AUTOCOMMIT = 0"):
#: MySQL's COM_QUERY byte before it, PostgreSQL's NUL after its simple-query text.
COMMIT = {"mariadb": b"\x03COMMIT", "postgresql": b"COMMIT\x00"}


def test_dropped_reply_to_commit_leaves_the_transaction_committed(
    probe: Probe, proxies: Proxies
) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    proxy.arm(COMMIT[probe.backend.name], "drop_reply")
    with engine.connect() as conn:
        probe.bump(conn)
        with pytest.raises(sa.exc.OperationalError):
            conn.commit()
    assert proxy.dropped_replies == 1
    assert probe.n() == 1
    engine.dispose()


def test_delay_holds_the_request_once_then_forwards_it(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    with autocommit(engine) as conn:
        probe.bump(conn)  # connect and warm up
        proxy.arm(probe.pattern, "delay", seconds=0.6)
        began = time.monotonic()
        probe.bump(conn)
        held = time.monotonic() - began
        began = time.monotonic()
        probe.bump(conn)
        after = time.monotonic() - began
    assert held >= 0.6
    assert after < 0.5
    assert (proxy.delayed, proxy.dropped_replies, proxy.dropped_requests) == (1, 0, 0)
    assert probe.n() == 3
    engine.dispose()


def test_count_acts_on_that_many_matching_statements_only(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    proxy.arm(probe.pattern, "drop_request", count=2)
    failed = 0
    for _ in range(4):
        with autocommit(engine) as conn:
            conn.execute(sa.text("SELECT 1"))  # not matched
            try:
                probe.bump(conn)
            except sa.exc.OperationalError:
                failed += 1
    assert failed == proxy.dropped_requests == 2
    assert not proxy.armed
    assert probe.n() == 2
    engine.dispose()


@pytest.mark.parametrize("server", [POSTGRESQL], ids=["postgresql"], indirect=True)
def test_a_prepared_postgresql_statement_is_matched_by_the_text_it_was_parsed_with(
    probe: Probe, proxies: Proxies
) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    with autocommit(engine) as conn:
        for _ in range(8):  # psycopg prepares a statement after 5 executions
            probe.bump(conn)
        prepared = conn.execute(
            sa.text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'UPDATE%'")
        ).scalar_one()
        assert prepared == 1  # from now on only Bind names the statement
        proxy.arm(probe.pattern, "drop_request")
        with pytest.raises(sa.exc.OperationalError):
            probe.bump(conn)
    assert proxy.dropped_requests == 1
    assert probe.n() == 8
    engine.dispose()


async def test_async_drivers_lose_the_reply_the_same_way(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url)
    engine = create_async_engine(proxy.url(probe.backend.async_url))
    async with engine.connect() as conn:
        conn = await conn.execution_options(**AUTOCOMMIT)
        await conn.execute(sa.text("SELECT 1"))
        proxy.arm(probe.pattern, "drop_reply")
        with pytest.raises(sa.exc.OperationalError):
            await conn.execute(sa.text(f"UPDATE {probe.name} SET n = n + 1 WHERE id = 1"))
    await engine.dispose()
    assert proxy.dropped_replies == 1
    assert probe.n() == 1


def _random_run(probe: Probe, proxy: Proxy, statements: int) -> list[bool]:
    engine = probe.engine(proxy.url(probe.backend.url))
    failed = []
    for _ in range(statements):
        with autocommit(engine) as conn:
            try:
                probe.bump(conn)
            except sa.exc.OperationalError:
                failed.append(True)
            else:
                failed.append(False)
    engine.dispose()
    return failed


def test_random_faults_respect_their_limit_and_replay_from_their_seed(
    probe: Probe, proxies: Proxies
) -> None:
    runs = []
    for _ in range(2):
        proxy = proxies(probe.backend.url)
        proxy.arm_random(probe.pattern, 0.5, seed=7, limit=3, modes=("drop_request",))
        runs.append((_random_run(probe, proxy, 16), [f.match for f in proxy.faults]))
        assert proxy.dropped_requests == sum(runs[-1][0]) == 3  # the limit, not more
        assert not proxy.armed
    assert runs[0] == runs[1]  # same seed, same requests hit
    assert probe.n() == 2 * (16 - 3)


def test_random_faults_with_probability_zero_never_fire(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url)
    proxy.arm_random(probe.pattern, 0.0, seed=1, limit=5)
    assert _random_run(probe, proxy, 5) == [False] * 5
    assert proxy.faults == []


def test_close_cuts_every_connection_and_ends_every_thread(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url)
    engine = probe.engine(proxy.url(probe.backend.url))
    with autocommit(engine) as conn:
        probe.bump(conn)
        assert proxy.active == 1
        proxy.close()
        assert proxy.alive_threads() == 0
        with pytest.raises(sa.exc.OperationalError):
            probe.bump(conn)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), 2).close()
    engine.dispose()


def test_connections_beyond_the_bound_are_refused(probe: Probe, proxies: Proxies) -> None:
    proxy = proxies(probe.backend.url, max_connections=2)
    engine = probe.engine(proxy.url(probe.backend.url))
    first, second = engine.connect(), engine.connect()
    first.execute(sa.text("SELECT 1"))
    second.execute(sa.text("SELECT 1"))
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()
    assert proxy.refused == 1
    assert proxy.cut_all() == 2
    for conn in (first, second):
        with pytest.raises(sa.exc.OperationalError):
            conn.execute(sa.text("SELECT 1"))
        conn.close()
    engine.dispose()


def test_urls_point_at_the_proxy_with_what_fault_injection_needs(proxies: Proxies) -> None:
    proxy = Proxy("127.0.0.1", 1)
    try:
        port = proxy.port
        assert proxy.url("mysql+pymysql://root:pw@db.example:3306/occ?charset=utf8mb4") == (
            f"mysql+pymysql://root:pw@127.0.0.1:{port}/occ?charset=utf8mb4"
        )
        assert proxy.url("postgresql+psycopg://postgres@127.0.0.1:5432/occ") == (
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/occ?sslmode=disable"
        )
        assert proxy.url("mongodb://u:p@h1:27017,h2:27018/db?replicaSet=rs") == (
            f"mongodb://u:p@127.0.0.1:{port}/db?replicaSet=rs&directConnection=true"
            "&retryWrites=false"
        )
        with pytest.raises(ValueError, match="sqlite"):
            proxy.url("sqlite:///x.db")
        with pytest.raises(ValueError, match="mode"):
            proxy.arm(b"x", "explode")  # type: ignore[arg-type]
    finally:
        proxy.close()
    assert proxy.alive_threads() == 0


# -- MongoDB -----------------------------------------------------------------


def _mongo(uri: str) -> pymongo.MongoClient[dict[str, Any]]:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000, socketTimeoutMS=15000)


@pytest.fixture
def mongo_coll(mongodb_uri: str) -> Any:
    client = _mongo(mongodb_uri)
    coll = client["occ_test_faults"][f"probe_{time.monotonic_ns()}"]
    coll.insert_one({"_id": 1, "n": 0})
    yield coll
    coll.drop()
    client.close()


@pytest.mark.parametrize(("mode", "applied"), [("drop_reply", 1), ("drop_request", 0)])
def test_mongo_command_dropped_either_side_of_the_server(
    mongo_proxy: Proxy, mongodb_uri: str, mongo_coll: Any, mode: Any, applied: int
) -> None:
    client = _mongo(mongo_proxy.url(mongodb_uri))
    coll = client[mongo_coll.database.name][mongo_coll.name]
    assert coll.find_one({"_id": 1}) is not None  # connected, before arming
    mongo_proxy.arm(command("findAndModify"), mode)
    with pytest.raises(ConnectionFailure):
        coll.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}})
    assert mongo_coll.find_one({"_id": 1})["n"] == applied
    assert (mongo_proxy.dropped_replies, mongo_proxy.dropped_requests) == (applied, 1 - applied)
    coll.update_one({"_id": 1}, {"$inc": {"n": 10}})  # the client reconnects through the proxy
    assert mongo_coll.find_one({"_id": 1})["n"] == applied + 10
    client.close()


def test_mongo_command_pattern_does_not_match_a_field_of_the_same_name(
    mongo_proxy: Proxy, mongodb_uri: str, mongo_coll: Any
) -> None:
    client = _mongo(mongo_proxy.url(mongodb_uri))
    coll = client[mongo_coll.database.name][mongo_coll.name]
    mongo_proxy.arm(command("update"), "delay", seconds=0.5)
    coll.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}})  # has an "update" field
    assert mongo_proxy.delayed == 0
    began = time.monotonic()
    coll.update_one({"_id": 1}, {"$inc": {"n": 1}})
    assert time.monotonic() - began >= 0.5
    assert mongo_proxy.delayed == 1
    assert mongo_coll.find_one({"_id": 1})["n"] == 2
    client.close()
