"""Helpers to property-test concurrent writers (``pip install 'occ[testing]'``).

- :class:`History` records what each writer read and wrote; :func:`check_history`
  proves, in linear time per key, that no update was lost.
- :func:`run_schedule` / :func:`arun_schedule` run writers in lockstep under a
  :class:`Schedule` that :func:`schedules` (a Hypothesis strategy) generates.
- :func:`hammer` / :func:`ahammer` run them for real, bounded in count and time.
- :class:`InMemoryRepository` / :class:`AsyncInMemoryRepository` run the same
  core flows as the SQL and MongoDB repositories, over a dict.

Submodules, imported on their own (they need the drivers):
:mod:`occ.testing.databases` gives each test run a private database on a
MariaDB, PostgreSQL or MongoDB server; :mod:`occ.testing.mongo_server` starts
an ``nx-27017`` MongoDB emulator for tests; :mod:`occ.testing.pytest_plugin`
is the pytest plugin (fixtures, Hypothesis profiles), loaded automatically.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401  (schedules() and the property helpers need it)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the extra
    raise ImportError(
        f"occ.testing needs Hypothesis ({exc.name or 'hypothesis'} is missing), which the "
        "testing extra installs: pip install 'occ[testing]'",
        name=exc.name,
    ) from exc

from occ.testing._async.counter import acounter_workload
from occ.testing._async.memory import AsyncInMemoryRepository
from occ.testing._async.runner import ahammer, arun_schedule
from occ.testing._check import ANOMALIES, Anomaly, HistoryAnomalyError, Report, check_history
from occ.testing._history import OUTCOMES, History, HistoryError, Operation, State
from occ.testing._replicas import ReplicaLog, check_replicas
from occ.testing._run import Run
from occ.testing._schedule import (
    Schedule,
    ScheduleTimeoutError,
    Turn,
    acheckpoint,
    checkpoint,
    on_point,
)
from occ.testing._sync.counter import counter_workload
from occ.testing._sync.memory import InMemoryRepository
from occ.testing._sync.runner import hammer, run_schedule
from occ.testing._workload import AsyncWorkload, Workload, Written
from occ.testing.strategies import schedules

__all__ = [
    "ANOMALIES",
    "OUTCOMES",
    "Anomaly",
    "AsyncInMemoryRepository",
    "AsyncWorkload",
    "History",
    "HistoryAnomalyError",
    "HistoryError",
    "InMemoryRepository",
    "Operation",
    "ReplicaLog",
    "Report",
    "Run",
    "Schedule",
    "ScheduleTimeoutError",
    "State",
    "Turn",
    "Workload",
    "Written",
    "acheckpoint",
    "acounter_workload",
    "ahammer",
    "arun_schedule",
    "check_history",
    "check_replicas",
    "checkpoint",
    "counter_workload",
    "hammer",
    "on_point",
    "run_schedule",
    "schedules",
]
