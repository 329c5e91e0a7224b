"""Writes inside a caller's transaction join it; conflicts there raise, never retry."""

from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

import occ
from occ.resolvers import Overwrite
from occ.sql import AsyncRepository, Repository
from occ.sql._dberrors import is_serialization_failure
from tests.sql.models import Account


def _seed(db: sa.Engine) -> Repository[Account]:
    repo = Repository(db, Account)
    repo.insert(Account(id=1, owner="ada", balance=0))
    return repo


def test_write_on_a_callers_connection_joins_its_transaction(db: sa.Engine) -> None:
    outside = _seed(db)
    with db.connect() as conn:
        trans = conn.begin()
        inside = Repository(conn, Account)
        assert inside.update(1, {"balance": 5}, expected_version=1).version == 2
        assert inside.get(1).value.balance == 5
        trans.rollback()
    assert outside.get(1).version == 1


def test_session_bound_repository_commits_with_the_session(db: sa.Engine) -> None:
    outside = _seed(db)
    with Session(db) as session:
        repo = Repository(session, Account)
        snap = repo.get(1)
        snap.value.balance = 7
        repo.save(snap)
        session.commit()
    assert outside.get(1).value.balance == 7


def test_conflict_inside_a_transaction_raises_even_under_a_resolving_policy(
    db: sa.Engine,
) -> None:
    outside = _seed(db)
    outside.update(1, {"balance": 1}, expected_version=1)
    with db.connect() as conn, conn.begin():
        inside = Repository(conn, Account, policy=Overwrite())
        with pytest.raises(occ.ConflictError) as info:
            inside.update(1, {"balance": 9}, expected_version=1)
        assert info.value.conflict.actual_version == 2
        assert inside.stats.retries == 0
    assert outside.get(1).value.balance == 1


def test_modify_inside_a_transaction_makes_one_attempt(db: sa.Engine) -> None:
    outside = _seed(db)
    with db.connect() as conn, conn.begin():
        inside = Repository(conn, Account)

        def bump(acct: Account) -> None:
            acct.balance += 1

        assert inside.modify(1, bump).value.balance == 1
    assert outside.get(1).value.balance == 1


def test_postgres_serialization_failure_is_a_conflict(pg_db: sa.Engine) -> None:
    db = pg_db
    outside = _seed(db)
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        trans = conn.begin()
        inside = Repository(conn, Account)
        assert inside.get(1).version == 1  # the snapshot starts here
        outside.update(1, {"balance": 3}, expected_version=1)
        with pytest.raises(occ.TransactionAbortedError) as info:
            inside.update(1, {"balance": 4}, expected_version=1)
        assert info.value.conflict.kind == "serialization"
        with pytest.raises(occ.TransactionAbortedError, match="cannot commit"):
            trans.commit()  # the transaction is over: committing it is refused
    assert outside.get(1).value.balance == 3


def test_mariadb_error_1020_and_deadlocks_classify_as_conflicts() -> None:
    for code in (1020, 1213):
        exc = sa.exc.OperationalError(
            "UPDATE", {}, pymysql.err.OperationalError(code, "Record has changed since last read")
        )
        assert is_serialization_failure(exc)
    other = sa.exc.OperationalError("UPDATE", {}, pymysql.err.OperationalError(1205, "Lock wait"))
    assert not is_serialization_failure(other)


async def test_async_connection_joins_the_callers_transaction(
    adb: AsyncEngine, db: sa.Engine
) -> None:
    outside = _seed(db)
    async with adb.connect() as conn:
        trans = await conn.begin()
        inside = AsyncRepository(conn, Account)
        assert (await inside.update(1, {"balance": 5}, expected_version=1)).version == 2
        await trans.rollback()
    assert outside.get(1).version == 1
