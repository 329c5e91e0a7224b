"""The pytest plugin's fixtures: a history, and a repository per configured backend."""

from __future__ import annotations

from typing import Any

from occ.testing import History, Schedule, counter_workload, run_schedule
from tests.testing.workloads import counters, new_counter


def test_occ_history_is_fresh(occ_history: History) -> None:
    assert len(occ_history) == 0


def test_occ_repository_runs_schedules_on_each_backend(
    occ_repository: Any, occ_backend: str
) -> None:
    repo = occ_repository(counters)
    workload = counter_workload(repo, new=new_counter)
    run = run_schedule(workload, Schedule(plans=((0,), (0,)), order=(0, 1)), [1])
    assert run.check().committed == 2
    assert repo.stats.conflicts == 1
    assert occ_backend in ("memory", "sqlite")
