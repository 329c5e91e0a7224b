"""Batch writes and many-key reads on SQLite, MariaDB and PostgreSQL, sync and async (issue 16).

Every test reads the tables back with plain SQL to prove what was, and was
not, written; statements are counted with SQLAlchemy's before_cursor_execute
event on the ``Engine`` class (occ's autocommit sibling included).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

import occ
import occ.sql
from occ.resolvers import Merge, Overwrite
from occ.resolvers.rules import Counter
from tests.sql.models import Account, Item, stamped, stock, users

md = sa.MetaData()
#: a table that keeps write tokens.
rows = sa.Table(
    "occ_t16_rows",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40)),
    sa.Column("n", sa.Integer, nullable=False, default=0),
    sa.Column("version", sa.Integer),
    sa.Column("tokens", sa.String(135)),
)


@pytest.fixture
def table(db: sa.Engine) -> Iterator[sa.Engine]:
    md.drop_all(db)
    md.create_all(db)
    yield db
    md.drop_all(db)


@contextmanager
def counting() -> Iterator[list[str]]:
    """The first word of every statement sent while the block runs (COMMIT too)."""
    seen: list[str] = []

    def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
        seen.append(text.split()[0].upper())

    def commit(conn: sa.Connection) -> None:
        if not conn._is_autocommit_isolation():
            seen.append("COMMIT")

    event.listen(sa.Engine, "before_cursor_execute", statement)
    event.listen(sa.Engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(sa.Engine, "before_cursor_execute", statement)
        event.remove(sa.Engine, "commit", commit)


def stored(engine: sa.Engine, table: sa.Table = rows) -> dict[Any, tuple[Any, ...]]:
    """What the table holds, read with plain SQL: key -> (n, version)."""
    with engine.connect() as conn:
        got = conn.execute(sa.select(table.c.id, table.c.n, table.c.version)).all()
    return {row.id: (row.n, row.version) for row in got}


def seed(engine: sa.Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(rows.insert(), [{"id": k, "n": 0, "version": 1} for k in range(1, n + 1)])


def outcomes(result: Any) -> list[str]:
    return [item.outcome for item in result]


def test_update_many_writes_the_good_items_and_reports_every_item_in_order(
    table: sa.Engine, make_repo: Any
) -> None:
    seed(table, 4)
    repo = make_repo(rows, token_column="tokens")
    repo.update(2, {"n": 7}, expected_version=1)
    result = repo.update_many(
        [
            (1, {"n": 1}, 1),
            (2, {"n": 2}, 1),
            (9, {"n": 9}, 1),
            (1, {"n": 5}, 1),
            (3, {"n": 3}, "1"),
            (3, {"nope": 3}, 1),
            (4, {"n": 4}, 1),
        ]
    )
    assert outcomes(result) == [
        "written",
        "conflict",
        "not_found",
        "invalid",
        "invalid",
        "invalid",
        "written",
    ]
    assert result[0].value is not None
    assert (result[0].value.value["n"], result[0].version) == (1, 2)
    assert result[1].conflict is not None
    assert result[1].conflict.theirs == {"name": None, "n": 7}
    assert stored(table) == {1: (1, 2), 2: (7, 2), 3: (0, 1), 4: (4, 2)}


@pytest.mark.parametrize("n", [10, 100])
def test_a_batch_of_updates_is_a_constant_number_of_statements(
    table: sa.Engine, make_repo: Any, n: int
) -> None:
    seed(table, n)
    repo = make_repo(rows, token_column="tokens")
    repo.get(1)  # warm the pool
    with counting() as statements:
        result = repo.update_many([(k, {"n": k}, 1) for k in range(1, n + 1)])
    assert result.outcomes == {"written": n}
    expected = {
        "postgresql": ["UPDATE"],  # UPDATE ... FROM unnest(...) RETURNING, autocommit
        "sqlite": ["UPDATE"],  # UPDATE ... FROM (VALUES ...) RETURNING
        "mysql": ["SELECT", "UPDATE", "COMMIT"],  # lock the rows, update them, one transaction
    }[table.dialect.name]
    assert statements == expected
    assert stored(table) == {k: (k, 2) for k in range(1, n + 1)}
    with table.connect() as conn:
        tokens = conn.execute(sa.select(rows.c.tokens)).scalars().all()
    assert all(t is not None and len(t.split()) == 1 for t in tokens), "each write stores a token"


def test_save_many_is_one_update_and_a_conflict_one_read_and_one_resolved_update(
    table: sa.Engine, make_repo: Any
) -> None:
    seed(table, 20)
    repo = make_repo(rows, policy=Merge(fields={"n": Counter()}))
    snaps = list(repo.get_many(range(1, 21)))
    repo.update(5, {"n": 100}, expected_version=1)  # another writer adds 100 to item 5
    for snap in snaps:
        snap.value["n"] += 1
    with counting() as statements:
        result = repo.save_many(snaps)
    assert result.outcomes == {"written": 19, "merged": 1}
    update = ["SELECT", "UPDATE", "COMMIT"] if table.dialect.name == "mysql" else ["UPDATE"]
    assert statements == [*update, "SELECT", *update]
    assert stored(table)[5] == (101, 3)
    assert {k: v for k, v in stored(table).items() if k != 5} == {
        k: (1, 2) for k in range(1, 21) if k != 5
    }


def test_insert_many_reports_taken_and_repeated_keys_and_delete_many_keeps_tombstones(
    table: sa.Engine, make_repo: Any
) -> None:
    seed(table, 3)
    repo = make_repo(rows, token_column="tokens")
    repo.update(3, {"n": 1}, expected_version=1)
    deleted = repo.delete_many([(1, 1), (3, 2), (2, 5), (8, 1)])
    assert outcomes(deleted) == ["deleted", "deleted", "conflict", "not_found"]
    assert stored(table) == {2: (0, 1)}
    with counting() as statements:
        result = repo.insert_many(
            [
                {"id": 1, "n": 10},
                {"id": 2, "n": 20},
                {"id": 3, "n": 30},
                {"id": 4, "n": 40},
                {"id": 4, "n": 41},
                {"id": 5, "n": 50, "version": 1},
            ]
        )
    assert outcomes(result) == [
        "written",
        "already_exists",
        "written",
        "written",
        "invalid",
        "invalid",
    ]
    # inserted again past the versions they were deleted at: 1 and 2
    assert [item.version for item in result][:4] == [2, None, 3, 1]
    assert stored(table) == {1: (10, 2), 2: (0, 1), 3: (30, 3), 4: (40, 1)}
    if table.dialect.name == "mysql":  # no ON CONFLICT DO NOTHING: the taken key is read
        assert statements == ["INSERT", "SELECT", "INSERT"]
    else:
        assert statements == ["INSERT"]


def test_delete_many_is_a_constant_number_of_statements(table: sa.Engine, make_repo: Any) -> None:
    seed(table, 30)
    repo = make_repo(rows)
    repo.delete(30, expected_version=1)  # the tombstone table exists now
    with counting() as statements:
        result = repo.delete_many([(k, 1) for k in range(1, 30)])
    assert result.outcomes == {"deleted": 29}
    if table.dialect.name == "postgresql":
        assert statements == ["WITH"]  # the DELETE and its tombstones, one statement
    else:
        assert statements == ["DELETE", "INSERT", "COMMIT"]
    assert stored(table) == {}
    again = repo.insert_many([{"id": k} for k in range(1, 30)])
    assert {item.version for item in again} == {2}


def test_all_or_nothing_writes_nothing_when_one_item_conflicts(
    table: sa.Engine, make_repo: Any
) -> None:
    seed(table, 3)
    repo = make_repo(rows, policy=Overwrite())
    repo.update(2, {"n": 5}, expected_version=1)
    result = repo.update_many([(k, {"n": 9}, 1) for k in (1, 2, 3)], atomic=True)
    assert outcomes(result) == ["aborted", "conflict", "aborted"]
    assert isinstance(result[0].error, occ.BatchAbortedError)
    assert stored(table) == {1: (0, 1), 2: (5, 2), 3: (0, 1)}
    done = repo.delete_many([(1, 1), (3, 1)], atomic=True)
    assert done.ok
    assert stored(table) == {2: (5, 2)}


def test_all_or_nothing_with_an_invalid_item_sends_nothing(
    table: sa.Engine, make_repo: Any
) -> None:
    seed(table, 2)
    repo = make_repo(rows)
    repo.get(1)
    with counting() as statements:
        result = repo.update_many([(1, {"n": 1}, 1), (2, {"n": 2}, None)], atomic=True)
    assert outcomes(result) == ["aborted", "invalid"]
    assert statements == []
    assert stored(table) == {1: (0, 1), 2: (0, 1)}


def test_all_or_nothing_inside_a_callers_session_rolls_back_to_a_savepoint(
    table: sa.Engine,
) -> None:
    seed(table, 3)
    with Session(table) as session:
        repo = occ.sql.Repository(session, rows)
        first = repo.update_many([(1, {"n": 1}, 1)])  # joins the session's transaction
        failed = repo.update_many([(2, {"n": 2}, 1), (3, {"n": 3}, 7)], atomic=True)
        assert outcomes(failed) == ["aborted", "conflict"]
        session.commit()
    assert first.ok
    assert stored(table) == {1: (1, 2), 2: (0, 1), 3: (0, 1)}


def test_a_batch_above_max_batch_is_refused_before_anything_is_sent(
    table: sa.Engine, make_repo: Any
) -> None:
    seed(table, 3)
    repo = make_repo(rows)
    getattr(repo, "_repo", repo).max_batch = 2  # (the async one is wrapped)
    with counting() as statements:
        with pytest.raises(occ.ValidationError, match="max_batch"):
            repo.update_many([(k, {"n": 1}, 1) for k in (1, 2, 3)])
        assert len(repo.insert_many([])) == 0
    assert statements == []
    assert stored(table) == dict.fromkeys((1, 2, 3), (0, 1))


def test_another_unique_index_fails_only_its_item_or_the_whole_all_or_nothing_batch(
    db: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(users)
    repo.insert({"id": 1, "email": "a@x"})
    result = repo.insert_many([{"id": 2, "email": "b@x"}, {"id": 3, "email": "a@x"}])
    assert outcomes(result) == ["written", "error"]
    assert isinstance(result[1].error, sa.exc.IntegrityError)
    with pytest.raises(sa.exc.IntegrityError):
        repo.insert_many([{"id": 4, "email": "c@x"}, {"id": 5, "email": "a@x"}], atomic=True)
    with db.connect() as conn:
        assert conn.execute(sa.select(users.c.id).order_by(users.c.id)).scalars().all() == [1, 2]


def test_composite_keys_generated_keys_and_timestamp_versions(
    db: sa.Engine, make_repo: Any
) -> None:
    stock_repo = make_repo(stock)
    made = stock_repo.insert_many([{"warehouse": "n", "sku": s, "qty": 1} for s in "abc"])
    assert made.ok
    result = stock_repo.update_many([(("n", "a"), {"qty": 5}, 1), (("n", "b"), {"qty": 6}, 2)])
    assert outcomes(result) == ["written", "conflict"]
    assert outcomes(stock_repo.delete_many([(("n", "c"), 1)])) == ["deleted"]
    found = stock_repo.get_many([("n", "a"), ("s", "a"), ("n", "c")])
    assert [v.value["qty"] for v in found] == [5]
    assert found.missing == (("s", "a"), ("n", "c"))

    item_repo = make_repo(Item, version_column="rev")
    items = item_repo.insert_many([Item(sku=f"s{i}") for i in range(5)])
    keys = [item.key for item in items]
    assert keys == sorted(keys)
    assert len(set(keys)) == 5
    assert [item.value.value.sku for item in items if item.value] == [f"s{i}" for i in range(5)]

    # Timestamp versions: one statement per item, the same outcomes.
    stamps = make_repo(stamped, version_column="updated", version_type="timestamp")
    made = stamps.insert_many([{"id": 1, "body": "a"}, {"id": 2, "body": "b"}])
    old = dt.datetime(2000, 1, 1)
    result = stamps.update_many(
        [(1, {"body": "A"}, made[0].version), (2, {"body": "B"}, old), (3, {"body": "C"}, 1)]
    )
    assert outcomes(result) == ["written", "conflict", "invalid"]


def test_rows_without_a_version_are_written_expecting_0(table: sa.Engine, make_repo: Any) -> None:
    with table.begin() as conn:
        conn.execute(rows.insert(), [{"id": k, "n": 0, "version": None} for k in (1, 2, 3)])
    repo = make_repo(rows)
    assert repo.update_many([(1, {"n": 1}, 0), (2, {"n": 1}, 1)]).outcomes == {
        "written": 1,
        "conflict": 1,
    }
    assert outcomes(repo.delete_many([(2, 0), (3, 1)])) == ["deleted", "conflict"]
    assert stored(table) == {1: (1, 1), 3: (0, None)}


def test_query_filters_orders_and_limits_and_scan_pages_by_key(
    table: sa.Engine, make_repo: Any
) -> None:
    with table.begin() as conn:
        conn.execute(rows.insert(), [{"id": k, "n": k % 3, "version": 1} for k in range(1, 21)])
    repo = make_repo(rows)
    assert [v.key for v in repo.query(rows.c.n == 1, limit=3)] == [1, 4, 7]
    assert [v.key for v in repo.query({"n": 2}, order_by="-id", limit=2)] == [20, 17]
    assert [v.key for v in repo.query(order_by=["-n", "-version"], limit=2)] == [2, 5]
    with pytest.raises(occ.ValidationError, match="no field"):
        repo.query(order_by="nope")
    with counting() as statements:
        keys = scanned(repo, rows.c.n == 0, page_size=3)
    assert keys == [3, 6, 9, 12, 15, 18]
    assert statements == ["SELECT"] * 3  # 3 + 3, then an empty page
    assert scanned(repo, None, page_size=7, after=15) == [16, 17, 18, 19, 20]
    accounts = make_repo(Account)
    accounts.insert_many([Account(id=k, owner="o", balance=k) for k in (1, 2, 3)])
    assert [v.key for v in accounts.query(Account.balance >= 2)] == [2, 3]


def scanned(repo: Any, where: Any, **options: Any) -> list[Any]:
    pages = repo.scan(where, **options)
    if hasattr(pages, "__aiter__"):  # the async repository, driven from this sync test

        async def collect() -> list[Any]:
            return [v.key async for v in pages]

        loop: asyncio.AbstractEventLoop = repo._loop
        return loop.run_until_complete(collect())
    return [v.key for v in pages]


def test_batches_of_an_entity_with_an_outbox_emit_one_event_per_write_that_applied(
    engine: sa.Engine,
) -> None:
    from tests.sync.models import make_source, outbox_rows, profile

    table, outbox = make_source(engine)
    repo = occ.sql.Repository(engine, table, outbox=outbox)
    assert repo.insert_many([profile(k) for k in (1, 2, 3)]).ok
    repo.update(2, {"name": "theirs"}, expected_version=1)
    result = repo.update_many([(k, {"name": "batch"}, 1) for k in (1, 2, 3)])
    assert outcomes(result) == ["written", "conflict", "written"]
    assert outcomes(repo.delete_many([(3, 2), (1, 1)])) == ["deleted", "conflict"]
    events = [(r.operation, r.entity_key, r.version) for r in outbox_rows(engine, outbox.table)]
    assert events == [
        ("insert", "[1]", 1),
        ("insert", "[2]", 1),
        ("insert", "[3]", 1),
        ("update", "[2]", 2),
        ("update", "[1]", 2),
        ("update", "[3]", 2),
        ("delete", "[3]", 2),
    ]
