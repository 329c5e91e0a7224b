"""``occ conflicts list | show | resolve`` through the real entry point, over real stores."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa

import occ
import occ.mongo
import occ.sql
from occ import resolvers
from occ.conflicts.mongo import ConflictStore as MongoConflictStore
from occ.conflicts.sql import ConflictStore
from tests.cli.run import assert_one_line_error
from tests.cli.run import occ as run_occ

ACCOUNT = sa.Table(
    "account",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner", sa.String(40), nullable=False),
    sa.Column("balance", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer),
)


def stale_write(repo: Any, key: Any) -> None:
    """They change the balance; my stale write of the owner is alerted and discarded."""
    mine = repo.get(key)
    theirs = repo.get(key)
    repo.update(key, {"balance": 150}, expected_version=theirs.version)
    repo.update(key, {"owner": "ada l."}, expected_version=mine.version, base=mine.base)


@pytest.fixture
def sql_store(tmp_path: Path) -> Iterator[tuple[str, sa.Engine]]:
    """A SQLite file with an account row and one pending conflict on it."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = sa.create_engine(url)
    ACCOUNT.create(engine)
    store = ConflictStore(engine)
    store.create()
    repo = occ.sql.Repository(
        engine, ACCOUNT, policy=resolvers.Alert(store, then=resolvers.Discard())
    )
    repo.insert({"id": 1, "owner": "ada", "balance": 100})
    stale_write(repo, 1)
    yield url, engine
    occ.sql.dispose(engine)


def only_id(url: str) -> str:
    out = run_occ("conflicts", "list", "--url", url, "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert len(listed) == 1
    return str(listed[0]["id"])


def account(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(ACCOUNT)).mappings().one())


def test_list_show_and_resolve_mine_writes_my_change_at_the_stored_version(
    sql_store: tuple[str, sa.Engine],
) -> None:
    url, engine = sql_store
    cid = only_id(url)
    listed = run_occ("conflicts", "list", "--url", url)
    assert cid in listed.stdout
    assert "pending" in listed.stdout
    shown = run_occ("conflicts", "show", cid, "--url", url)
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line.split() for line in shown.stdout.splitlines() if line.strip()}
    assert lines["owner"][1:] == ['"ada"', '"ada', 'l."', '"ada"', "mine"]
    assert lines["balance"][1:] == ["100", "100", "150", "theirs"]
    assert account(engine)["owner"] == "ada"
    out = run_occ("conflicts", "resolve", cid, "--url", url, "--take", "mine")
    assert out.returncode == 0, out.stderr
    assert "took mine" in out.stdout
    assert account(engine) == {"id": 1, "owner": "ada l.", "balance": 150, "version": 3}
    data = json.loads(run_occ("conflicts", "show", cid, "--url", url, "--json").stdout)
    assert (data["status"], data["resolution"]) == ("resolved", "mine")


def test_resolve_mine_after_the_row_moved_writes_nothing_and_stays_open(
    sql_store: tuple[str, sa.Engine],
) -> None:
    url, engine = sql_store
    cid = only_id(url)
    occ.sql.Repository(engine, ACCOUNT).update(1, {"balance": 0}, expected_version=2)
    before = account(engine)
    out = run_occ("conflicts", "resolve", cid, "--url", url, "--take", "mine")
    assert out.returncode == 1
    assert "moved since the conflict" in out.stderr
    assert "Traceback" not in out.stderr
    assert account(engine) == before
    status = json.loads(run_occ("conflicts", "show", cid, "--url", url, "--json").stdout)
    assert status["status"] == "pending"
    theirs = run_occ("conflicts", "resolve", cid, "--url", url, "--take", "theirs")
    assert theirs.returncode == 0, theirs.stderr
    assert account(engine) == before


def test_unknown_conflict_id_is_one_line_and_nonzero(sql_store: tuple[str, sa.Engine]) -> None:
    url, engine = sql_store
    for verb in (["show", "nope"], ["resolve", "nope", "--take", "mine"]):
        out = run_occ("conflicts", *verb, "--url", url)
        assert_one_line_error(out, "occ conflicts:", "no conflict with id 'nope'")
    assert account(engine)["version"] == 2


def test_url_from_the_environment(sql_store: tuple[str, sa.Engine]) -> None:
    url, _ = sql_store
    out = run_occ("conflicts", "list", "--json", env={"OCC_CONFLICTS_URL": url})
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 1


def test_entity_table_without_version_column_is_refused_before_writing(
    sql_store: tuple[str, sa.Engine], tmp_path: Path
) -> None:
    url, engine = sql_store
    cid = only_id(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE plain (id INTEGER PRIMARY KEY, owner TEXT)"))
    out = run_occ("conflicts", "resolve", cid, "--url", url, "--take", "mine", "--table", "plain")
    assert_one_line_error(out, "has no version column 'version'")
    status = json.loads(run_occ("conflicts", "show", cid, "--url", url, "--json").stdout)
    assert status["status"] == "pending"


def test_missing_store_or_url_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    out = run_occ("conflicts", "list", "--url", f"sqlite:///{path}")
    assert_one_line_error(out, "no conflict store: table 'occ_conflicts' does not exist")
    assert path.stat().st_size == 0
    out = run_occ("conflicts", "list", env={"OCC_CONFLICTS_URL": ""})
    assert_one_line_error(out, "pass --url URL or set OCC_CONFLICTS_URL")
    assert_one_line_error(run_occ("conflicts", "list", "--url", "redis://x"), "unsupported")


def test_conflicts_in_a_mongodb_store(mongodb_uri: str) -> None:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_uri)
    db = client.get_default_database()
    for name in ("accounts", "occ_conflicts"):
        db.drop_collection(name)
    store = MongoConflictStore(db["occ_conflicts"])
    store.create()
    repo: occ.mongo.Repository[dict[str, Any]] = occ.mongo.Repository(
        db["accounts"], policy=resolvers.Alert(store, then=resolvers.Discard())
    )
    repo.insert({"_id": "a1", "owner": "ada", "balance": 100})
    stale_write(repo, "a1")
    try:
        listed = json.loads(run_occ("conflicts", "list", "--url", mongodb_uri, "--json").stdout)
        assert [c["entity"] for c in listed] == ["accounts"]
        cid = listed[0]["id"]
        shown = run_occ("conflicts", "show", cid, "--url", mongodb_uri)
        assert "owner" in shown.stdout
        out = run_occ("conflicts", "resolve", cid, "--url", mongodb_uri, "--take", "mine")
        assert out.returncode == 0, out.stderr
        stored = repo.get("a1")
        assert (stored.value["owner"], stored.value["balance"]) == ("ada l.", 150)
    finally:
        for name in ("accounts", "occ_conflicts"):
            db.drop_collection(name)
        client.close()
