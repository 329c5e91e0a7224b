"""Repositories built per request reuse what is per model: mapping and statements."""

from __future__ import annotations

import gc
import weakref

import pytest
import sqlalchemy as sa

from occ import ConflictError
from occ.sql import Repository
from occ.sync import Outbox
from tests.sql.models import Account


def test_repositories_of_one_model_share_its_mapping_and_statements(db: sa.Engine) -> None:
    first = Repository(db, Account)
    second = Repository(db, Account)
    assert second.entity is first.entity
    assert second.records is first.records


def test_options_that_shape_the_sql_are_not_shared(db: sa.Engine) -> None:
    plain = Repository(db, Account)
    assert Repository(db, Account, tombstones=False).records is not plain.records
    assert Repository(db, Account, outbox=Outbox()).records is not plain.records
    assert (
        Repository(db, Account, outbox=Outbox()).records
        is Repository(db, Account, outbox=Outbox()).records
    )  # an equal Outbox shapes the same SQL


def test_per_request_repositories_still_guard_every_write(db: sa.Engine) -> None:
    Repository(db, Account).insert(Account(id=1, owner="ada", balance=0))
    stale = Repository(db, Account).get(1)
    Repository(db, Account).update(1, {"balance": 5}, expected_version=stale.version)
    with pytest.raises(ConflictError):
        Repository(db, Account).update(1, {"balance": 7}, expected_version=stale.version)
    assert Repository(db, Account).get(1).value.balance == 5


def test_the_cache_goes_with_its_engine(tmp_path: object) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/gone.db")
    Repository(engine, Account)
    dialect = weakref.ref(engine.dialect)
    engine.dispose()
    del engine
    gc.collect()
    assert dialect() is None


def test_the_cache_of_an_async_engine_goes_with_it(tmp_path: object) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from occ.sql import AsyncRepository

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/gone.db")
    assert AsyncRepository(engine, Account).records is AsyncRepository(engine, Account).records
    dialect = weakref.ref(engine.sync_engine.dialect)
    del engine
    gc.collect()
    assert dialect() is None
