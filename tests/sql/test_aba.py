"""A snapshot read before a delete never applies to a row re-created under the same key (ABA)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

import occ
from occ import Versioned
from occ.sql import Repository
from tests.sql.models import Account


def test_a_stale_snapshot_never_applies_to_a_row_inserted_again(
    db: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="alice", balance=100))
    stale = repo.get(1)  # alice's row at version 1
    repo.delete(1, expected_version=1)
    bob = repo.insert(Account(id=1, owner="bob", balance=0))
    assert bob.version == 2  # past the deleted row's versions
    stale.value.balance = 70
    with pytest.raises(occ.ConflictError) as raised:
        repo.save(stale)
    assert raised.value.conflict.actual_version == 2
    with pytest.raises(occ.ConflictError):
        repo.update(1, {"balance": 70}, expected_version=1)
    with pytest.raises(occ.ConflictError):
        repo.delete(1, expected_version=1)
    got = repo.get(1)
    assert (got.value.owner, got.value.balance, got.version) == ("bob", 0, 2)


def test_versions_keep_climbing_over_many_delete_and_insert_cycles(
    db: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(Account)
    seen = []
    for cycle in range(4):
        created = repo.insert(Account(id=7, owner=f"o{cycle}", balance=cycle))
        updated = repo.update(7, {"balance": 10}, expected_version=created.version)
        seen += [created.version, updated.version]
        repo.delete(7, expected_version=updated.version)
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)  # no version ever repeats for the key


def test_a_new_key_still_starts_at_version_1(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    assert repo.insert(Account(id=3, owner="x", balance=0)).version == 1


def test_insert_and_delete_keep_their_round_trips(db: sa.Engine) -> None:
    repo = Repository(db, Account)
    repo.insert(Account(id=9, owner="warm", balance=0))  # creates the tombstone table
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(db, "before_cursor_execute", record)
    try:
        repo.insert(Account(id=1, owner="a", balance=0))
        inserted = len(statements)
        repo.delete(1, expected_version=1)
    finally:
        event.remove(db, "before_cursor_execute", record)
    assert inserted == 1  # the tombstone lookup rides inside the INSERT
    deletes = statements[inserted:]
    if db.dialect.name == "postgresql":
        assert deletes == ["WITH"]  # DELETE and tombstone in one statement
    else:
        assert deletes == ["DELETE", "INSERT"]  # one transaction


def test_tombstones_can_be_turned_off(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account, tombstones=False)
    repo.insert(Account(id=1, owner="a", balance=0))
    repo.delete(1, expected_version=1)
    assert repo.insert(Account(id=1, owner="b", balance=0)).version == 1


def test_a_stale_delete_leaves_no_tombstone_behind(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="a", balance=0))
    with pytest.raises(occ.ConflictError):
        repo.delete(1, expected_version=5)
    repo.delete(1, expected_version=1)
    assert repo.insert(Account(id=1, owner="b", balance=0)).version == 2


def test_snapshot_of_a_deleted_row_is_reported_deleted(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(Account)
    repo.insert(Account(id=1, owner="a", balance=0))
    snap = repo.get(1)
    repo.delete(1, expected_version=1)
    snap.value.balance = 3
    with pytest.raises(occ.DeletedError):
        repo.save(Versioned(snap.value, snap.version, 1, snap.base))
