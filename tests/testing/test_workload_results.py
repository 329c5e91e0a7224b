"""Workloads built from write results: no token column needed, merged writes recorded right.

A writer's operation is recorded with the version its *successful* write was
based on (``Versioned.based_on``), so a ``get`` -> ``save`` writer under a
``Merge`` policy is checked as the chain it really made, with no faked version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings

import occ
import occ.sql
from occ.resolvers import Counter, Discard, Merge
from occ.testing import (
    HistoryAnomalyError,
    InMemoryRepository,
    Run,
    Schedule,
    State,
    Workload,
    Written,
    acounter_workload,
    arun_schedule,
    counter_workload,
    on_point,
    run_schedule,
    schedules,
)
from tests.sql.models import clear_tombstones

#: both writers read, then both write: the interleaving that loses an update.
BOTH_READ_FIRST = Schedule(plans=((0,), (0,)), order=(0, 1))
KEYS = (1, 2)

metadata = sa.MetaData()
#: a user's table: a counter and a version, no token column.
tallies = sa.Table(
    "occ_h5_tally",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer),
)


def by_writer(run: Run) -> dict[Any, tuple[Any, Any]]:
    """Each writer's (version read, version written) on key 1."""
    return {
        op.writer: (op.read_version, op.written_version)
        for op in run.history.operations
        if op.key == 1
    }


def new_tally(key: Any) -> dict[str, Any]:
    return {"id": key, "hits": 0}


@pytest.fixture
def tally_engine(engine: sa.Engine) -> Iterator[sa.Engine]:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    clear_tombstones(engine)  # versions of re-created keys start over in this fresh table
    yield engine
    metadata.drop_all(engine)


def save_workload(repo: Any, *, as_read: bool = False) -> Workload:
    """A user's own writer: get, add one in Python, save (the entity's policy merges).

    ``as_read`` records the version the writer read instead of the result's
    ``based_on``: what a workload had to do before results said it.
    """

    def write(key: Any, token: str) -> Written:
        snapshot = repo.get(key)
        snapshot.value["hits"] += 1
        result = repo.save(snapshot)
        written = Written.of(result, {"hits": result.value["hits"]}, {"hits": 1})
        if as_read:
            return Written(snapshot.version, result.version, written.values, written.deltas)
        return written

    def read(key: Any) -> State | None:
        found = repo.find(key)
        return None if found is None else State(found.version, {"hits": found.value["hits"]})

    def reset(key: Any) -> None:
        found = repo.find(key)
        if found is not None:
            repo.delete(key, expected_version=found.version)
        repo.insert(new_tally(key))

    return Workload(write=write, read=read, reset=reset, counters=("hits",))


def test_counter_workload_needs_no_token_column(tally_engine: sa.Engine) -> None:
    repo: Any = occ.sql.Repository(tally_engine, tallies, on_point=on_point)
    workload = counter_workload(repo, new=new_tally, field="hits")

    run = run_schedule(workload, BOTH_READ_FIRST, KEYS)
    report = run.check()
    assert report.committed == 2
    assert run.final[1] == State(3, {"hits": 2})
    assert by_writer(run) == {
        0: (2, 3),  # writer 0 read v1, met writer 1's v2, and retried from a fresh read
        1: (1, 2),
    }

    @settings(max_examples=20, database=None)
    @given(schedules(writers=(2, 3), keys=(1, 2), ops=(1, 2)))
    def loses_nothing(schedule: Schedule) -> None:
        run_schedule(workload, schedule, KEYS).check()

    loses_nothing()


def test_counter_workload_without_a_token_still_catches_a_lost_write() -> None:
    """The count a write stored identifies it: a final state that is not it is reported."""
    repo = InMemoryRepository(key="id")
    workload = counter_workload(repo, new=new_tally, field="hits")
    run = run_schedule(workload, Schedule(plans=((0,),), order=(0,)), KEYS)
    run.check()
    run.final[1] = State(run.final[1].version, {"hits": 7})
    with pytest.raises(HistoryAnomalyError) as info:
        run.check()
    assert {"lost-write", "counter-mismatch"} <= info.value.kinds


async def test_async_counter_workload_needs_no_token_column() -> None:
    from occ.testing import AsyncInMemoryRepository

    repo = AsyncInMemoryRepository(key="id", on_point=on_point)
    run = await arun_schedule(
        acounter_workload(repo, new=new_tally, field="hits"), BOTH_READ_FIRST, KEYS
    )
    assert run.check().committed == 2
    assert run.final[1].values == {"hits": 2}


def test_a_token_field_is_still_stamped_when_given() -> None:
    repo = InMemoryRepository(key="id")
    workload = counter_workload(
        repo, new=lambda key: {"id": key, "hits": 0, "who": ""}, field="hits", token_field="who"
    )
    run = run_schedule(workload, Schedule(plans=((0,),), order=(0,)), KEYS)
    assert run.final[1].values == {"hits": 1, "who": "w0.0"}


def test_a_zero_delta_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError, match="non-zero delta"):
        counter_workload(InMemoryRepository(key="id"), new=new_tally, field="hits", delta=0)


def test_merged_save_writer_is_checked_by_the_version_it_was_based_on(
    tally_engine: sa.Engine,
) -> None:
    merge = Merge(fields={"hits": Counter()})
    repo: Any = occ.sql.Repository(tally_engine, tallies, policy=merge, on_point=on_point)

    run = run_schedule(save_workload(repo), BOTH_READ_FIRST, KEYS)
    assert run.check().committed == 2
    assert run.final[1] == State(3, {"hits": 2})  # merged: both increments kept
    assert by_writer(run) == {0: (2, 3), 1: (1, 2)}  # writer 0 read v1, merged into v2

    # Recording the version the writer read reports a lost update that did not happen.
    faked = run_schedule(save_workload(repo, as_read=True), BOTH_READ_FIRST, KEYS)
    with pytest.raises(HistoryAnomalyError) as info:
        faked.check()
    assert "lost-update" in info.value.kinds


def test_written_of_refuses_a_write_that_stored_nothing() -> None:
    repo = InMemoryRepository(key="id", policy=Discard())
    repo.insert({"id": 1, "hits": 0})
    repo.update(1, {"hits": 1}, expected_version=1)
    discarded = repo.update(1, {"hits": 5}, expected_version=1)
    assert discarded.outcome == "discarded"
    with pytest.raises(ValueError, match="stored nothing"):
        Written.of(discarded)
    unchanged = repo.save(repo.get(1))
    with pytest.raises(ValueError, match="'unchanged'"):
        Written.of(unchanged)
    with pytest.raises(ValueError, match="'read'"):
        Written.of(repo.get(1))
    assert Written.of(repo.update(1, {"hits": 2}, expected_version=2)) == Written(2, 3)


def test_merged_outcome_is_what_the_result_says() -> None:
    repo = InMemoryRepository(key="id", policy=Merge(fields={"hits": Counter()}))
    repo.insert({"id": 1, "hits": 0})
    first, second = repo.get(1), repo.get(1)
    first.value["hits"] += 1
    second.value["hits"] += 1
    repo.save(first)
    merged = repo.save(second)
    assert (merged.outcome, merged.based_on, merged.version) == ("merged", 2, 3)
    assert Written.of(merged, {"hits": 2}) == Written(2, 3, {"hits": 2})
    assert isinstance(occ.Versioned, type)
