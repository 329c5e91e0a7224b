"""Every write of several statements runs in one real transaction, whatever the engine's
isolation setting: on an ``AUTOCOMMIT`` engine, MySQL/MariaDB's ``update()`` (an UPDATE,
then a read of the row it wrote) must never return another writer's row or version."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

import occ
import occ.sql
from occ.sql import Repository
from tests.backends import Backend
from tests.sql.models import Account, create_all


@pytest.fixture
def autocommit(backend: Backend, db: sa.Engine) -> Iterator[sa.Engine]:
    engine = sa.create_engine(backend.url, isolation_level="AUTOCOMMIT", pool_size=8)
    yield engine
    occ.sql.dispose(engine)


def test_update_on_an_autocommit_engine_commits_one_transaction(
    autocommit: sa.Engine, backend: Backend
) -> None:
    repo = Repository(autocommit, Account)
    repo.insert(Account(id=1, owner="ada", balance=0))
    commits: list[bool] = []
    event.listen(autocommit, "commit", lambda conn: commits.append(conn.in_transaction()))
    result = repo.update(1, {"owner": "bob"}, expected_version=1)
    assert (result.value.owner, result.version) == ("bob", 2)
    if backend.name == "mariadb":  # UPDATE + read: one transaction, committed once
        assert commits == [True]


def test_concurrent_updates_on_an_autocommit_engine_each_return_their_own_row(
    autocommit: sa.Engine,
) -> None:
    create_all(autocommit)
    repo = Repository(autocommit, Account)
    repo.insert(Account(id=1, owner="start", balance=0))
    wrong: list[tuple[str, Any, int]] = []
    written = conflicts = 0
    lock = threading.Lock()

    def writer(me: int) -> None:
        nonlocal written, conflicts
        for i in range(40):
            token = f"w{me}.{i}"
            current = repo.get(1)
            try:
                result = repo.update(1, {"owner": token}, expected_version=current.version)
            except occ.ConflictError:
                with lock:
                    conflicts += 1
                continue
            with lock:
                written += 1
                if result.value.owner != token or result.version != current.version + 1:
                    wrong.append((token, result.value.owner, result.version))

    threads = [threading.Thread(target=writer, args=(me,)) for me in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert written > 0
    assert conflicts > 0, "the writers never collided: nothing was tested"
    assert wrong == [], f"update() returned another writer's row {len(wrong)} times"
    assert repo.get(1).version == 1 + written
