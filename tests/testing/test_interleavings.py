"""Controlled interleavings on real databases: the naive writer loses updates, occ does not.

Each test drives writers in lockstep through the named points of the core flow
(``on_point=occ.testing.on_point``); Hypothesis chooses the schedules and, on
failure, shrinks to the smallest one, which replays exactly.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from sqlalchemy.ext.asyncio import AsyncEngine

import occ.sql
from occ.testing import (
    AsyncInMemoryRepository,
    AsyncWorkload,
    HistoryAnomalyError,
    InMemoryRepository,
    Run,
    Schedule,
    ScheduleTimeoutError,
    State,
    Workload,
    Written,
    acounter_workload,
    arun_schedule,
    checkpoint,
    counter_workload,
    on_point,
    run_schedule,
    schedules,
)
from tests.testing.workloads import (
    KEYS,
    async_naive_workload,
    counters,
    naive_workload,
    new_counter,
)

#: the smallest interleaving that loses an update: both read, then both write.
SHRUNK = Schedule(plans=((0,), (0,)), order=(0, 1))

EVERY = schedules(writers=(2, 3), keys=(1, 2), ops=(1, 2))


def shrunk_failure(check: Callable[[Schedule], Run]) -> tuple[HistoryAnomalyError, Schedule]:
    """Let Hypothesis find and shrink a failing schedule; return the error and the schedule."""

    @settings(database=None)
    @given(EVERY)
    def prop(schedule: Schedule) -> None:
        check(schedule).check()

    with pytest.raises(HistoryAnomalyError) as info:
        prop()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    match = re.search(r"replay exactly with: (Schedule\(.*\))", notes)
    assert match, notes
    schedule = eval(match.group(1), {"Schedule": Schedule})  # our own repr
    print(f"shrunk schedule: {schedule!r}\n{info.value}\n{notes}")
    return info.value, schedule


def test_naive_writer_is_reported_with_a_lost_update(tables: sa.Engine) -> None:
    naive = naive_workload(tables)
    error, schedule = shrunk_failure(lambda s: run_schedule(naive, s, KEYS))
    assert "lost-update" in error.kinds
    assert schedule == SHRUNK
    replayed = run_schedule(naive, schedule, KEYS)
    with pytest.raises(HistoryAnomalyError) as again:
        replayed.check()
    assert "lost-update" in again.value.kinds
    assert [(t.writer, t.point) for t in replayed.turns] == [
        (0, "after_read"),
        (1, "after_read"),
        (1, "before_write"),
        (0, "before_write"),
    ]


def test_occ_repository_passes_the_same_schedules(tables: sa.Engine) -> None:
    repo: Any = occ.sql.Repository(tables, counters, on_point=on_point)
    workload = counter_workload(repo, new=new_counter)

    @settings(database=None)
    @given(EVERY)
    def prop(schedule: Schedule) -> None:
        run_schedule(workload, schedule, KEYS).check()

    prop()
    assert run_schedule(workload, SHRUNK, KEYS).check().committed == 2
    assert repo.stats.conflicts > 0


def on_loop(loop: asyncio.AbstractEventLoop, workload: AsyncWorkload) -> Callable[[Schedule], Run]:
    """Run each schedule on the test's event loop, from Hypothesis in a worker thread."""

    def run(schedule: Schedule) -> Run:
        return asyncio.run_coroutine_threadsafe(
            arun_schedule(workload, schedule, KEYS), loop
        ).result()

    return run


async def test_async_naive_writer_is_reported_with_a_lost_update(atables: AsyncEngine) -> None:
    run = on_loop(asyncio.get_running_loop(), async_naive_workload(atables))
    error, schedule = await asyncio.to_thread(shrunk_failure, run)
    assert "lost-update" in error.kinds
    assert schedule == SHRUNK


async def test_async_occ_repository_passes_the_same_schedules(atables: AsyncEngine) -> None:
    repo: Any = occ.sql.AsyncRepository(atables, counters, on_point=on_point)
    run = on_loop(asyncio.get_running_loop(), acounter_workload(repo, new=new_counter))

    @settings(database=None)
    @given(EVERY)
    def prop(schedule: Schedule) -> None:
        run(schedule).check()

    await asyncio.to_thread(prop)
    assert repo.stats.conflicts > 0


def test_in_memory_repositories_pass_the_same_schedules() -> None:
    sync_repo = InMemoryRepository(on_point=on_point)
    async_repo = AsyncInMemoryRepository(on_point=on_point)

    @settings(database=None)
    @given(EVERY)
    def prop(schedule: Schedule) -> None:
        run_schedule(counter_workload(sync_repo, new=new_counter), schedule, KEYS).check()
        workload = acounter_workload(async_repo, new=new_counter)
        asyncio.run(arun_schedule(workload, schedule, KEYS)).check()

    prop()
    # The schedules really interleaved writers on one key: both repositories met conflicts.
    assert sync_repo.stats.conflicts > 0
    assert async_repo.stats.conflicts > 0


def test_a_schedule_replays_exactly(tables: sa.Engine) -> None:
    repo: Any = occ.sql.Repository(tables, counters, on_point=on_point)
    workload = counter_workload(repo, new=new_counter)
    schedule = Schedule(plans=((0, 1), (0, 0), (1,)), order=(0, 1, 2, 1, 0, 2, 1, 1, 0))
    first, second = (run_schedule(workload, schedule, KEYS) for _ in range(2))
    assert first.turns == second.turns
    assert [op.token for op in first.history] == [op.token for op in second.history]
    assert _relative(first) == _relative(second)  # versions climb across runs (tombstones)
    assert first.check().committed == 5


def _relative(run: Run) -> dict[Any, tuple[Any, Any]]:
    """Each key's final values, and its versions counted from where the run started."""
    start = run.history.initial_states
    return {k: (s.values, s.version - start[k].version) for k, s in run.final.items()}


def test_a_writer_that_never_reaches_its_next_point_fails_the_run() -> None:
    def write(key: Any, token: str) -> Written:
        checkpoint("after_read", key)
        time.sleep(1.0)  # blocked "in the database": never yields the turn
        return Written(1, 2)

    workload = Workload(write=write, read=lambda key: State(1, {}))
    with pytest.raises(ScheduleTimeoutError, match=r"waited 0\.2s"):
        run_schedule(workload, Schedule(plans=((0,), (0,)), order=(0, 0, 1)), [1], timeout=0.2)
