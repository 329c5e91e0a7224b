"""Transfers between two accounts: ``occ.sql.transaction`` against row locks.

Workload ``transfer``, MariaDB and PostgreSQL: K writer threads each move one
unit from one random account to another among H (at least two). ``occ``
reads both rows and writes both conditionally, in key order as the docs
advise, through a repository joined to one ``occ.sql.transaction``, which
runs the whole function again on a conflict or a deadlock; ``pessimistic``
locks both rows (``SELECT ... FOR UPDATE``, in key order, as a careful user
would, so it never deadlocks) and writes them. Every transfer keeps the sum
of the balances at zero: a run that ends elsewhere stops the benchmark.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator

import sqlalchemy as sa

import occ.sql
from benchmarks._backends import SQLBackend, item_table, reset_rows
from benchmarks._contention import Cell, drive, total
from benchmarks._sql import _LOCK, _UPDATE_QTY

__all__ = ["TRANSFER_SYSTEMS", "run_transfer"]

TRANSFER_SYSTEMS = ("occ", "pessimistic")


def _occ(engine: sa.Engine, attempts: Iterator[int]) -> Callable[[int, int], None]:
    def op(a: int, b: int) -> None:
        def move(conn: sa.Connection) -> None:
            next(attempts)
            repo = occ.sql.Repository(conn, item_table)
            # Read and write in key order, as the docs advise: an attempt after a
            # conflict reads under row locks, in this order, so never deadlocks.
            snaps = {key: repo.get(key) for key in sorted((a, b))}
            for key, snap in snaps.items():
                snap.value["qty"] += -1 if key == a else 1
                repo.save(snap)  # one UPDATE of the changed field, at the version read

        occ.sql.transaction(engine, move)

    return op


def _pessimistic(engine: sa.Engine) -> Callable[[int, int], None]:
    def op(a: int, b: int) -> None:
        with engine.begin() as conn:
            rows = {k: conn.execute(_LOCK, {"k": k}).one() for k in sorted((a, b))}
            for key, delta in ((a, -1), (b, 1)):
                row = rows[key]
                params = {"k": key, "ev": row.version, "nv": row.version + 1}
                conn.execute(_UPDATE_QTY, {**params, "qty": row.qty + delta})

    return op


def run_transfer(
    system: str,
    backend: SQLBackend,
    engine: sa.Engine,
    *,
    first: int,
    writers: int,
    rows: int,
    seconds: float,
    into: Cell,
) -> None:
    """One timed run of ``writers`` threads moving units among ``rows`` accounts."""
    reset_rows(engine, first, rows)
    attempts = itertools.count()  # next() is atomic: the threads share it
    failed_before = into.failed
    op = _occ(engine, attempts) if system == "occ" else _pessimistic(engine)

    def transfer(rng: random.Random) -> None:
        a, b = rng.sample(range(first, first + rows), 2)
        op(a, b)

    done = drive(transfer, writers=writers, seconds=seconds, into=into)
    if total(engine, first, rows) != 0:
        raise AssertionError(f"{system} on {backend.name}: transfers changed the sum")
    if system == "occ":  # attempts beyond one per transfer: conflicts and deadlocks retried
        into.retries += next(attempts) - done - (into.failed - failed_before)
