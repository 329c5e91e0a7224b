"""Soak: many ``occ`` writes on SQLite ``:memory:`` in a fresh process; memory must stay flat.

Run as ``python -m benchmarks._soak OPS``; prints one JSON object. Three ops in
four are blind ``save`` of a whole value, one in four an ``update`` of one of
seven field subsets (``RETURNING``), so several statement shapes are cached.
Resident memory is read from ``/proc/self/status`` after the first tenth of
the operations (start) and at the end; ``VmHWM`` is the peak.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import occ
import occ.sql
from benchmarks._backends import SQLBackend, make_engine, reset_rows
from benchmarks._backends import item_table as t
from benchmarks._counting import count_sql

__all__ = ["memory_mb", "soak"]

ROWS = 1000
SUBSETS = [
    fields for n in (1, 2, 3) for fields in itertools.combinations(("name", "qty", "note"), n)
]


def memory_mb() -> tuple[float, float]:
    """Resident and peak resident memory of this process, in MB (Linux), else zeros."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0.0, 0.0
    values = {}
    for line in status.read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return round(values.get("VmRSS", 0.0), 1), round(values.get("VmHWM", 0.0), 1)


def soak(ops: int) -> dict[str, Any]:
    backend = SQLBackend("sqlite_memory", "sqlite://", row_locks=False)
    engine = make_engine(backend)
    reset_rows(engine, 1, ROWS, create=True)
    repo: occ.sql.Repository[dict[str, Any]] = occ.sql.Repository(engine, t)
    versions = [1] * (ROWS + 1)

    def op(n: int) -> None:
        key = 1 + n % ROWS
        if n % 4 == 3:
            fields = SUBSETS[(n // 4) % len(SUBSETS)]
            changes = {f: (n if f == "qty" else f"s{n % 89}") for f in fields}
            done = repo.update(key, changes, expected_version=versions[key])
        else:
            value = {"id": key, "name": f"item-{n % 97}", "qty": n, "note": f"put {n}"}
            done = repo.save(occ.Versioned(value, versions[key], key))
        versions[key] = done.version  # type: ignore[assignment]

    with count_sql() as counter:
        for n in range(100):
            op(n)
    round_trips = counter.count / 100
    warm = max(1, ops // 10)
    samples: list[int] = []
    clock = time.perf_counter_ns
    start = clock()
    rss_start = peak_start = 0.0
    for n in range(100, 100 + ops):
        t0 = clock()
        op(n)
        if n % 64 == 0:
            samples.append(clock() - t0)
        if n == 100 + warm:
            rss_start, peak_start = memory_mb()
    seconds = (clock() - start) / 1e9
    rss_end, peak_end = memory_mb()
    samples.sort()
    return {
        "ops": ops,
        "seconds": seconds,
        "round_trips_per_op": round_trips,
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "peak_rss_start_mb": peak_start,
        "peak_rss_mb": peak_end,
        "latencies_ns": samples,
        "cached_statements": len(repo.records.statements),
    }


if __name__ == "__main__":
    print(json.dumps(soak(int(sys.argv[1]))))
