"""InMemoryRepository behaves like the SQL repositories on the same operation sequences."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import occ
import occ.sql
from occ.resolvers import Discard, Overwrite
from occ.testing import AsyncInMemoryRepository, InMemoryRepository
from tests.sql.models import clear_tombstones
from tests.testing.workloads import pairs

ids = st.integers(1, 3)
versions = st.integers(0, 4)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), ids, st.integers(0, 9), st.sampled_from(["x", "y"])),
        st.tuples(st.just("get"), ids),
        st.tuples(st.just("find"), ids),
        st.tuples(st.just("update"), ids, versions, st.integers(0, 9)),
        st.tuples(st.just("delete"), ids, versions),
        st.tuples(st.just("modify"), ids, st.integers(1, 3)),
        st.tuples(st.just("save"), ids, st.sampled_from(["x", "y", "z"])),
    ),
    max_size=12,
)


def apply(repo: Any, op: tuple[Any, ...]) -> Any:
    """Run one operation; the observable outcome: a (value, version) or an error type."""
    name, key, *args = op
    try:
        if name == "insert":
            got = repo.insert({"id": key, "a": args[0], "b": args[1]})
        elif name == "get":
            got = repo.get(key)
        elif name == "find":
            got = repo.find(key)
        elif name == "update":
            got = repo.update(key, {"a": args[1]}, expected_version=args[0])
        elif name == "delete":
            return repo.delete(key, expected_version=args[0])
        elif name == "modify":
            got = repo.modify(key, lambda v: {**v, "a": v["a"] + args[0]})
        else:
            snap = repo.get(key)
            snap.value["b"] = args[0]
            got = repo.save(snap)
    except occ.OCCError as exc:
        return type(exc).__name__
    return None if got is None else (dict(got.value), got.version, got.key)


def test_in_memory_repository_behaves_like_sql(tables: sa.Engine) -> None:
    @settings(database=None)
    @given(operations, st.sampled_from([None, Discard(), Overwrite()]))
    def prop(ops: list[tuple[Any, ...]], policy: Any) -> None:
        with tables.begin() as conn:
            conn.execute(pairs.delete())
        clear_tombstones(tables)  # each example starts afresh, as the new memory repository
        sql: Any = occ.sql.Repository(tables, pairs, policy=policy)
        memory = InMemoryRepository(key="id", name="occ_t5_pair", policy=policy)
        for op in ops:
            assert apply(memory, op) == apply(sql, op), op

    prop()


def test_async_in_memory_repository_gives_the_same_answers_as_the_sync_one() -> None:
    class Synced:
        def __init__(self, repo: AsyncInMemoryRepository) -> None:
            self.repo = repo

        def __getattr__(self, name: str) -> Any:
            method = getattr(self.repo, name)
            return lambda *a, **kw: asyncio.run(method(*a, **kw))

    @settings(database=None)
    @given(operations)
    def prop(ops: list[tuple[Any, ...]]) -> None:
        sync, other = InMemoryRepository(), Synced(AsyncInMemoryRepository())
        for op in ops:
            assert apply(sync, op) == apply(other, op), op

    prop()


def test_in_memory_conflict_carries_the_stored_state_and_policy_applies() -> None:
    repo = InMemoryRepository(key="sku")
    repo.insert({"sku": "a", "qty": 1})
    repo.update("a", {"qty": 2}, expected_version=1)
    with pytest.raises(occ.ConflictError) as info:
        repo.update("a", {"qty": 5}, expected_version=1, base={"qty": 1})
    c = info.value.conflict
    assert (c.expected_version, c.actual_version, c.theirs, c.mine) == (
        1,
        2,
        {"qty": 2},
        {"qty": 5},
    )
    assert repo.stats.conflicts == 1
    with pytest.raises(occ.ValidationError, match="is the version"):
        repo.update("a", {"version": 9}, expected_version=2)
    with pytest.raises(occ.AlreadyExistsError):
        repo.insert({"sku": "a"})


async def test_async_in_memory_modify_accepts_an_async_function() -> None:
    repo = AsyncInMemoryRepository()
    await repo.insert({"id": 1, "n": 0})

    async def bump(value: dict[str, Any]) -> dict[str, Any]:
        value["n"] += 1
        return value

    done = await repo.modify(1, bump)
    assert (done.version, done.value) == (2, {"id": 1, "n": 1, "version": 2})
