"""occ.testing.databases on real servers: private databases are made, dropped, and cleaned up."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path

import pymongo
import pytest
import sqlalchemy as sa

from occ.testing import _mongo_admin, _sql_admin
from occ.testing.databases import (
    DatabaseUnavailableError,
    PrivateDatabases,
    created_at,
    drop_stale_databases,
    private_database,
    private_name,
    unreachable,
)
from tests.backends import MARIADB, POSTGRESQL, Backend, SuiteDatabases

#: a prefix of this run's own: neither the suite's cleanup (prefix occ_t_) nor a
#: concurrent run of this module ever matches it.
PREFIX = f"occ_tstale_{secrets.token_hex(3)}_"
LONG_AGO = dt.datetime(2000, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.fixture(params=["mariadb", "postgresql", "mongodb"])
def server(request: pytest.FixtureRequest, private_databases: SuiteDatabases) -> str:
    """A server URL (the database it names is not the point)."""
    if request.param == "mongodb":
        uri: str = request.getfixturevalue("mongodb_uri")
        return uri
    backend = {"mariadb": MARIADB, "postgresql": POSTGRESQL}[request.param]
    private_databases.require(backend)  # skip or fail like every test when the server is down
    return backend.url


def _names(url: str) -> Callable[[], set[str]]:
    admin = _mongo_admin if url.startswith("mongodb") else _sql_admin
    return lambda: set(admin.list_names(url))


def _database_of(url: str) -> str:
    if url.startswith("mongodb"):
        return str(pymongo.uri_parser.parse_uri(url)["database"])
    return sa.make_url(url).database or ""


def _make(server: str, name: str) -> None:
    """Create database ``name`` (MongoDB creates one on its first write)."""
    if server.startswith("mongodb"):
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(server)
        client[name]["t"].insert_one({"_id": 1})
        client.close()
    else:
        _sql_admin.create(server, name)


def test_private_name_carries_its_creation_time() -> None:
    name = private_name(PREFIX, now=LONG_AGO)
    assert name.startswith(f"{PREFIX}20000102_030405_")
    assert created_at(name, "occ_tstale_") is None  # another prefix's name is not ours
    assert created_at(name, PREFIX) == LONG_AGO
    assert created_at(name) is None  # not of the default prefix
    assert created_at(f"{PREFIX}20000102_030405", PREFIX) is None  # no random part
    assert private_name() != private_name()
    with pytest.raises(ValueError, match="prefix"):
        private_name("x; DROP DATABASE test; --")


def test_private_database_is_created_then_dropped(server: str) -> None:
    names = _names(server)
    with private_database(server, prefix=PREFIX) as url:
        assert unreachable(url) is None
        if server.startswith("mongodb"):
            client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(url)
            name = client.get_default_database().name
            client[name]["t"].insert_one({"_id": 1})
            client.close()
        else:
            name = sa.make_url(url).database or ""
        assert created_at(name, PREFIX) is not None
        assert name in names()
    assert name not in names()


def test_only_stale_databases_of_the_prefix_are_dropped(server: str) -> None:
    names = _names(server)
    admin = _mongo_admin if server.startswith("mongodb") else _sql_admin
    stale = private_name(PREFIX, now=LONG_AGO)
    foreign = f"{PREFIX}not_a_stamp"
    for name in (stale, foreign):
        _make(server, name)
    try:
        with private_database(server, prefix=PREFIX) as url:  # drops leftovers first
            assert stale not in names()
            live = private_name(PREFIX)
            _make(server, live)
            try:
                assert drop_stale_databases(server, PREFIX) == []
                assert {live, foreign} <= names()
                assert unreachable(url) is None
            finally:
                admin.drop(server, live)
    finally:
        for name in (stale, foreign):
            admin.drop(server, name)


def test_a_server_that_is_down_is_reported_not_hidden() -> None:
    for url in ("mysql+pymysql://root@127.0.0.1:1/x", "mongodb://127.0.0.1:1/"):
        assert unreachable(url) is not None
        with pytest.raises(DatabaseUnavailableError) as caught, private_database(url):
            pass
        assert "127.0.0.1:1" in str(caught.value)


def test_sqlite_private_database_is_a_new_file_removed_at_the_end(tmp_path: Path) -> None:
    named = tmp_path / "dev.db"
    with private_database(f"sqlite:///{named}") as url:
        path = Path(sa.make_url(url).database or "")
        assert path != named
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER)"))
        engine.dispose()
        assert path.exists()
    assert not path.exists()
    assert not named.exists()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017/run"),
        ("mongodb://h:1/app?replicaSet=rs", "mongodb://h:1/run?replicaSet=rs"),
        ("mongodb://u:p@h/", "mongodb://u:p@h/run?authSource=admin"),
        ("mongodb://u:p@h/app?w=1", "mongodb://u:p@h/run?w=1&authSource=app"),
        ("mongodb://u:p@h/app?authSource=x", "mongodb://u:p@h/run?authSource=x"),
        (
            "mongodb://u:p@h/?authMechanism=PLAIN",
            "mongodb://u:p@h/run?authMechanism=PLAIN&authSource=%24external",
        ),
        (
            "mongodb://CN%3Dme@h/app?authMechanism=MONGODB-X509&tls=true",
            "mongodb://CN%3Dme@h/run?authMechanism=MONGODB-X509&tls=true",
        ),
    ],
)
def test_mongodb_private_uri_authenticates_where_the_original_did(uri: str, expected: str) -> None:
    assert _mongo_admin.with_database(uri, "run") == expected


@pytest.mark.parametrize("backend", [MARIADB, POSTGRESQL], ids=lambda b: b.name)
def test_the_database_a_server_url_names_need_not_exist(
    backend: Backend, private_databases: SuiteDatabases
) -> None:
    private_databases.require(backend)
    missing = _sql_admin.with_database(backend.url, "occ_no_such_database")
    assert unreachable(missing) is not None
    with private_database(missing, prefix=PREFIX) as url:
        assert unreachable(url) is None


def test_private_databases_make_one_per_server_and_drop_them_all(server: str) -> None:
    names = _names(server)
    with PrivateDatabases(prefix=PREFIX) as made:
        url = made.url(server)
        assert made.url(server) == url
        name = _database_of(url)
        if server.startswith("mongodb"):
            _make(url, name)
        assert name in names()
    assert name not in names()


def test_private_databases_report_a_server_that_is_down_every_time() -> None:
    with PrivateDatabases(prefix=PREFIX) as made:
        for _ in range(2):
            with pytest.raises(DatabaseUnavailableError, match=r"127\.0\.0\.1:1"):
                made.url("postgresql+psycopg://postgres@127.0.0.1:1/x")
