"""How many schedules per second the interleaving harness explores, on a real database.

    python -m tests.testing.bench_schedules sqlite:///bench.db
    python -m tests.testing.bench_schedules mysql+pymysql://root@127.0.0.1:3306/occ_testing

Hypothesis draws schedules (2-3 writers, 1-2 keys, 1-2 operations each); each
example resets the keys, runs the occ counter workload in lockstep and checks
the history. Then the naive writer runs through the same harness and the
shrunk failing schedule is printed.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import sqlalchemy as sa
from hypothesis import given, settings

import occ.sql
from occ.testing import HistoryAnomalyError, Schedule, counter_workload, on_point, run_schedule
from tests.testing.test_interleavings import EVERY
from tests.testing.workloads import KEYS, counters, create_tables, naive_workload, new_counter


def main(url: str, examples: int = 300) -> None:
    engine = sa.create_engine(url)
    create_tables(engine)
    repo: Any = occ.sql.Repository(engine, counters, on_point=on_point)
    workload = counter_workload(repo, new=new_counter)
    count = 0

    @settings(max_examples=examples, database=None, deadline=None)
    @given(EVERY)
    def explore(schedule: Schedule) -> None:
        nonlocal count
        count += 1
        run_schedule(workload, schedule, KEYS).check()

    began = time.perf_counter()
    explore()
    elapsed = time.perf_counter() - began
    print(
        f"{engine.dialect.name}: {count} schedules in {elapsed:.2f}s = "
        f"{count / elapsed:.0f} schedules/s (occ counter workload, all passed; "
        f"{repo.stats.conflicts} conflicts met)"
    )

    naive = naive_workload(engine)

    @settings(database=None, deadline=None)
    @given(EVERY)
    def naive_loses_nothing(schedule: Schedule) -> None:
        run_schedule(naive, schedule, KEYS).check()

    try:
        naive_loses_nothing()
    except HistoryAnomalyError as exc:
        print("naive writer:", *getattr(exc, "__notes__", []), sep="\n  ")
        print(exc)
    occ.sql.dispose(engine)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///bench.db")
