"""``replica=``: what a repository accepts as a read replica (the routing itself is proved on
a PostgreSQL standby in tests/cluster/test_read_replica.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import occ
from occ.sql import AsyncRepository, Repository
from tests.sql.models import Account, create_all


def test_a_replica_of_the_other_mode_or_dialect_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = sa.create_engine(url)
    with pytest.raises(occ.ConfigurationError, match="AsyncEngine"):
        AsyncRepository(
            create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"), Account, replica=engine
        )  # type: ignore[arg-type]
    with pytest.raises(occ.ConfigurationError, match="Engine"):
        Repository(engine, Account, replica=create_async_engine("sqlite+aiosqlite://"))  # type: ignore[arg-type]
    postgres = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(occ.ConfigurationError, match="same dialect"):
        Repository(engine, Account, replica=postgres)


def test_a_replica_is_refused_in_a_callers_transaction(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn, pytest.raises(occ.ConfigurationError, match="transaction"):
        Repository(conn, Account, replica=engine)


def test_reads_go_to_the_replica_and_writes_to_the_primary(tmp_path: Path) -> None:
    # Two SQLite files stand for a primary and a replica that never catches up.
    primary = sa.create_engine(f"sqlite:///{tmp_path / 'primary.db'}")
    replica = sa.create_engine(f"sqlite:///{tmp_path / 'replica.db'}")
    for engine in (primary, replica):
        create_all(engine)
        Repository(engine, Account).insert(Account(id=1, owner="ada", balance=1))
    repo = Repository(primary, Account, replica=replica)
    repo.update(1, {"balance": 2}, expected_version=1)
    assert (repo.get(1).version, repo.get(1).value.balance) == (1, 1)
    assert Repository(primary, Account).get(1).value.balance == 2
    done = repo.modify(1, lambda a: setattr(a, "balance", a.balance + 10))
    assert (done.version, done.value.balance, done.outcome) == (3, 12, "retried")
    assert Repository(replica, Account).get(1).version == 1  # nothing was written there
