"""Statements per operation, counted with SQLAlchemy's before_cursor_execute event.

The listener sits on the Engine class: occ runs autocommit writes on a sibling
engine, so a listener on one engine instance would miss them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy import event

import occ
from occ import Versioned
from occ.sql import Repository
from tests.sql.models import Account


@contextmanager
def counting() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper())

    event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(sa.Engine, "before_cursor_execute", record)


@contextmanager
def commits() -> Iterator[list[str]]:
    seen: list[str] = []

    def on_commit(conn) -> None:  # type: ignore[no-untyped-def]
        if not conn._is_autocommit_isolation():
            seen.append("COMMIT")

    event.listen(sa.Engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(sa.Engine, "commit", on_commit)


@pytest.fixture
def repo(db: sa.Engine) -> Repository[Account]:
    r = Repository(db, Account)
    r.insert(Account(id=1, owner="ada", balance=0))
    r.get(1)  # warm the pool and the statement cache
    return r


def test_save_is_exactly_one_statement_and_no_commit(repo: Repository[Account]) -> None:
    snap = repo.get(1)
    snap.value.balance = 5
    with counting() as statements, commits() as committed:
        repo.save(snap)
    assert statements == ["UPDATE"]
    assert committed == []


def test_blind_save_is_one_statement(repo: Repository[Account]) -> None:
    with counting() as statements:
        repo.save(Versioned(Account(id=1, owner="x", balance=9), 1, 1))
    assert statements == ["UPDATE"]


def test_update_is_one_statement_with_returning_or_update_plus_read_on_mysql(
    repo: Repository[Account], db: sa.Engine
) -> None:
    with counting() as statements, commits() as committed:
        repo.update(1, {"balance": 3}, expected_version=1)
    if db.dialect.name == "mysql":
        assert statements == ["UPDATE", "SELECT"]
        assert committed == ["COMMIT"]
    else:
        assert statements == ["UPDATE"]
        assert committed == []


def test_get_is_one_select(repo: Repository[Account]) -> None:
    with counting() as statements:
        repo.get(1)
    assert statements == ["SELECT"]


def test_modify_is_one_read_and_one_write_per_attempt(repo: Repository[Account]) -> None:
    with counting() as statements:
        repo.modify(1, lambda a: setattr(a, "balance", a.balance + 1))
    assert statements == ["SELECT", "UPDATE"]


def test_modify_retry_rereads_in_a_fresh_statement(repo: Repository[Account]) -> None:
    calls = 0

    def bump(acct: Account) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # someone else writes between our read and our write
            theirs = Account(id=1, owner="ada", balance=0, note="other")
            repo.save(Versioned(theirs, acct.version, 1))
        acct.balance += 1

    with counting() as statements:
        result = repo.modify(1, bump)
    assert result.value.balance == 1
    assert result.value.note == "other"
    # read, their write, our miss, fresh read, our write
    assert statements == ["SELECT", "UPDATE", "UPDATE", "SELECT", "UPDATE"]


def test_conflict_costs_one_classifying_read(repo: Repository[Account]) -> None:
    repo.update(1, {"balance": 2}, expected_version=1)
    with counting() as statements, pytest.raises(occ.ConflictError):
        repo.save(Versioned(Account(id=1, owner="x", balance=1), 1, 1))
    assert statements == ["UPDATE", "SELECT"]


def test_insert_is_one_statement_and_delete_records_its_tombstone(db: sa.Engine) -> None:
    repo = Repository(db, Account)
    repo.insert(Account(id=9, owner="warm", balance=0))  # the tombstone table exists now
    with counting() as statements, commits() as committed:
        repo.insert(Account(id=2, owner="b", balance=0))
        repo.delete(2, expected_version=1)
    if db.dialect.name == "postgresql":
        assert statements == ["INSERT", "WITH"]  # DELETE + tombstone: one statement
        assert committed == []
    else:
        assert statements == ["INSERT", "DELETE", "INSERT"]  # one transaction
        assert committed == ["COMMIT"]


def test_without_tombstones_delete_is_one_statement(db: sa.Engine) -> None:
    repo = Repository(db, Account, tombstones=False)
    with counting() as statements:
        repo.insert(Account(id=2, owner="b", balance=0))
        repo.delete(2, expected_version=1)
    assert statements == ["INSERT", "DELETE"]


def test_statements_are_built_once_per_shape(repo: Repository[Account]) -> None:
    for version in range(1, 6):
        repo.update(1, {"balance": version}, expected_version=version)
    shapes = len(repo.records.statements)
    for version in range(6, 11):
        repo.update(1, {"balance": version}, expected_version=version)
    assert len(repo.records.statements) == shapes
    repo.update(1, {"note": "n"}, expected_version=11)
    assert len(repo.records.statements) == shapes + 1
