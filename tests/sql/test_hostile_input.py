"""Odd and hostile input: a clear occ error and nothing written, or, for rows occ can read,
a write that works (issue: nothing lost, nothing applied twice — item 8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

import occ
from occ import Versioned
from occ.resolvers import Merge
from occ.resolvers.rules import Counter
from tests.sql.models import clear_tombstones

md = sa.MetaData()

#: columns named like occ's bind parameters, old (f0, k0, ev, nv) and new (occ_...).
clash = sa.Table(
    "occ_t12_clash",
    md,
    sa.Column("k0", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("f0", sa.Integer, nullable=False),
    sa.Column("ev", sa.String(20)),
    sa.Column("nv", sa.Integer),
    sa.Column("occ_f0", sa.String(20)),
    sa.Column("occ_k0", sa.Integer),
    sa.Column("version", sa.Integer),
)

wide = sa.Table(
    "occ_t12_wide",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("big", sa.BigInteger),
    sa.Column("version", sa.Integer),
)

stamped = sa.Table(
    "occ_t12_stamped",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("note", sa.String(20)),
    sa.Column("version", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")),
)


@pytest.fixture
def tables(db: sa.Engine) -> Iterator[sa.Engine]:
    md.drop_all(db)
    md.create_all(db)
    clear_tombstones(db)
    yield db
    md.drop_all(db)


def _rows(engine: sa.Engine, table: sa.Table) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key))]


def test_columns_named_like_occ_bind_parameters_are_written(
    tables: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(clash)
    repo.insert({"k0": 1, "f0": 1, "ev": "e", "nv": 2, "occ_f0": "o", "occ_k0": 3})
    snap = repo.get(1)
    snap.value.update(f0=5, ev="x", occ_f0="y", occ_k0=4)
    snap = repo.save(snap)
    snap = repo.update(1, {"nv": 9, "ev": "z"}, expected_version=snap.version)
    snap = repo.modify(1, lambda v: v.update(f0=v["f0"] + 1))
    assert _rows(tables, clash) == [(1, 6, "z", 9, "y", 4, 4)]
    with pytest.raises(occ.ConflictError):
        repo.update(1, {"f0": 0}, expected_version=1)
    fast = make_repo(clash, policy=Merge(fields={"f0": Counter()}, fast_path=True))
    stale = fast.get(1)
    stale.value["f0"] += 10
    fast.save(stale)
    repo.delete(1, expected_version=repo.get(1).version)
    assert _rows(tables, clash) == []


@pytest.mark.parametrize("key", [2**63, -(2**63) - 1, 2**80], ids=["2**63", "-2**63-1", "2**80"])
def test_keys_beyond_the_column_are_refused_and_write_nothing(
    tables: sa.Engine, make_repo: Any, key: int
) -> None:
    repo = make_repo(wide)
    repo.insert({"id": 1, "big": 1})
    before = _rows(tables, wide)
    with pytest.raises(occ.ValidationError, match="outside what the column holds"):
        repo.insert({"id": key, "big": 1})
    with pytest.raises(occ.ValidationError, match="outside what the column holds"):
        repo.update(key, {"big": 2}, expected_version=1)
    with pytest.raises(occ.ValidationError, match="outside what the column holds"):
        repo.get(key)
    assert _rows(tables, wide) == before


def test_a_32_bit_key_column_refuses_what_it_cannot_hold(
    tables: sa.Engine, make_repo: Any, backend: Any
) -> None:
    repo = make_repo(wide)
    if backend.name == "sqlite":  # SQLite's INTEGER holds 64 bits
        assert repo.find(2**31) is None
        return
    with pytest.raises(occ.ValidationError, match="outside what the column holds"):
        repo.find(2**31)
    assert repo.find(2**31 - 1) is None


@pytest.mark.parametrize("version", [2**63, 2**31, -(2**31) - 1])
def test_versions_beyond_the_column_are_refused_and_write_nothing(
    tables: sa.Engine, make_repo: Any, backend: Any, version: int
) -> None:
    repo = make_repo(wide)
    repo.insert({"id": 1, "big": 1})
    before = _rows(tables, wide)
    if backend.name == "sqlite" and abs(version) < 2**63:
        with pytest.raises(occ.ConflictError):  # in range there: an ordinary conflict
            repo.update(1, {"big": 2}, expected_version=version)
    else:
        with pytest.raises(occ.ValidationError, match="outside what the version column holds"):
            repo.update(1, {"big": 2}, expected_version=version)
        with pytest.raises(occ.ValidationError, match="outside what the version column holds"):
            repo.delete(1, expected_version=version)
    assert _rows(tables, wide) == before


def test_a_negative_stored_version_can_be_written(tables: sa.Engine, make_repo: Any) -> None:
    with tables.begin() as conn:
        conn.execute(wide.insert().values(id=1, big=0, version=-5))
    repo = make_repo(wide)
    snap = repo.get(1)
    assert snap.version == -5
    snap.value["big"] = 7
    assert repo.save(snap).version == -4
    with pytest.raises(occ.ConflictError):
        repo.save(snap)
    assert _rows(tables, wide) == [(1, 7, -4)]


def test_a_timestamp_stored_without_fractional_seconds_can_be_written(
    tables: sa.Engine, make_repo: Any, backend: Any
) -> None:
    # Another program wrote the row: SQLite's CURRENT_TIMESTAMP has no fraction.
    with tables.begin() as conn:
        if backend.name == "sqlite":
            conn.exec_driver_sql(
                "INSERT INTO occ_t12_stamped (id, note, version) VALUES (1, 'a', CURRENT_TIMESTAMP)"
            )
        else:
            conn.execute(stamped.insert().values(id=1, note="a", version=dt.datetime(2024, 1, 1)))
    repo = make_repo(stamped, version_type="timestamp")
    snap = repo.get(1)
    assert snap.version.microsecond == 0
    snap.value["note"] = "b"
    saved = repo.save(snap)
    assert saved.version > snap.version
    with pytest.raises(occ.ConflictError):
        repo.save(Versioned(snap.value, snap.version, 1, snap.base))
    assert repo.get(1).value["note"] == "b"
