"""Real concurrency: threads and tasks hammer hot keys; the checker finds nothing lost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import occ.sql
from occ._core.steps import Point
from occ.testing import (
    InMemoryRepository,
    Workload,
    Written,
    acounter_workload,
    ahammer,
    counter_workload,
    hammer,
)
from tests.testing.workloads import KEYS, counters, new_counter


def test_threads_hammering_occ_repository_lose_nothing(tables: sa.Engine) -> None:
    # Each modify() sleeps between its read and its write, so writers interleave.
    repo: Any = occ.sql.Repository(tables, counters, on_point=_pause_before_write)
    run = hammer(counter_workload(repo, new=new_counter), KEYS, writers=4, ops=80, seconds=20)
    report = run.check()
    assert report.operations == 80
    assert report.committed + len([op for op in run.history if op.outcome == "conflict"]) == 80
    assert repo.stats.conflicts > 0, "the writers never collided: nothing was tested"


async def test_tasks_hammering_async_occ_repository_lose_nothing(atables: AsyncEngine) -> None:
    repo: Any = occ.sql.AsyncRepository(atables, counters, on_point=_apause_before_write)
    workload = acounter_workload(repo, new=new_counter)
    run = await ahammer(workload, KEYS, writers=4, ops=80, seconds=20)
    assert run.check().operations == 80
    assert repo.stats.conflicts > 0, "the writers never collided: nothing was tested"


def _pause_before_write(point: Point) -> None:
    if point.name == "before_write":
        time.sleep(0.003)


async def _apause_before_write(point: Point) -> None:
    if point.name == "before_write":
        await asyncio.sleep(0.003)


def test_hammer_stops_by_itself_when_time_runs_out() -> None:
    repo = InMemoryRepository()

    def slow(key: Any, token: str) -> Written:
        time.sleep(0.05)
        return base.write(key, token)

    base = counter_workload(repo, new=new_counter)
    workload = Workload(write=slow, read=base.read, reset=base.reset, counters=base.counters)
    run = hammer(workload, KEYS, writers=2, ops=10_000, seconds=0.3)
    # stopped by the clock, far short of the operation budget
    assert 0 < len(run.history) < 100
    run.check()
