"""occ_repository never touches the database it is pointed at: it works in a scratch database.

Proved from a separate temporary project (occ's plugin auto-loaded, as in any
user's project) run with ``--occ-backend`` pointed at a database that holds
seeded tables of the same names as the project's models: they survive untouched.
"""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa

from occ.testing._scratch import NotOwnedError, Scratch
from tests.backends import Backend
from tests.testing.project import run_pytest, write_project

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

metadata = sa.MetaData()
counters = sa.Table(
    "occ_seeded_counters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("token", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer),
)


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "occ_seeded_accounts"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int | None] = mapped_column()
"""
TESTS = """
from models import Account, counters
from occ.testing import Schedule, counter_workload, run_schedule


def test_counter_table(occ_repository):
    repo = occ_repository(counters)
    workload = counter_workload(repo, new=lambda key: {"id": key, "count": 0, "token": ""})
    run = run_schedule(workload, Schedule(plans=((0,), (0,)), order=(0, 1)), keys=[1])
    assert run.check().committed == 2
    assert run.final[1].values["count"] == 2  # a fresh table: the seeded 41 is not here


def test_mapped_class(occ_repository):
    repo = occ_repository(Account)
    repo.insert(Account(id=1, owner="fixture"))
    assert repo.get(1).value.owner == "fixture"
"""
SEEDED_COUNTER = {"id": 1, "count": 41, "token": "seed", "version": 7}
SEEDED_ACCOUNT = {"id": 1, "owner": "seeded", "version": 3}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", {"models.py": MODELS, "test_models.py": TESTS})


@pytest.fixture
def models(project: Path) -> dict[str, Any]:
    return runpy.run_path(str(project / "models.py"))


@pytest.fixture
def seeded(engine: sa.Engine, models: dict[str, Any]) -> Iterator[sa.Engine]:
    """The development database: the project's tables, created and seeded outside the fixture."""
    counters, accounts = models["counters"], models["Account"].__table__
    for table in (counters, accounts):
        table.create(engine)
    with engine.begin() as conn:
        conn.execute(counters.insert(), [SEEDED_COUNTER])
        conn.execute(accounts.insert(), [SEEDED_ACCOUNT])
    yield engine
    for table in (counters, accounts):
        table.drop(engine, checkfirst=True)


def rows(engine: sa.Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table))]


def test_seeded_tables_of_the_same_names_survive_the_fixture(
    backend: Backend, seeded: sa.Engine, project: Path, models: dict[str, Any]
) -> None:
    before = set(sa.inspect(seeded).get_table_names())
    out = run_pytest(project, "--occ-backend", backend.url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
    assert rows(seeded, models["counters"]) == [SEEDED_COUNTER]
    assert rows(seeded, models["Account"].__table__) == [SEEDED_ACCOUNT]
    assert set(sa.inspect(seeded).get_table_names()) == before


def test_a_seeded_collection_of_the_same_name_survives_the_fixture(
    mongodb_uri: str, project: Path
) -> None:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_uri)
    seeded = client.get_default_database()["occ_seeded_counters"]
    seeded.insert_one({"_id": 1, "count": 41, "token": "seed", "version": 7})
    try:
        for backend in (mongodb_uri, "mongodb"):  # a named server, and the emulator launcher
            out = run_pytest(project, "--occ-backend", backend)
            assert out.returncode == 0, out.stdout + out.stderr
            assert "1 passed, 1 skipped" in out.stdout  # a mapped class is not a document
            assert list(seeded.find()) == [{"_id": 1, "count": 41, "token": "seed", "version": 7}]
    finally:
        seeded.drop()
        client.close()


def test_an_existing_table_is_refused_and_left_untouched(
    seeded: sa.Engine, models: dict[str, Any]
) -> None:
    """Where the scratch database already holds a table it did not create, nothing is dropped."""
    scratch = Scratch()
    url = seeded.url.render_as_string(hide_password=False)
    with pytest.raises(NotOwnedError, match=r"occ_seeded_counters.*did not create it"):
        scratch.create_tables(url, models["counters"])
    scratch.close()
    assert rows(seeded, models["counters"]) == [SEEDED_COUNTER]


def test_a_table_with_an_explicit_schema_is_refused(engine: sa.Engine) -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), schema="x")
    scratch = Scratch()
    with pytest.raises(NotOwnedError, match="schema 'x'"):
        scratch.create_tables(engine.url.render_as_string(hide_password=False), table)
    scratch.close()
