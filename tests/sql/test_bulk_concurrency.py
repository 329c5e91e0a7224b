"""Batches from concurrent writers on the same rows lose nothing (every SQL backend, threads).

Each round, every writer reads the same rows, adds one to each and writes
its batch back at once (a barrier lines them up), so their batches overlap
and conflict; each test asserts the conflicts happened before it asserts
the totals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

import occ.sql
from occ import RetryPolicy
from occ.resolvers import Merge
from occ.resolvers.rules import Counter
from tests.sql.test_bulk import md, rows, seed, stored

WRITERS, ROUNDS, KEYS = 4, 8, 20
PATIENT = RetryPolicy(attempts=100, base_delay=0.001, max_delay=0.02)


@pytest.fixture
def table(db: sa.Engine) -> Iterator[sa.Engine]:
    md.drop_all(db)
    md.create_all(db)
    seed(db, KEYS)
    yield db
    md.drop_all(db)


def together(body: Callable[[int, threading.Barrier], None]) -> None:
    """Run ``body(writer, barrier)`` in WRITERS threads; raise the first error."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def run(w: int) -> None:
        try:
            body(w, barrier)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    assert not errors, errors[0]


def test_overlapping_save_many_batches_merge_every_increment(table: sa.Engine) -> None:
    repo = occ.sql.Repository(table, rows, policy=Merge(fields={"n": Counter()}), retry=PATIENT)
    keys = list(range(1, KEYS + 1))

    def writer(w: int, barrier: threading.Barrier) -> None:
        for _ in range(ROUNDS):
            snaps = list(repo.get_many(keys))
            for snap in snaps:
                snap.value["n"] += 1
            barrier.wait()
            result = repo.save_many(snaps)
            assert result.ok, result.failed[:1]

    together(writer)
    print(repo.stats.snapshot())
    assert repo.stats.conflicts > 0, "the batches never overlapped: nothing was tested"
    assert {n for n, _ in stored(table).values()} == {WRITERS * ROUNDS}


def test_overlapping_all_or_nothing_batches_are_each_applied_whole_or_not_at_all(
    table: sa.Engine,
) -> None:
    repo = occ.sql.Repository(table, rows)
    keys = list(range(1, KEYS + 1))
    applied = [0] * WRITERS
    aborted = [0] * WRITERS

    def writer(w: int, barrier: threading.Barrier) -> None:
        for _ in range(ROUNDS):
            current = list(repo.get_many(keys))
            barrier.wait()
            items = [(v.key, {"n": v.value["n"] + 1}, v.version) for v in current]
            result = repo.update_many(items, atomic=True)
            if result.ok:
                applied[w] += 1
            else:
                assert {i.outcome for i in result} <= {"aborted", "conflict"}
                aborted[w] += 1

    together(writer)
    assert sum(aborted) > 0, "no batch ever conflicted: nothing was tested"
    assert sum(applied) > 0
    # every applied batch added one to every row, an aborted one to none
    assert {n for n, _ in stored(table).values()} == {sum(applied)}
    assert {v for _, v in stored(table).values()} == {1 + sum(applied)}
