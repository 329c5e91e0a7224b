"""``python -m benchmarks.clusters [--quick | --smoke]``: occ on a Galera cluster and a standby.

- ``contention`` on ``galera``: K writer threads ``modify`` random rows among H
  on a private three-node cluster, either **spread** over the three nodes
  (writer n on node n mod 3) or all through **one node**. Goodput, occ's
  conflicts and retries, the servers' certification failures and
  replication aborts (``wsrep_local_cert_failures`` + ``wsrep_local_bf_aborts``
  summed over the nodes), p99. The rows must end holding exactly the
  acknowledged increments (read causally, ``wsrep_sync_wait = 1``).
- ``read_modify_write`` on ``pg_standby``: one writer ``modify``s rows of a
  private PostgreSQL primary, reading them from the primary (``occ``) or from
  its streaming hot standby (``occ_replica``: ``replica=``), over 1,000 rows
  in turn and over one hot row. A read from the standby may miss the writer's
  own previous write: that is a conflict, and the re-read goes to the primary.

The clusters come from ``OCC_GALERA_URLS`` / ``OCC_PG_STANDBY`` when set
(``scripts/galera.py``, ``scripts/pg_standby.py``), else the run starts its
own and stops them. Results: ``benchmarks/results/clusters.json`` and
``clusters.md``. Ratios within the run are what to read (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import occ
import occ.sql
from benchmarks._backends import PREFIX, item_table, reset_rows
from benchmarks._sql import _add_one
from benchmarks._timing import Measured, interleave, record, timed_round
from benchmarks.cli import RESULTS, machine
from occ.testing.databases import private_database

__all__ = ["main"]

PLACEMENTS = ("spread", "one_node")
_WSREP = ("wsrep_local_cert_failures", "wsrep_local_bf_aborts")


@dataclass(frozen=True)
class Plan:
    """How long each part runs."""

    writers: tuple[int, ...]
    hot_rows: tuple[int, ...]
    rounds: int
    seconds: float
    rmw_rounds: int
    rmw_seconds: float


PLANS = {
    "full": Plan((3, 6, 12), (1, 10), 3, 2.0, 7, 1.0),
    "quick": Plan((6,), (1, 10), 2, 1.0, 3, 0.5),
    "smoke": Plan((3,), (1,), 1, 0.2, 1, 0.1),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def galera_urls() -> Iterator[list[str]]:
    given = os.environ.get("OCC_GALERA_URLS")
    if given:
        yield given.split()
        return
    from scripts.galera import galera_cluster

    with galera_cluster() as cluster:
        yield cluster.urls


@contextlib.contextmanager
def standby_urls() -> Iterator[tuple[str, str]]:
    given = os.environ.get("OCC_PG_STANDBY")
    if given:
        from scripts.pg_standby import load

        pair = load(given)
        yield pair.primary_url, pair.standby_url
        return
    from scripts.pg_standby import pg_pair

    with pg_pair() as started:
        yield started.primary_url, started.standby_url


def _on(url: str, database: str | None) -> str:
    return sa.make_url(url).set(database=database).render_as_string(hide_password=False)


def _wsrep(engines: list[sa.Engine]) -> int:
    total = 0
    for engine in engines:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SHOW GLOBAL STATUS WHERE Variable_name IN (%s, %s)", _WSREP
            )
            total += sum(int(value) for _, value in rows)
    return total


def _causal_total(url: str, first: int, rows: int) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET SESSION wsrep_sync_wait = 1")
            stmt = sa.select(sa.func.coalesce(sa.func.sum(item_table.c.qty), 0)).where(
                item_table.c.id.between(first, first + rows - 1)
            )
            return int(conn.execute(stmt).scalar_one())
    finally:
        engine.dispose()


@dataclass
class GaleraCell:
    measured: Measured
    conflicts: int = 0
    retries: int = 0
    failed: int = 0
    certification: int = 0


def _galera_round(
    urls: list[str],
    engines: list[sa.Engine],
    repos: list[occ.sql.Repository[Any]],
    placement: str,
    writers: int,
    rows: int,
    seconds: float,
    into: GaleraCell,
) -> None:
    first = 1_000_000
    reset_rows(engines[0], first, rows)
    time.sleep(0.2)  # let the reset reach every node before the clock starts
    before = [r.stats.snapshot() for r in repos]
    wsrep = _wsrep(engines)
    latencies: list[list[int]] = [[] for _ in range(writers)]
    failures = [0] * writers
    stop = threading.Event()
    barrier = threading.Barrier(writers + 1)

    def writer(n: int) -> None:
        repo = repos[n % len(repos)] if placement == "spread" else repos[0]
        rng = random.Random(n)
        barrier.wait()
        while not stop.is_set():
            key = first + rng.randrange(rows)
            t0 = time.perf_counter_ns()
            try:
                repo.modify(key, _add_one)
            except occ.RetryExhaustedError:
                failures[n] += 1
                continue
            latencies[n].append(time.perf_counter_ns() - t0)

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(writers)]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    done = sum(len(lat) for lat in latencies)
    stored = _causal_total(urls[0], first, rows)
    if stored != done:
        raise AssertionError(f"galera {placement}: {done} increments acknowledged, {stored} stored")
    into.measured.ops += done
    into.measured.seconds += elapsed
    for lat in latencies:
        into.measured.latencies_ns.extend(lat)
    into.failed += sum(failures)
    into.certification += _wsrep(engines) - wsrep
    for repo, was in zip(repos, before, strict=True):
        now = repo.stats.snapshot()
        into.conflicts += now["conflicts"] - was["conflicts"]
        into.retries += now["retries"] - was["retries"]


def galera_contention(plan: Plan) -> list[dict[str, Any]]:
    """The contention sweep on a three-node cluster: spread over the nodes vs one node."""
    out = []
    with galera_urls() as servers, private_database(servers[0] + "mysql", prefix=PREFIX) as url:
        database = sa.make_url(url).database
        urls = [_on(s, database) for s in servers]
        log(f"galera: {len(urls)} nodes, database {database}")
        engines = [make_engine_for(u, max(plan.writers)) for u in urls]
        try:
            reset_rows(engines[0], 1, 1, create=True)
            retry = occ.RetryPolicy(attempts=100)
            repos = [occ.sql.Repository(e, item_table, retry=retry) for e in engines]
            for rows, writers in itertools.product(plan.hot_rows, plan.writers):
                cells = {p: GaleraCell(Measured()) for p in PLACEMENTS}
                for r in range(plan.rounds):
                    order = PLACEMENTS if r % 2 == 0 else PLACEMENTS[::-1]
                    for placement in order:
                        _galera_round(
                            urls,
                            engines,
                            repos,
                            placement,
                            writers,
                            rows,
                            plan.seconds,
                            cells[placement],
                        )
                summary = []
                for placement, cell in cells.items():
                    note = f"{cell.failed} gave up after 100 attempts" if cell.failed else None
                    out.append(
                        record(
                            "contention",
                            "galera",
                            f"occ_{placement}",
                            writers=writers,
                            rows=rows,
                            measured=cell.measured,
                            round_trips=None,
                            conflicts=cell.conflicts,
                            retries=cell.retries,
                            note=note,
                            certification_failures=cell.certification,
                        )
                    )
                    summary.append(
                        f"{placement} {cell.measured.ops_per_s:,.0f}/s "
                        f"({cell.conflicts} conflicts, {cell.certification} cert)"
                    )
                log(f"  galera K={writers} H={rows}: {', '.join(summary)}")
        finally:
            for engine in engines:
                occ.sql.dispose(engine)
    return out


def make_engine_for(url: str, writers: int) -> sa.Engine:
    return sa.create_engine(url, pool_size=max(5, writers + 2), max_overflow=4)


def replica_rmw(plan: Plan) -> list[dict[str, Any]]:
    """read_modify_write on a PostgreSQL primary, reading the primary or its hot standby."""
    out = []
    with (
        standby_urls() as (primary_url, standby_url),
        private_database(primary_url, prefix=PREFIX) as url,
    ):
        database = sa.make_url(url).database
        standby = _on(standby_url, database)
        primary_engine = sa.create_engine(url, pool_size=5)
        deadline = time.monotonic() + 60
        while True:  # the CREATE DATABASE reaches the standby by replication
            try:
                replica_engine = make_engine_for(standby, 1)
                with replica_engine.connect():
                    break
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        log(f"pg_standby: primary and standby, database {database}")
        try:
            reset_rows(primary_engine, 1, 1, create=True)
            for rows in (1000, 1):
                systems = {
                    "occ": occ.sql.Repository(primary_engine, item_table),
                    "occ_replica": occ.sql.Repository(
                        primary_engine, item_table, replica=replica_engine
                    ),
                }
                firsts = {"occ": 100_000, "occ_replica": 200_000}
                for first in firsts.values():
                    reset_rows(primary_engine, first, rows)
                time.sleep(0.5)  # let the standby apply the rows
                measured = interleave(
                    {n: _rmw(systems[n], firsts[n], rows) for n in systems},
                    rounds=plan.rmw_rounds,
                    seconds=plan.rmw_seconds,
                    max_ops=10**9,
                )
                summary = []
                for name, repo in systems.items():
                    stats = repo.stats.snapshot()
                    out.append(
                        record(
                            "read_modify_write",
                            "pg_standby",
                            name,
                            writers=1,
                            rows=rows,
                            measured=measured[name],
                            round_trips=None,
                            conflicts=stats["conflicts"],
                            retries=stats["retries"],
                        )
                    )
                    summary.append(
                        f"{name} {measured[name].ops_per_s:,.0f}/s ({stats['conflicts']} conflicts)"
                    )
                log(f"  read_modify_write rows={rows}: {', '.join(summary)}")
        finally:
            occ.sql.dispose(primary_engine)
            occ.sql.dispose(replica_engine)
    return out


def _rmw(repo: occ.sql.Repository[Any], first: int, rows: int) -> Any:
    """A timed runner of ``modify`` over rows ``first .. first+rows-1`` in turn."""
    keys = itertools.cycle(range(first, first + rows))

    def run(seconds: float, max_ops: int, into: Measured) -> None:
        timed_round(lambda k: repo.modify(k, _add_one), keys, seconds, max_ops, into)

    return run


def markdown(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"Run {meta['when']} ({meta['mode']}, {meta['seconds']} s) on {meta['machine']}.",
        "",
        "| workload | backend | system | K | H | ops/s | conflicts | certification failures "
        "| p50 ms | p99 ms | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        cert = r.get("certification_failures")
        lines.append(
            f"| {r['workload']} | {r['backend']} | {r['system']} | {r['writers']} | {r['rows']} "
            f"| {r['ops_per_s'] or 0:,.0f} | {r['conflicts']:,} "
            f"| {'-' if cert is None else f'{int(cert):,}'} "
            f"| {r['p50_ms'] if r['p50_ms'] is not None else '-'} "
            f"| {r['p99_ms'] if r['p99_ms'] is not None else '-'} | {r.get('note') or ''} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.clusters", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer cells and rounds")
    mode.add_argument("--smoke", action="store_true", help="a few operations of each part")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--only", choices=("galera", "pg_standby"), help="only this cluster (default: both)"
    )
    args = parser.parse_args(argv)
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = PLANS[name]
    started = dt.datetime.now(dt.UTC)
    records: list[dict[str, Any]] = []
    if args.only in (None, "galera"):
        records += galera_contention(plan)
    if args.only in (None, "pg_standby"):
        records += replica_rmw(plan)
    meta = {
        "mode": name,
        "when": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "seconds": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "clusters.json").write_text(
        json.dumps({"meta": meta, "records": records}, indent=1)
    )
    (args.out / "clusters.md").write_text(markdown(records, meta))
    log(f"wrote {args.out / 'clusters.json'} and clusters.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
