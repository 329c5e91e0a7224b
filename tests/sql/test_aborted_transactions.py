"""A write that ended the caller's transaction is told apart from a harmless version
conflict, and the caller's Session/Connection refuses to commit as if nothing happened."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import occ
from occ.sql import AsyncRepository, Repository
from tests.backends import MARIADB, SuiteDatabases
from tests.conftest import make_engine
from tests.sql.models import Account, create_all


def _balances(db: sa.Engine) -> dict[int, int]:
    with db.connect() as conn:
        rows = conn.execute(sa.select(Account.id, Account.balance)).all()
    return {row[0]: row[1] for row in rows}


def _seed(db: sa.Engine, *keys: int) -> Repository[Account]:
    repo = Repository(db, Account)
    for key in keys:
        repo.insert(Account(id=key, owner="ada", balance=0))
    return repo


def test_postgres_serialization_failure_aborts_and_commit_is_refused(pg_db: sa.Engine) -> None:
    outside = _seed(pg_db, 1, 2)
    with pg_db.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        inside = Repository(conn, Account)
        inside.update(2, {"balance": 50}, expected_version=1)  # an earlier write
        assert inside.get(1).version == 1  # the snapshot
        outside.update(1, {"balance": 3}, expected_version=1)
        with pytest.raises(occ.TransactionAbortedError) as raised:
            inside.update(1, {"balance": 4}, expected_version=1)
        assert raised.value.conflict.kind == "serialization"
        with pytest.raises(occ.TransactionAbortedError, match="cannot commit"):
            conn.commit()
        conn.rollback()
        # Rolled back, the connection is usable again and commits normally.
        assert inside.update(2, {"balance": 60}, expected_version=1).version == 2
        conn.commit()
    assert _balances(pg_db) == {1: 3, 2: 60}


def test_postgres_duplicate_insert_in_a_session_refuses_the_commit(pg_db: sa.Engine) -> None:
    _seed(pg_db, 1)
    with Session(pg_db) as session:
        repo = Repository(session, Account)
        repo.insert(Account(id=2, owner="bob", balance=5))  # an earlier write
        with pytest.raises(occ.AlreadyExistsError):
            repo.insert(Account(id=1, owner="eve", balance=9))
        with pytest.raises(occ.TransactionAbortedError, match="cannot commit"):
            session.commit()
        session.rollback()
    assert _balances(pg_db) == {1: 0}


def test_a_version_conflict_leaves_the_transaction_alive(db: sa.Engine) -> None:
    _seed(db, 1, 2)
    with Session(db) as session:
        repo = Repository(session, Account)
        repo.update(2, {"balance": 7}, expected_version=1)
        with pytest.raises(occ.ConflictError) as raised:
            repo.update(1, {"balance": 9}, expected_version=5)
        assert not isinstance(raised.value, occ.TransactionAbortedError)
        session.commit()  # the earlier write survives: nothing aborted
    assert _balances(db) == {1: 0, 2: 7}


@pytest.fixture
def maria_db(private_databases: SuiteDatabases) -> Iterator[sa.Engine]:
    """MariaDB alone (a deadlock rolls back the whole transaction there), tables created."""
    engine = make_engine(private_databases.require(MARIADB))
    create_all(engine)
    yield engine
    occ.sql.dispose(engine)


def test_mariadb_deadlock_aborts_one_transaction_and_its_commit_is_refused(
    maria_db: sa.Engine,
) -> None:
    db = maria_db
    _seed(db, 1, 2)
    barrier = threading.Barrier(2, timeout=20)
    outcomes: dict[int, Any] = {}

    def transfer(me: int, first: int, second: int) -> None:
        with db.connect() as conn:
            repo = Repository(conn, Account)
            try:
                repo.update(first, {"balance": 10 + me}, expected_version=1)
                barrier.wait()
                repo.update(second, {"balance": 20 + me}, expected_version=1)
            except occ.ConflictError as exc:
                outcomes[me] = exc
                try:
                    conn.commit()
                except occ.TransactionAbortedError as refused:
                    outcomes[me] = (exc, refused)
                    conn.rollback()
                return
            conn.commit()
            outcomes[me] = "committed"

    threads = [
        threading.Thread(target=transfer, args=(0, 1, 2)),
        threading.Thread(target=transfer, args=(1, 2, 1)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    aborted = [v for v in outcomes.values() if isinstance(v, tuple)]
    assert len(aborted) == 1, outcomes  # the deadlock victim
    error, refused = aborted[0]
    assert isinstance(error, occ.TransactionAbortedError)
    assert isinstance(refused, occ.TransactionAbortedError)
    assert sorted(v for v in outcomes.values() if v == "committed") == ["committed"]
    winner = next(me for me, v in outcomes.items() if v == "committed")
    assert _balances(db) == {
        1: 10 + winner if winner == 0 else 20 + winner,
        2: 20 + winner if winner == 0 else 10 + winner,
    }


async def test_async_session_is_guarded_too(
    pg_db: sa.Engine, private_databases: SuiteDatabases
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from tests.backends import POSTGRESQL

    _seed(pg_db, 1)
    engine = create_async_engine(private_databases.require(POSTGRESQL).async_url)
    try:
        async with AsyncSession(engine) as session:
            repo = AsyncRepository(session, Account)
            await repo.insert(Account(id=2, owner="bob", balance=5))
            with pytest.raises(occ.AlreadyExistsError):
                await repo.insert(Account(id=1, owner="eve", balance=9))
            with pytest.raises(occ.TransactionAbortedError):
                await session.commit()
            await session.rollback()
    finally:
        await occ.sql.adispose(engine)
    assert _balances(pg_db) == {1: 0}


async def test_async_connection_is_guarded_too(
    pg_db: sa.Engine, private_databases: SuiteDatabases
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.backends import POSTGRESQL

    _seed(pg_db, 1)
    engine = create_async_engine(private_databases.require(POSTGRESQL).async_url)
    try:
        async with engine.connect() as conn:
            repo = AsyncRepository(conn, Account)
            await repo.insert(Account(id=2, owner="bob", balance=5))
            with pytest.raises(occ.AlreadyExistsError):
                await repo.insert(Account(id=1, owner="eve", balance=9))
            with pytest.raises(occ.TransactionAbortedError):
                await conn.commit()
            await conn.rollback()
            await repo.insert(Account(id=3, owner="cy", balance=1))
            await conn.commit()
    finally:
        await occ.sql.adispose(engine)
    assert _balances(pg_db) == {1: 0, 3: 1}
