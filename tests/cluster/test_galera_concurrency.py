"""Writers through all three Galera nodes at once, on the same hot rows: nothing lost.

Two writers on two nodes both match ``WHERE version = v`` locally; Galera
certifies their transactions in one total order at commit, and the loser
fails certification (error 1213, or the server's own retry of an autocommit
statement, which then matches no row). Each test checks what the server
counted (``wsrep_local_cert_failures``: the contention really happened) and
that every acknowledged write is stored exactly once — the history checker
for ``modify``, counter totals for the other paths. Final states are read
with ``wsrep_sync_wait = 1`` (a causal read: the node first applies every
write certified before it).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session

import occ
import occ.sql
from occ import RetryPolicy
from occ.conflicts.sql import ConflictStore
from occ.resolvers import Alert, Counter, Merge
from occ.sql import AsyncRepository, Repository
from occ.testing import (
    AsyncWorkload,
    Workload,
    acounter_workload,
    ahammer,
    counter_workload,
    hammer,
)
from tests.adopt.models import Order, create_tables, stored
from tests.backends import Backend
from tests.cluster.wsrep import counters, session_settings, since
from tests.resolvers.models import STORE_TABLE, fresh
from tests.resolvers.models import Counter as Row
from tests.sql.models import Account, create_all

KEYS = (1,)
WRITERS = 6
OPS = 300
RETRY = RetryPolicy(attempts=200, max_delay=0.02)


def _new(key: int) -> Account:
    return Account(id=key, owner=f"o{key}", balance=0, note="")


@pytest.fixture
def causal(galera_nodes: list[Backend]) -> Iterator[sa.Engine]:
    """The first node, every read causal (``wsrep_sync_wait = 1``)."""
    engine = sa.create_engine(galera_nodes[0].url)
    session_settings(engine, wsrep_sync_wait=1)
    yield engine
    occ.sql.dispose(engine)


def spread(workloads: list[Workload], reader: Workload) -> Workload:
    """One workload whose operations go to each node's workload in turn."""
    turn = itertools.cycle(workloads)
    lock = threading.Lock()

    def write(key: Any, token: str) -> Any:
        with lock:
            workload = next(turn)
        return workload.write(key, token)

    return Workload(
        write=write,
        read=reader.read,
        reset=reader.reset,
        counters=reader.counters,
        deltas=reader.deltas,
    )


@pytest.mark.parametrize("retry_autocommit", [1, 0], ids=["server-retries", "no-server-retry"])
def test_modify_through_three_nodes_ends_exact_though_certification_failed(
    galera_nodes: list[Backend], causal: sa.Engine, retry_autocommit: int
) -> None:
    create_all(causal)
    engines = [sa.create_engine(n.url, pool_size=4) for n in galera_nodes]
    try:
        for engine in engines:
            session_settings(engine, wsrep_retry_autocommit=retry_autocommit)
        repos = [Repository(e, Account, retry=RETRY) for e in engines]
        per_node = [
            counter_workload(r, new=_new, field="balance", token_field="note") for r in repos
        ]
        reader = counter_workload(
            Repository(causal, Account), new=_new, field="balance", token_field="note"
        )
        before = counters(engines)
        run = hammer(spread(per_node, reader), KEYS, writers=WRITERS, ops=OPS, seconds=120)
        moved = since(before, engines)
    finally:
        for engine in engines:
            occ.sql.dispose(engine)
    report = run.check()
    assert report.committed == OPS, str(report)
    assert sum(run.final[k].values["balance"] for k in KEYS) == OPS
    assert moved["wsrep_local_cert_failures"] > 0, moved
    assert sum(r.stats.conflicts for r in repos) > 0


