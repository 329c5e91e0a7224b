"""Real concurrency: threads and tasks hammer hot keys; the checker finds nothing lost."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import occ.sql
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
    repo: Any = occ.sql.Repository(tables, counters)
    run = hammer(counter_workload(repo, new=new_counter), KEYS, writers=4, ops=80, seconds=20)
    report = run.check()
    assert report.operations == 80
    assert report.committed + len([op for op in run.history if op.outcome == "conflict"]) == 80


async def test_tasks_hammering_async_occ_repository_lose_nothing(atables: AsyncEngine) -> None:
    repo: Any = occ.sql.AsyncRepository(atables, counters)
    workload = acounter_workload(repo, new=new_counter)
    run = await ahammer(workload, KEYS, writers=4, ops=80, seconds=20)
    assert run.check().operations == 80


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
