"""The repository contract on SQLite, MariaDB and PostgreSQL, through both drivers."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import occ
from occ import Versioned
from occ.resolvers import Discard, Overwrite
from tests.sql.models import Account, Item, row_count, stock, users


def test_insert_starts_at_version_one_and_get_reads_it(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    created = repo.insert(Account(id=1, owner="ada", balance=10))
    assert (created.version, created.key) == (1, 1)
    got = repo.get(1)
    assert isinstance(got, Versioned)
    assert (got.version, got.value.owner, got.value.balance, got.value.version) == (1, "ada", 10, 1)
    assert got.base == {"owner": "ada", "balance": 10, "note": None}


def test_find_returns_none_and_get_raises_for_missing_key(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    assert repo.find(404) is None
    with pytest.raises(occ.NotFoundError) as info:
        repo.get(404)
    assert (info.value.entity, info.value.key) == ("Account", 404)


def test_update_returns_stored_row_with_next_version(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada", balance=10))
    updated = repo.update(1, {"balance": 15}, expected_version=1)
    assert (updated.version, updated.value.balance, updated.value.owner) == (2, 15, "ada")
    assert repo.get(1).value.balance == 15


def test_stale_update_raises_conflict_with_stored_state(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada", balance=10))
    repo.update(1, {"balance": 20}, expected_version=1)
    with pytest.raises(occ.ConflictError) as info:
        repo.update(1, {"balance": 30}, expected_version=1, base={"balance": 10})
    c = info.value.conflict
    assert (c.entity, c.key, c.action, c.kind, c.attempt) == ("Account", 1, "update", "version", 1)
    assert (c.expected_version, c.actual_version) == (1, 2)
    assert c.base == {"balance": 10}
    assert c.mine == {"balance": 30}
    assert c.theirs == {"owner": "ada", "balance": 20, "note": None}
    assert repo.get(1).value.balance == 20


def test_save_writes_only_changed_fields_at_snapshot_version(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada", balance=10))
    snap = repo.get(1)
    other = repo.get(1)
    snap.value.balance = 11
    saved = repo.save(snap)
    assert (saved.version, saved.value.balance, saved.value.version) == (2, 11, 2)
    other.value.note = "stale"
    with pytest.raises(occ.ConflictError) as info:
        repo.save(other)
    assert info.value.conflict.changes == {"note": "stale"}
    assert info.value.conflict.base == {"owner": "ada", "balance": 10, "note": None}
    assert repo.get(1).value.note is None


def test_save_without_changes_writes_nothing(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada"))
    snap = repo.get(1)
    saved = repo.save(snap)
    assert saved == snap
    assert saved.outcome == "unchanged"
    assert repo.get(1).version == 1


def test_save_of_a_blind_snapshot_writes_every_field(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada", balance=1, note="x"))
    put = Versioned(Account(id=1, owner="bob", balance=2, note=None), 1, 1)
    assert repo.save(put).version == 2
    got = repo.get(1).value
    assert (got.owner, got.balance, got.note) == ("bob", 2, None)


def test_delete_is_conditional_on_the_version(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada"))
    repo.update(1, {"balance": 5}, expected_version=1)
    with pytest.raises(occ.ConflictError) as info:
        repo.delete(1, expected_version=1)
    assert info.value.conflict.action == "delete"
    assert repo.find(1) is not None
    repo.delete(1, expected_version=2)
    assert repo.find(1) is None


def test_update_or_delete_of_a_missing_key_is_not_found(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    with pytest.raises(occ.NotFoundError) as info:
        repo.update(7, {"balance": 1}, expected_version=1)
    assert not isinstance(info.value, occ.ConflictError)
    with pytest.raises(occ.NotFoundError):
        repo.delete(7, expected_version=1)


def test_row_deleted_after_read_is_reported_as_deleted_not_as_version_conflict(
    db: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada"))
    snap = repo.get(1)
    repo.delete(1, expected_version=1)
    snap.value.balance = 3
    with pytest.raises(occ.DeletedError) as info:
        repo.save(snap)
    c = info.value.conflict
    assert (c.kind, c.deleted, c.theirs, c.actual_version) == ("deleted", True, None, None)
    assert isinstance(info.value, occ.NotFoundError)
    assert repo.find(1) is None


def test_modify_applies_function_and_returns_new_version(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada", balance=1))

    def deposit(acct: Account) -> Account:
        acct.balance += 9
        return acct

    result = repo.modify(1, deposit)
    assert (result.version, result.value.balance) == (2, 10)
    assert repo.get(1).value.balance == 10


def test_modify_of_missing_key_is_not_found(db: sa.Engine, make_repo: Any) -> None:
    with pytest.raises(occ.NotFoundError):
        make_repo(Account).modify(5, lambda a: a)


def test_insert_of_taken_key_is_already_exists_and_other_unique_index_is_not(
    db: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada"))
    with pytest.raises(occ.AlreadyExistsError):
        repo.insert(Account(id=1, owner="bob"))
    assert repo.get(1).value.owner == "ada"
    people = make_repo(users)
    people.insert({"id": 1, "email": "a@x"})
    with pytest.raises(sa.exc.IntegrityError) as info:
        people.insert({"id": 2, "email": "a@x"})
    assert not isinstance(info.value, occ.OCCError)
    assert row_count(db, users) == 1


def test_dataclass_model_with_autoincrement_key_and_custom_version_column(
    db: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(Item, version_column="rev")
    created = repo.insert(Item(sku="bolt", qty=3))
    assert created.version == 1
    assert isinstance(created.key, int)
    got = repo.get(created.key)
    assert (got.value.sku, got.value.qty, got.value.rev) == ("bolt", 3, 1)
    got.value.qty = 4
    assert repo.save(got).version == 2
    assert repo.update(created.key, {"qty": 9}, expected_version=2).value.qty == 9


def test_table_model_with_composite_key_uses_dicts(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(stock)
    created = repo.insert({"warehouse": "w1", "sku": "bolt", "qty": 5})
    assert created.key == ("w1", "bolt")
    assert created.value == {"warehouse": "w1", "sku": "bolt", "qty": 5, "version": 1}
    snap = repo.get(("w1", "bolt"))
    snap.value["qty"] = 6
    assert repo.save(snap).version == 2
    assert repo.update(("w1", "bolt"), {"qty": 7}, expected_version=2).value["qty"] == 7
    repo.delete(("w1", "bolt"), expected_version=3)
    assert repo.find(("w1", "bolt")) is None


def test_null_version_rows_read_as_zero_and_stay_protected(db: sa.Engine, make_repo: Any) -> None:
    with db.begin() as conn:
        conn.execute(sa.insert(Account).values(id=1, owner="legacy", balance=1, version=None))
    repo = make_repo(Account)
    assert repo.get(1).version == 0
    with pytest.raises(occ.ConflictError):
        repo.update(1, {"balance": 2}, expected_version=1)
    assert repo.update(1, {"balance": 2}, expected_version=0).version == 1
    with pytest.raises(occ.ConflictError):
        repo.update(1, {"balance": 3}, expected_version=0)
    assert repo.get(1).value.balance == 2


def test_discard_policy_returns_stored_value(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account, policy=Discard())
    repo.insert(Account(id=1, owner="ada", balance=1))
    repo.update(1, {"balance": 2}, expected_version=1)
    kept = repo.update(1, {"balance": 99}, expected_version=1)
    assert (kept.version, kept.value.balance) == (2, 2)
    assert repo.stats.snapshot()["decisions"] == {"discarded": 1}


def test_overwrite_policy_writes_mine_at_stored_version(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account, policy=Overwrite())
    repo.insert(Account(id=1, owner="ada", balance=1))
    repo.update(1, {"balance": 2, "note": "theirs"}, expected_version=1)
    won = repo.update(1, {"balance": 99}, expected_version=1)
    assert (won.version, won.value.balance, won.value.note) == (3, 99, "theirs")
    snap = repo.get(1)
    repo.update(1, {"note": "x"}, expected_version=3)
    snap.value.balance = 5
    saved = repo.save(snap)
    assert (saved.version, saved.value.balance, saved.value.note) == (5, 5, "x")


def test_policy_registry_supplies_the_policy(db: sa.Engine, make_repo: Any) -> None:
    occ.policies.register(Account, Discard())
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="ada", balance=1))
    repo.update(1, {"balance": 2}, expected_version=1)
    assert repo.update(1, {"balance": 3}, expected_version=1).value.balance == 2
