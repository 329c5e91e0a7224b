"""``occ conflicts resolve`` on every SQL backend: JSON, dates, decimals, enums, legacy JSON text.

The CLI knows the entity's table only by reflection (MariaDB reports JSON as
LONGTEXT; an enum may be a VARCHAR), yet every value it writes must be the
one the application's model held, and what it cannot write exactly it refuses
before writing anything.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import occ.sql
from occ import resolvers
from occ.conflicts.sql import ConflictStore
from tests.backends import MARIADB, SQLITE, Backend
from tests.cli.run import assert_one_line_error
from tests.cli.run import occ as run_occ
from tests.conflicts.values import Colour, same

pytestmark = pytest.mark.timeout(240)

NAME = "occ_t9_profile"
STORE = "occ_t9_conflicts"


def columns(legacy: Any) -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("doc", sa.JSON),
        sa.Column("born", sa.Date),
        sa.Column("seen", sa.DateTime),
        sa.Column("amount", sa.Numeric(10, 2)),
        sa.Column("colour", sa.Enum(Colour)),
        sa.Column("legacy", legacy),  # JSON kept in a plain text column
        sa.Column("version", sa.Integer),
    ]


#: what the application maps; the table itself is created with ``legacy`` as plain text.
APP = sa.Table(NAME, sa.MetaData(), *columns(sa.JSON))
DDL = sa.Table(NAME, sa.MetaData(), *columns(sa.Text))
#: psycopg parses JSON by column type, so ``sa.JSON`` over a text column does not read back
#: what it wrote: no application on PostgreSQL keeps JSON in text. There it is a JSON column.
PG_DDL = sa.Table(NAME, sa.MetaData(), *columns(sa.JSON))

THEIRS = {
    "doc": {"a": 1},
    "born": dt.date(1990, 5, 17),
    "seen": dt.datetime(2024, 1, 2, 3, 4, 5),
    "amount": decimal.Decimal("10.50"),
    "colour": Colour.RED,
    "legacy": "a JSON string",
}
MINE = {
    "doc": {"$date": "2020-01-01", "list": [1, 2.5, None, {"$set": [1, 2]}]},
    "born": dt.date(1991, 6, 18),
    "seen": dt.datetime(2025, 2, 3, 4, 5, 6),
    "amount": decimal.Decimal("12.34"),
    "colour": Colour.GREEN,
    "legacy": "another string",
}


@pytest.fixture
def app(engine: sa.Engine, backend: Backend) -> Iterator[tuple[str, occ.sql.Repository[Any]]]:
    """The profile table with a row, a store with a pending conflict on it; the URL."""
    ddl = PG_DDL if backend.name == "postgresql" else DDL
    ddl.drop(engine, checkfirst=True)
    ddl.create(engine)
    store = ConflictStore(engine, STORE)
    store.drop()
    store.create()
    repo = occ.sql.Repository(engine, APP, policy=resolvers.Alert(store, then=resolvers.Discard()))
    repo.insert({"id": 1, **THEIRS})
    yield backend.url, repo
    ddl.drop(engine, checkfirst=True)
    store.drop()


def stale_write(repo: occ.sql.Repository[Any], changes: dict[str, Any]) -> None:
    """Someone writes the same row first; my write of ``changes`` is alerted and discarded."""
    mine = repo.get(1)
    repo.update(1, {"born": mine.value["born"]}, expected_version=mine.version)
    done = repo.update(1, changes, expected_version=mine.version, base=mine.base)
    assert done.outcome == "discarded"


def conflict_ids(url: str) -> list[str]:
    out = run_occ("conflicts", "list", "--url", url, "--store", STORE, "--json")
    assert out.returncode == 0, out.stderr
    return [c["id"] for c in json.loads(out.stdout) if c["status"] != "resolved"]


def resolve(url: str, cid: str, *more: str, stdin: str | None = None) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "occ",
            "conflicts",
            "resolve",
            cid,
            "--url",
            url,
            "--store",
            STORE,
            *more,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
    )


def raw_legacy(engine: sa.Engine, key: int = 1) -> Any:
    with engine.connect() as conn:
        found = conn.execute(sa.text(f"SELECT legacy FROM {NAME} WHERE id = {key}"))
        return found.scalar_one()


def test_take_mine_writes_json_dates_decimals_and_enums_exactly(
    app: tuple[str, occ.sql.Repository[Any]], engine: sa.Engine
) -> None:
    url, repo = app
    stale_write(repo, MINE)
    (cid,) = conflict_ids(url)
    out = resolve(url, cid[:7], "--take", "mine")
    assert out.returncode == 0, out.stderr
    stored = repo.get(1)
    for name, value in MINE.items():
        assert same(stored.value[name], value), name
    assert stored.version == 3
    # the text column holds what the application itself writes for that value
    repo.insert({"id": 2, **MINE})
    assert raw_legacy(engine) == raw_legacy(engine, 2)


# Not PostgreSQL: its JSON column is JSON there (see PG_DDL), nothing is ambiguous.
@pytest.mark.parametrize("backend", [SQLITE, MARIADB], indirect=True, ids=["sqlite", "mariadb"])
def test_a_value_the_table_cannot_be_known_to_hold_is_refused_and_nothing_written(
    app: tuple[str, occ.sql.Repository[Any]], engine: sa.Engine
) -> None:
    url, repo = app
    repo.update(1, {"legacy": None}, expected_version=1)
    with engine.begin() as conn:  # SQL NULL, not JSON null: nothing tells the column holds JSON
        conn.execute(sa.text(f"UPDATE {NAME} SET legacy = NULL"))
    stale_write(repo, {"legacy": {"now": "a dict"}})
    (cid,) = conflict_ids(url)
    before = repo.get(1)
    out = resolve(url, cid, "--take", "mine")
    assert_one_line_error(out, f"into {NAME}.legacy", "nothing was written", "--model")
    after = repo.get(1)
    assert (after.version, after.value) == (before.version, before.value)
    assert conflict_ids(url) == [cid]


def test_force_takes_mine_over_the_current_version_only_once_confirmed(
    app: tuple[str, occ.sql.Repository[Any]],
) -> None:
    url, repo = app
    stale_write(repo, {"amount": decimal.Decimal("1.25")})
    (cid,) = conflict_ids(url)
    moved = repo.update(1, {"colour": Colour.GREEN}, expected_version=2)
    stale = resolve(url, cid, "--take", "mine")
    assert stale.returncode == 1
    assert "moved since the conflict" in stale.stderr
    declined = resolve(url, cid, "--take", "mine", "--force", stdin="n\n")
    assert declined.returncode == 1
    assert repo.get(1).version == moved.version
    agreed = resolve(url, cid, "--take", "mine", "--force", stdin="y\n")
    assert agreed.returncode == 0, agreed.stderr
    stored = repo.get(1)
    assert (stored.version, stored.value["amount"]) == (moved.version + 1, decimal.Decimal("1.25"))
    assert stored.value["colour"] is Colour.GREEN  # theirs kept where mine did not change
    shown = json.loads(
        run_occ("conflicts", "show", cid, "--url", url, "--store", STORE, "--json").stdout
    )
    assert shown["resolution"] == "mine"
    assert shown["resolution_detail"]["forced"] is True
    assert shown["resolved_by"].startswith("cli")
