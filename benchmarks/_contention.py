"""Contention sweep: K writer threads increment random rows among H, until it succeeds.

Goodput is successful increments per second. ``occ`` retries a missed write
from a fresh read with its backoff; pessimistic locking waits on the row lock
instead. After each run the rows must hold exactly the increments that
succeeded: a lost update would stop the benchmark.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

import occ
import occ.sql
from benchmarks._backends import SQLBackend, item_table, reset_rows
from benchmarks._sql import _LOCK, _UPDATE_QTY, _add_one
from benchmarks._timing import Measured

__all__ = ["CONTENTION_SYSTEMS", "Cell", "count_stats", "drive", "run_cell", "total"]

t = item_table
#: ``occ``: ``modify`` at default settings (the lock fallback on); ``occ_nolock``: the same
#: with the fallback off; ``occ_increment``: ``increment()``; ``pessimistic``: SELECT FOR UPDATE.
CONTENTION_SYSTEMS = ("occ", "occ_nolock", "occ_increment", "pessimistic")


@dataclass
class Cell:
    """Totals of one system on one (writers, rows) cell over its rounds."""

    measured: Measured = field(default_factory=Measured)
    conflicts: int = 0
    retries: int = 0
    fallbacks: int = 0
    failed: int = 0


def _optimistic(repo: occ.sql.Repository[Any]) -> Callable[[int], None]:
    def op(key: int) -> None:
        repo.modify(key, _add_one)

    return op


def _increment(repo: occ.sql.Repository[Any]) -> Callable[[int], None]:
    def op(key: int) -> None:
        repo.increment(key, qty=1)

    return op


def _pessimistic(engine: sa.Engine) -> Callable[[int], None]:
    def op(key: int) -> None:
        with engine.begin() as conn:
            row = conn.execute(_LOCK, {"k": key}).one()
            params = {"k": key, "ev": row.version, "nv": row.version + 1, "qty": row.qty + 1}
            conn.execute(_UPDATE_QTY, params)

    return op


def total(engine: sa.Engine, first: int, rows: int) -> int:
    with engine.connect() as conn:
        stmt = sa.select(sa.func.coalesce(sa.func.sum(t.c.qty), 0)).where(
            t.c.id.between(first, first + rows - 1)
        )
        return int(conn.execute(stmt).scalar_one())


def drive(op: Callable[[random.Random], None], *, writers: int, seconds: float, into: Cell) -> int:
    """``writers`` threads call ``op(rng)`` until ``seconds`` pass; the calls that succeeded.

    A call that raises ``RetryExhaustedError`` counts as failed, not done; its
    latency is not recorded. Totals go into ``into``.
    """
    barrier = threading.Barrier(writers + 1)
    latencies: list[list[int]] = [[] for _ in range(writers)]
    failures = [0] * writers
    stop = threading.Event()

    def writer(n: int) -> None:
        rng = random.Random(n)
        lat = latencies[n]
        clock = time.perf_counter_ns
        barrier.wait()
        while not stop.is_set():
            t0 = clock()
            try:
                op(rng)
            except occ.RetryExhaustedError:
                failures[n] += 1
                continue
            lat.append(clock() - t0)

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(writers)]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join()
    done = sum(len(lat) for lat in latencies)
    into.measured.ops += done
    into.measured.seconds += time.perf_counter() - start
    for lat in latencies:
        into.measured.latencies_ns.extend(lat)
    into.failed += sum(failures)
    return done


def count_stats(repo: occ.sql.Repository[Any] | None, into: Cell) -> Callable[[], None]:
    """Call the result after a run: adds ``repo``'s conflicts, retries and fallbacks since now."""
    before = repo.stats.snapshot() if repo is not None else None

    def add() -> None:
        if repo is None or before is None:
            return
        after = repo.stats.snapshot()
        into.conflicts += after["conflicts"] - before["conflicts"]
        into.retries += after["retries"] - before["retries"]
        into.fallbacks += after["fallbacks"] - before["fallbacks"]

    return add


def run_cell(
    system: str,
    backend: SQLBackend,
    engine: sa.Engine,
    repos: dict[str, occ.sql.Repository[Any]],
    *,
    first: int,
    writers: int,
    rows: int,
    seconds: float,
    into: Cell,
) -> None:
    """One timed run of ``writers`` threads on ``rows`` rows starting at ``first``."""
    reset_rows(engine, first, rows)
    repo = repos.get(system)
    counted = count_stats(repo, into)
    if system == "pessimistic":
        op = _pessimistic(engine)
    else:
        assert repo is not None
        op = _increment(repo) if system == "occ_increment" else _optimistic(repo)
    done = drive(
        lambda rng: op(first + rng.randrange(rows)), writers=writers, seconds=seconds, into=into
    )
    stored = total(engine, first, rows)
    if stored != done:
        raise AssertionError(
            f"{system} on {backend.name}: {done} increments acknowledged, {stored} stored"
        )
    counted()
