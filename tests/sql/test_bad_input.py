"""Bad input raises ValidationError with a helpful message, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import occ
from occ import Versioned
from tests.sql.models import Account, row_count, stock


def _state(db: sa.Engine) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(Account.__table__).order_by("id"))]


@pytest.fixture
def seeded(db: sa.Engine, make_repo: Any) -> Any:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada", balance=10))
    return repo


@pytest.mark.parametrize(
    "expected",
    [True, "1", 1.0, None, {"$gte": 0}, [1], 2**64],
    ids=["bool", "str", "float", "None", "dict", "list", "2**64"],
)
def test_expected_version_must_be_an_int_the_column_holds(
    db: sa.Engine, seeded: Any, expected: Any
) -> None:
    before = _state(db)
    with pytest.raises(occ.ValidationError, match="expected_version"):
        seeded.update(1, {"balance": 0}, expected_version=expected)
    with pytest.raises(occ.ValidationError, match="expected_version"):
        seeded.delete(1, expected_version=expected)
    assert _state(db) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nope": 1}, "no column 'nope'"),
        ({"id": 2}, "is the key"),
        ({"version": 9}, "is the version"),
        ([("balance", 1)], "must be a mapping"),
    ],
    ids=["unknown", "key", "version", "not-a-mapping"],
)
def test_changes_must_name_writable_columns(
    db: sa.Engine, seeded: Any, changes: Any, message: str
) -> None:
    before = _state(db)
    with pytest.raises(occ.ValidationError, match=message):
        seeded.update(1, changes, expected_version=1)
    assert _state(db) == before


@pytest.mark.parametrize("key", ["1", (1,), [1], None, 1.5, True], ids=repr)
def test_key_of_the_wrong_shape_or_type_is_refused(db: sa.Engine, seeded: Any, key: Any) -> None:
    before = _state(db)
    with pytest.raises(occ.ValidationError):
        seeded.update(key, {"balance": 0}, expected_version=1)
    with pytest.raises(occ.ValidationError):
        seeded.get(key)
    assert _state(db) == before


def test_composite_key_needs_a_tuple_of_the_right_length(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(stock)
    repo.insert({"warehouse": "w", "sku": "s", "qty": 1})
    for key in ("w", ("w",), ("w", "s", "x")):
        with pytest.raises(occ.ValidationError, match="composite key"):
            repo.update(key, {"qty": 2}, expected_version=1)
    assert repo.get(("w", "s")).value["qty"] == 1


def test_insert_of_a_value_that_carries_a_version_is_refused(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    with pytest.raises(occ.ValidationError, match="already carries version"):
        repo.insert(Account(id=5, owner="x", balance=0, version=3))
    assert row_count(db, Account.__table__) == 0


def test_insert_of_the_wrong_type_is_refused(db: sa.Engine, make_repo: Any) -> None:
    with pytest.raises(occ.ValidationError, match="expected a Account"):
        make_repo(Account).insert({"id": 1, "owner": "x"})
    with pytest.raises(occ.ValidationError, match="no column"):
        make_repo(stock).insert({"warehouse": "w", "sku": "s", "colour": "red"})
    assert row_count(db, Account.__table__) == 0
    assert row_count(db, stock) == 0


def test_save_needs_a_versioned_snapshot_and_cannot_change_the_key(
    db: sa.Engine, seeded: Any
) -> None:
    before = _state(db)
    snap = seeded.get(1)
    with pytest.raises(occ.ValidationError, match="Versioned snapshot"):
        seeded.save(snap.value)
    snap.value.id = 2
    snap.value.balance = 0
    with pytest.raises(occ.ValidationError, match="a key cannot change"):
        seeded.save(snap)
    with pytest.raises(occ.ValidationError, match=r"snapshot\.version"):
        seeded.save(Versioned(Account(id=1, owner="x", balance=0), "1", 1))
    assert _state(db) == before


def test_modify_that_changes_the_key_is_refused(db: sa.Engine, seeded: Any) -> None:
    before = _state(db)

    def rekey(acct: Account) -> None:
        acct.id = 99

    with pytest.raises(occ.ValidationError, match="cannot change the key"):
        seeded.modify(1, rekey)
    assert _state(db) == before


def test_model_without_a_version_column_is_a_configuration_error(db: sa.Engine) -> None:
    table = sa.Table(
        "occ_unversioned", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True)
    )
    with pytest.raises(occ.ConfigurationError, match="no version column"):
        occ.sql.Repository(db, table)
    with pytest.raises(occ.ConfigurationError, match=r"Engine, Connection or Session"):
        occ.sql.Repository("sqlite://", Account)  # type: ignore[arg-type]
