"""``python -m benchmarks [--quick | --smoke] [--out DIR] [--backends ...] [--workloads ...]``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import occ
import occ.sql
from benchmarks import _mongo, _sync
from benchmarks._backends import (
    IN_CI,
    SQLBackend,
    make_engine,
    private,
    reset_rows,
    sql_backends,
)
from benchmarks._bulk import bulk_sql
from benchmarks._construction import construction
from benchmarks._contention import CONTENTION_SYSTEMS, Cell, run_cell
from benchmarks._counting import count_sql
from benchmarks._outbox_cost import mongo_outbox_cost, outbox_cost, tokens_cost
from benchmarks._report import ratios, write_all
from benchmarks._soak import memory_mb
from benchmarks._sql import SQLSystem, make_system, systems_for
from benchmarks._timing import Measured, interleave, percentile, record, timed_round
from benchmarks._transfer import TRANSFER_SYSTEMS, run_transfer
from occ.testing.databases import DatabaseUnavailableError

__all__ = ["Settings", "main"]

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = (
    "blind_update",
    "read_modify_write",
    "contention",
    "soak",
    "bulk",
    "sync",
    "construction",
    "tokens",
)


@dataclass(frozen=True)
class Settings:
    """How long each part runs."""

    mode: str
    rounds: int
    seconds: float  # per system per round
    max_ops: int  # per system per round
    rows: int
    count_ops: int  # operations of the (untimed) round-trip counting pass
    writers: tuple[int, ...]
    hot_rows: tuple[int, ...]
    contention_rounds: int
    contention_seconds: float
    soak_ops: int
    bulk_rows: tuple[int, ...] = (10, 100, 1000)  # N, the rows of one batch
    bulk_count: int = 5  # batches of the (untimed) round-trip counting pass


MODES = {
    "full": Settings(
        "full", 9, 0.5, 10**9, 1000, 200, (1, 2, 4, 8, 16), (1, 10, 1000), 3, 1.0, 1_000_000
    ),
    "quick": Settings("quick", 3, 0.2, 10**9, 1000, 50, (1, 4, 16), (1, 1000), 2, 0.3, 50_000),
    "smoke": Settings("smoke", 1, 0.05, 5, 10, 5, (2,), (1,), 1, 0.1, 300, (10, 100), 1),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLAlchemy {sa.__version__}"
    )


# -- single writer: blind update and read-modify-write ----------------------------


def _runner(system: SQLSystem, op_name: str) -> Any:
    keys = system.keys()
    op = getattr(system, op_name)

    def run(seconds: float, max_ops: int, into: Measured) -> None:
        system.start_round()
        timed_round(op, keys, seconds, max_ops, into)

    return run


def _count(system: SQLSystem, op_name: str, ops: int) -> float:
    keys = system.keys()
    op = getattr(system, op_name)
    system.start_round()
    before = system.executed()
    with count_sql() as counter:
        for _ in range(ops):
            op(next(keys))
    return (counter.count + system.executed() - before) / ops


def single_writer(
    backend: SQLBackend, settings: Settings, workloads: set[str]
) -> list[dict[str, Any]]:
    engine = make_engine(backend)
    names = systems_for(backend)
    reset_rows(engine, 1, 1, create=True)
    systems: dict[str, SQLSystem] = {}
    for i, name in enumerate(names):
        first = 100_000 * (i + 1)
        reset_rows(engine, first, settings.rows)
        systems[name] = make_system(name, backend, engine, first, settings.rows)
    out = []
    try:
        for workload, op_name in (("blind_update", "blind"), ("read_modify_write", "rmw")):
            if workload not in workloads:
                continue
            log(f"  {workload}: {', '.join(names)}")
            runners = {name: _runner(s, op_name) for name, s in systems.items()}
            measured = interleave(
                runners, rounds=settings.rounds, seconds=settings.seconds, max_ops=settings.max_ops
            )
            for name, s in systems.items():
                trips = _count(s, op_name, settings.count_ops)
                out.append(
                    record(
                        workload,
                        backend.name,
                        name,
                        writers=1,
                        rows=settings.rows,
                        measured=measured[name],
                        round_trips=trips,
                    )
                )
    finally:
        for s in systems.values():
            s.close()
        occ.sql.dispose(engine)
    return out


# -- contention ---------------------------------------------------------------------


def contention(backend: SQLBackend, settings: Settings) -> list[dict[str, Any]]:
    """The contention sweep, then the transfer sweep, on one engine."""
    engine = make_engine(backend, writers=max(settings.writers))
    table = reset_table(engine)
    # Default settings: what a user gets (the lock fallback on, 10 attempts).
    repos: dict[str, occ.sql.Repository[Any]] = {
        "occ": occ.sql.Repository(engine, table),
        "occ_nolock": occ.sql.Repository(engine, table, lock_after=None),
        "occ_increment": occ.sql.Repository(engine, table),
    }

    def increments(name: str, first: int, k: int, h: int, cell: Cell) -> None:
        run_cell(name, backend, engine, repos, first=first, writers=k, rows=h,
                 seconds=settings.contention_seconds, into=cell)  # fmt: skip

    def transfers(name: str, first: int, k: int, h: int, cell: Cell) -> None:
        run_transfer(name, backend, engine, first=first, writers=k, rows=h,
                     seconds=settings.contention_seconds, into=cell)  # fmt: skip

    try:
        out = _sweep(
            "contention", backend, settings, CONTENTION_SYSTEMS, settings.hot_rows, increments
        )
        accounts = tuple(sorted({max(2, h) for h in settings.hot_rows}))
        return out + _sweep("transfer", backend, settings, TRANSFER_SYSTEMS, accounts, transfers)
    finally:
        occ.sql.dispose(engine)


def _sweep(
    workload: str,
    backend: SQLBackend,
    settings: Settings,
    systems: tuple[str, ...],
    hot_rows: tuple[int, ...],
    run: Callable[[str, int, int, int, Cell], None],
) -> list[dict[str, Any]]:
    """Every system at every (K writers, H rows) cell, in rounds whose order alternates."""
    out = []
    for h in hot_rows:
        for k in settings.writers:
            cells = {name: Cell() for name in systems}
            for r in range(settings.contention_rounds):
                for name in systems if r % 2 == 0 else systems[::-1]:
                    run(name, 1_000_000 * (systems.index(name) + 1), k, h, cells[name])
            summary = []
            for name, cell in cells.items():
                note = f"{cell.failed} gave up (RetryExhaustedError)" if cell.failed else None
                out.append(
                    record(
                        workload,
                        backend.name,
                        name,
                        writers=k,
                        rows=h,
                        measured=cell.measured,
                        round_trips=None,
                        conflicts=cell.conflicts,
                        retries=cell.retries,
                        fallbacks=cell.fallbacks,
                        failed=cell.failed,
                        note=note,
                    )
                )
                summary.append(f"{name} {cell.measured.ops_per_s:,.0f}/s")
            log(f"  {workload} K={k} H={h}: {', '.join(summary)}")
    return out


def reset_table(engine: sa.Engine) -> sa.Table:
    from benchmarks._backends import item_table

    reset_rows(engine, 1, 1, create=True)
    return item_table


# -- soak --------------------------------------------------------------------------


def soak(settings: Settings) -> list[dict[str, Any]]:
    """Run the soak in a fresh process, so its memory figures are its own."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._soak", str(settings.soak_ops)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    data = json.loads(proc.stdout)
    measured = Measured(ops=data["ops"], seconds=data["seconds"])
    lat = data["latencies_ns"]
    rec = record(
        "soak",
        "sqlite_memory",
        "occ",
        writers=1,
        rows=1000,
        measured=measured,
        round_trips=data["round_trips_per_op"],
        peak_rss_mb=data["peak_rss_mb"],
        rss_start_mb=data["rss_start_mb"],
        rss_end_mb=data["rss_end_mb"],
        peak_rss_start_mb=data["peak_rss_start_mb"],
        note=f"{data['cached_statements']} statements cached",
    )
    rec["p50_ms"] = round(percentile(lat, 0.5), 4)
    rec["p99_ms"] = round(percentile(lat, 0.99), 4)
    return [rec]