async def test_async_tasks_through_three_nodes_end_exact(
    galera_nodes: list[Backend], causal: sa.Engine
) -> None:
    create_all(causal)
    engines: list[AsyncEngine] = [create_async_engine(n.async_url) for n in galera_nodes]
    sync_engines = [sa.create_engine(n.url) for n in galera_nodes]
    reader_engine = create_async_engine(galera_nodes[0].async_url)
    session_settings(reader_engine, wsrep_sync_wait=1)
    try:
        repos = [AsyncRepository(e, Account, retry=RETRY) for e in engines]
        per_node = [
            acounter_workload(r, new=_new, field="balance", token_field="note") for r in repos
        ]
        turn = itertools.cycle(per_node)

        async def write(key: Any, token: str) -> Any:
            return await next(turn).write(key, token)

        reader = acounter_workload(
            AsyncRepository(reader_engine, Account),
            new=_new,
            field="balance",
            token_field="note",
        )
        workload = AsyncWorkload(
            write=write, read=reader.read, reset=reader.reset, counters=reader.counters
        )
        before = counters(sync_engines)
        run = await ahammer(workload, KEYS, writers=WRITERS, ops=OPS, seconds=120)
        moved = since(before, sync_engines)
    finally:
        for engine in [*engines, reader_engine]:
            await occ.sql.adispose(engine)
        for sync in sync_engines:
            sync.dispose()
    report = run.check()
    assert report.committed == OPS, str(report)
    assert moved["wsrep_local_cert_failures"] + moved["wsrep_local_bf_aborts"] > 0, moved


def hammer_threads(op: Any, writers: int, ops: int) -> list[BaseException]:
    """Run ``op(writer)`` ``ops`` times over ``writers`` threads; the errors they raised."""
    errors: list[BaseException] = []
    budget = iter(range(ops))
    lock = threading.Lock()
    start = threading.Barrier(writers)

    def writer(w: int) -> None:
        start.wait()
        while True:
            with lock:
                if next(budget, None) is None:
                    return
            try:
                op(w)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    return errors


def test_merged_updates_across_nodes_add_up_with_every_conflict_in_the_store(
    node_engines: list[sa.Engine], causal: sa.Engine
) -> None:
    # update() on MariaDB is UPDATE then SELECT in one transaction: certified at its COMMIT.
    store = fresh(causal)
    policy = Alert(ConflictStore(causal, STORE_TABLE), then=Merge(fields={"hits": Counter()}))
    repos = [Repository(e, Row, policy=policy, retry=RETRY) for e in node_engines]
    repos[0].insert(Row(id=1, hits=0))
    before = counters(node_engines)

    def increment(w: int) -> None:
        repo = repos[w % len(repos)]
        snap = repo.get(1)
        repo.update(1, {"hits": snap.value.hits + 1}, expected_version=snap.version, base=snap)

    errors = hammer_threads(increment, WRITERS, OPS)
    moved = since(before, node_engines)
    assert not errors, errors[0]
    final = Repository(causal, Row).get(1)
    assert (final.value.hits, final.version) == (OPS, OPS + 1)
    merged = sum(r.stats.snapshot()["decisions"].get("merged", 0) for r in repos)
    assert merged > 0
    assert store.count(status="pending") == merged
    assert moved["wsrep_local_cert_failures"] + moved["wsrep_local_bf_aborts"] > 0, moved


def test_orm_flushes_across_nodes_commit_once_or_abort_whole(
    node_engines: list[sa.Engine], causal: sa.Engine
) -> None:
    # Each write is a versioned UPDATE in the session's transaction: a stale one raises
    # ConflictError in the flush; one that loses certification fails at COMMIT (1213),
    # and the whole transaction is gone. Neither is ever applied.
    create_tables(causal)
    with Session(causal) as s, s.begin():
        s.add(Order(id=1, customer="ada", total=0))
    committed = [0] * WRITERS
    aborted = [0] * WRITERS
    before = counters(node_engines)

    def increment(w: int) -> None:
        with Session(node_engines[w % len(node_engines)]) as s:
            order = s.get_one(Order, 1)
            order.total += 1
            try:
                s.commit()
            except occ.ConflictError:
                aborted[w] += 1
            except sa.exc.OperationalError as exc:
                if not occ.sql.is_serialization_failure(exc):
                    raise
                aborted[w] += 1
            else:
                committed[w] += 1

    errors = hammer_threads(increment, WRITERS, OPS)
    moved = since(before, node_engines)
    assert not errors, errors[0]
    row = stored(causal, Order.__table__, 1)
    assert row is not None
    assert (row["total"], row["version"]) == (sum(committed), sum(committed) + 1)
    assert sum(aborted) > 0
    assert moved["wsrep_local_cert_failures"] + moved["wsrep_local_bf_aborts"] > 0, moved
