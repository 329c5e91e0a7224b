"""A session flushing many opted-in objects checks every row (issue 16, item 4).

And what docs/bulk.md says of the ORM's bulk paths: its bulk UPDATE by key
fails as a whole on a stale row (``bulk_update_mappings`` is refused), where
``Repository.save_many`` reports each row.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import occ
from occ.sql import Repository
from tests.adopt.models import Order, create_tables

orders = Order.__table__
N = 20


@pytest.fixture
def tdb(engine: sa.Engine) -> sa.Engine:
    create_tables(engine)
    with Session(engine) as s, s.begin():
        s.add_all([Order(id=k, customer="c", total=0) for k in range(1, N + 1)])
    return engine


def rows(engine: sa.Engine) -> dict[int, tuple[int, int]]:
    with engine.connect() as conn:
        got = conn.execute(sa.select(orders.c.id, orders.c.total, orders.c.version)).all()
    return {r.id: (r.total, r.version) for r in got}


def conditional_updates(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(statement)

    return seen


def test_a_flush_of_many_objects_is_one_conditional_update_per_row(tdb: sa.Engine) -> None:
    seen = conditional_updates(tdb)
    with Session(tdb) as s:
        for order in s.scalars(sa.select(Order)):
            order.total = order.id
        s.commit()
    assert len(seen) == N
    assert all("version" in statement.split("WHERE")[1] for statement in seen)
    assert rows(tdb) == {k: (k, 2) for k in range(1, N + 1)}


def test_one_stale_object_among_many_fails_the_flush_and_nothing_is_written(
    tdb: sa.Engine,
) -> None:
    with Session(tdb) as mine, Session(tdb) as other:
        loaded = mine.scalars(sa.select(Order).order_by(Order.id)).all()
        other.get_one(Order, 13).total = 5  # another writer changes row 13
        other.commit()
        for order in loaded:
            order.total = 1
        with pytest.raises(occ.ConflictError) as info:
            mine.commit()
        assert info.value.conflict.key == 13
    expected = dict.fromkeys(range(1, N + 1), (0, 1))
    expected[13] = (5, 2)
    assert rows(tdb) == expected


def test_the_orm_bulk_update_fails_whole_where_save_many_reports_each_row(
    tdb: sa.Engine,
) -> None:
    repo = Repository(tdb, Order)
    stale = list(repo.get_many([1, 2]))
    repo.update(1, {"total": 5}, expected_version=1)  # row 1 moves on to version 2
    rows_ = [{"id": s.key, "total": 9, "version": s.version} for s in stale]
    with Session(tdb) as s, pytest.raises(occ.ConflictError):
        s.execute(sa.update(Order), rows_)  # the ORM's bulk UPDATE by key: one stale row
    with Session(tdb) as s, pytest.raises(occ.ValidationError):
        s.bulk_update_mappings(Order, [{"id": 1, "total": 7}])  # refused on a versioned class
    assert rows(tdb)[1] == (5, 2)
    assert rows(tdb)[2] == (0, 1), "nothing of the failed bulk UPDATE was written"
    for snap in stale:
        snap.value.total = 9
    result = repo.save_many(stale)
    assert [item.outcome for item in result] == ["conflict", "written"]
    assert rows(tdb)[2] == (9, 2)