# -- sync --------------------------------------------------------------------------


def _sync_records(
    settings: Settings, wanted: set[str] | None, missing: list[str]
) -> list[dict[str, Any]]:
    """The outbox's cost on MongoDB, and events through outbox, relay, broker and replica."""
    records: list[dict[str, Any]] = []
    if wanted is None or "mongo" in wanted:
        found, why = mongo_outbox_cost(settings, log)
        records += found
        if why is not None:
            missing.append(f"outbox on mongo: {why}")
    log("sync: outbox -> relay -> broker -> replica, and the raw broker")
    try:
        found, unreachable = _sync.run(settings.mode, wanted, log)
    except DatabaseUnavailableError as exc:
        missing.append(f"sync: {exc}")
        return records
    missing += unreachable
    return records + found


# -- main --------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a shorter run (under two minutes)")
    mode.add_argument("--smoke", action="store_true", help="a few operations of everything")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--backends", nargs="*", help="only these backends")
    parser.add_argument("--workloads", nargs="*", choices=WORKLOADS, help="only these workloads")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    workloads = set(args.workloads or WORKLOADS)
    wanted = set(args.backends) if args.backends else None
    records: list[dict[str, Any]] = []
    missing: list[str] = []
    started = dt.datetime.now(dt.UTC)
    for server in sql_backends():
        if wanted is not None and server.name not in wanted:
            continue
        with ExitStack() as stack:
            try:
                backend = stack.enter_context(private(server))
            except DatabaseUnavailableError as exc:
                missing.append(f"{server.name}: {exc}")
                log(f"{server.name}: skipped, {exc}")
                continue
            log(f"{backend.name} on {sa.make_url(backend.url)}")
            records += single_writer(backend, settings, workloads)
            if "bulk" in workloads:
                records += bulk_sql(backend, settings, log)
            if "contention" in workloads and backend.row_locks:
                records += contention(backend, settings)
            if "construction" in workloads:
                log(f"  construction: a repository per request on {backend.name}")
                records += construction(backend, settings)
            if "tokens" in workloads:
                log(f"  tokens: blind update with and without a token column on {backend.name}")
                records += tokens_cost(backend, settings)
            if "sync" in workloads:
                log(f"  outbox: blind update with and without it on {backend.name}")
                records += outbox_cost(backend, settings)
    if wanted is None or "mongo" in wanted:
        mongo_records, why = _mongo.run(settings, workloads, log)
        records += mongo_records
        if why is not None:
            missing.append(f"mongo: {why}")
    if "sync" in workloads:
        records += _sync_records(settings, wanted, missing)
    if "soak" in workloads and (wanted is None or "sqlite_memory" in wanted):
        log(f"soak: {settings.soak_ops:,} ops on sqlite_memory")
        records += soak(settings)
    meta = {
        "mode": settings.mode,
        "when": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "occ": occ.__version__,
        "seconds": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1),
        "missing": missing,
        "rss_mb": memory_mb()[0],
    }
    for path in write_all(records, meta, args.out):
        log(f"wrote {path}")
    for target, where, value, verdict in ratios(records):
        shown = "-" if value is None else f"{value:.2f}"
        log(f"  {target:<62} {where:<14} {shown:>6}  {verdict}")
    if missing and IN_CI:
        log("CI is set: an unreachable database is a failure")
        return 1
    return 0
