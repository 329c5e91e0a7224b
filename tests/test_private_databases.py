"""Concurrent runs never share a database: every URL the suite hands out names this run's own."""

from __future__ import annotations

import datetime as dt

import pymongo
import sqlalchemy as sa

from occ.testing.databases import STALE_AFTER, created_at
from tests.backends import MARIADB, POSTGRESQL, Backend

SERVER_DATABASES = {sa.make_url(b.url).database for b in (MARIADB, POSTGRESQL)}
CURRENT = {"mariadb": "SELECT DATABASE()", "postgresql": "SELECT current_database()"}


def _is_this_runs(name: str) -> bool:
    born = created_at(name)
    return born is not None and dt.datetime.now(dt.UTC) - born < STALE_AFTER


def test_sql_backends_run_on_a_private_database_that_exists(backend: Backend) -> None:
    if backend.name == "sqlite":
        assert sa.make_url(backend.url).database not in (None, "", ":memory:")
        return
    name = sa.make_url(backend.url).database
    assert name is not None
    assert name not in SERVER_DATABASES | {"test", "occ_bench"}
    assert _is_this_runs(name), name
    assert sa.make_url(backend.async_url).database == name
    engine = sa.create_engine(backend.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text(CURRENT[backend.name])).scalar() == name
    finally:
        engine.dispose()


def test_mongodb_uri_names_a_private_database(mongodb_uri: str) -> None:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongodb_uri)
    try:
        name = client.get_default_database().name
        assert _is_this_runs(name), name
        client.get_default_database()["probe"].insert_one({"_id": 1})
        assert name in client.list_database_names()
    finally:
        client.get_default_database().drop_collection("probe")
        client.close()
