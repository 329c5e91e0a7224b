"""The ``sync`` workload: change events through outbox -> relay -> broker -> replica.

On a source database of the run's own (PostgreSQL when it can be reached,
else a SQLite file), for each broker, in one asyncio loop:

- **throughput** (``ops_per_s``: events per second): N blind updates written
  beforehand through ``occ.sql.Repository(..., outbox=Outbox())`` wait in the
  outbox; the clock runs from the relay's first read (batches of 500, one
  ``AsyncRelay``) until a batched ``AsyncConsumer`` has applied the last one to
  a replica table (``apply_many``: one read and one multi-row upsert per batch);
- **lag at a fixed offered rate** (``p50_ms``, ``p99_ms``): a writer updates
  rows at R events per second for T seconds while the relay (polling every
  5 ms) and the consumer run; an event's lag runs from its write (its
  timestamp) to its apply.

The raw baseline (system ``raw``) moves the same payloads, the events' JSON,
with the broker's own client and no database (:mod:`benchmarks._brokers`):
throughput in the same batches, lag of payloads published one by one at R/s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

import occ
import occ.sql
from benchmarks._backends import SQLBackend, make_engine, private, sql_backends
from benchmarks._brokers import BROKERS, ENTITY, BrokerBench, make_broker, reachable
from benchmarks._timing import Measured, record
from occ.sync import AsyncConsumer, AsyncOutboxReader, AsyncRelay, AsyncReplica, Outbox, encode
from occ.testing.databases import DatabaseUnavailableError

__all__ = ["SYNC_SETTINGS", "SyncSettings", "run"]

OUTBOX = "occ_bench_outbox"
SOURCE = "occ_bench_sync"


@dataclass(frozen=True)
class SyncSettings:
    """How much the sync workload moves."""

    events: int  # through the pipeline, for throughput
    rate: float  # offered events per second, for lag
    seconds: float  # how long the offered rate lasts
    rows: int = 1000
    batch: int = 500


SYNC_SETTINGS = {
    "full": SyncSettings(10_000, 500.0, 5.0),
    "quick": SyncSettings(2_000, 200.0, 2.0),
    "smoke": SyncSettings(60, 50.0, 0.4, rows=20),
}


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("note", sa.String(200)),
        sa.Column("version", sa.Integer),
    )


class Timed:
    """A replica that notes when each event it was given got applied (lag from its write)."""

    def __init__(self, replica: AsyncReplica) -> None:
        self.replica = replica
        self.entity = replica.entity
        self.settled = 0
        self.lags_ns: list[int] = []

    def _note(self, events: list[Any]) -> None:
        now = time.time()
        self.settled += len(events)
        self.lags_ns += [int((now - e.timestamp.timestamp()) * 1e9) for e in events]

    async def apply(self, event: Any) -> Any:
        outcome = await self.replica.apply(event)
        self._note([event])
        return outcome

    async def apply_many(self, events: list[Any]) -> Any:
        outcomes = await self.replica.apply_many(events)
        self._note(events)
        return outcomes


class Source:
    """The source table, its outbox, the rows' versions, and async twins for the pipeline."""

    def __init__(self, backend: SQLBackend, settings: SyncSettings) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        self.backend = backend
        self.settings = settings
        self.engine = make_engine(backend, writers=4)
        self.table = _table(SOURCE)
        self.table.metadata.drop_all(self.engine)
        self.table.create(self.engine)
        rows = [
            {"id": i, "name": f"item-{i}", "qty": 0, "note": "", "version": 1}
            for i in range(settings.rows)
        ]
        with self.engine.begin() as conn:
            conn.execute(self.table.insert(), rows)
        self.outbox = Outbox(table=OUTBOX, entity=ENTITY)
        self.repo: Any = occ.sql.Repository(self.engine, self.table, outbox=self.outbox)
        self.versions = [1] * settings.rows
        self.tick = 0
        url = backend.url.replace("sqlite://", "sqlite+aiosqlite://")
        self.aengine = create_async_engine(url)
        self.arepo: Any = occ.sql.AsyncRepository(self.aengine, self.table, outbox=self.outbox)

    def _next(self) -> tuple[dict[str, Any], int, int]:
        key = self.tick % self.settings.rows
        self.tick += 1
        value = {"id": key, "name": f"item-{key}-{self.tick}", "qty": self.tick, "note": "sync"}
        return value, self.versions[key], key

    def write(self, count: int) -> None:
        """``count`` blind updates (their events wait in the outbox)."""
        for _ in range(count):
            value, version, key = self._next()
            self.versions[key] = self.repo.save(occ.Versioned(value, version, key)).version

    async def awrite_paced(self, rate: float, seconds: float) -> int:
        """Blind updates at ``rate`` per second for ``seconds``; how many."""
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            value, version, key = self._next()
            saved = await self.arepo.save(occ.Versioned(value, version, key))
            self.versions[key] = saved.version
            n += 1
        return n

    def pending_payloads(self) -> list[bytes]:
        """The JSON of every event waiting in the outbox (what the raw baseline moves)."""
        from occ.sync import OutboxReader

        events = OutboxReader(self.engine, OUTBOX).pending(list(range(16)), 10**7)
        self.last_prefilled = max(e.position or 0 for e in events)
        return [encode(e) for e in events]

    def republish_all(self) -> None:
        """The events written beforehand pending again (each broker moves the same ones)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE {OUTBOX} SET published_at = NULL WHERE id <= :last"),
                {"last": self.last_prefilled},
            )

    def mark_all(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {OUTBOX} SET published_at = CURRENT_TIMESTAMP"))

    def fresh_copy(self, name: str) -> AsyncReplica:
        copy = _table(f"{SOURCE}_{name}")
        copy.metadata.drop_all(self.engine)
        copy.create(self.engine)
        return AsyncReplica(self.aengine, copy, entity=ENTITY)

    async def aclose(self) -> None:
        await occ.sql.adispose(self.aengine)
        occ.sql.dispose(self.engine)


async def _pipeline(
    source: Source, bench: BrokerBench, copy: str, expected: int | None, seconds: float
) -> tuple[float, Timed]:
    """Relay and consumer until ``expected`` events are applied (or, with ``expected`` None,
    while a writer offers events for ``seconds``); the seconds it took and the replica."""
    batch = source.settings.batch
    publisher, subscriber = bench.occ_pair(batch)
    reader = AsyncOutboxReader(source.aengine, OUTBOX)
    await reader.ready()
    if hasattr(publisher, "connect"):
        await publisher.connect()
    await subscriber.fetch(1, 0.01)  # queues and consumers exist before anything is sent
    timed = Timed(source.fresh_copy(copy))
    relay = AsyncRelay(reader, publisher, batch=batch, poll=0.005, retention=None)
    consumer = AsyncConsumer(subscriber, timed, batch=batch, batched=True)
    done = asyncio.Event()
    written: list[int] = []

    async def relaying() -> None:
        while not done.is_set():
            if await relay.run_once() == 0:
                await asyncio.sleep(0.005)

    async def consuming() -> None:
        target = expected
        while target is None or timed.settled < target:
            await consumer.run_once(timeout=0.05)
            if target is None and written:
                target = written[0]
        done.set()

    async def writing() -> None:
        written.append(await source.awrite_paced(source.settings.rate, seconds))

    start = time.perf_counter()
    tasks = [relaying(), consuming()] + ([writing()] if expected is None else [])
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=300)
    finally:
        done.set()
        elapsed = time.perf_counter() - start
        await reader.release(relay.owner)  # the next pipeline's relay takes the partitions
        await publisher.close()
        await subscriber.close()
    return elapsed, timed


async def _raw(
    bench: BrokerBench, payloads: list[bytes], batch: int, rate: float | None
) -> tuple[float, list[int]]:
    sent: dict[bytes, float] = {}
    lags: list[int] = []

    def seen(payload: bytes) -> None:
        if payload in sent:
            lags.append(int((time.time() - sent[payload]) * 1e9))

    start = time.perf_counter()
    await bench.raw(payloads, batch, rate, seen, sent)
    return time.perf_counter() - start, lags


async def _one_broker(
    source: Source, bench: BrokerBench, payloads: list[bytes]
) -> list[dict[str, Any]]:
    s = source.settings
    try:
        source.republish_all()
        occ_seconds, _ = await _pipeline(source, bench, f"{bench.name}_t", len(payloads), 0.0)
        source.mark_all()
        _, lagged = await _pipeline(source, bench, f"{bench.name}_l", None, s.seconds)
        raw_seconds, _ = await _raw(bench, payloads, s.batch, None)
        lag_payloads = payloads[: max(1, int(s.rate * s.seconds))]
        _, raw_lags = await _raw(bench, lag_payloads, s.batch, s.rate)
    finally:
        await bench.cleanup()
    n = len(payloads)
    out = []
    for system, seconds, lags in (
        ("occ", occ_seconds, lagged.lags_ns),
        ("raw", raw_seconds, raw_lags),
    ):
        measured = Measured(ops=n, seconds=seconds, latencies_ns=lags)
        out.append(
            record(
                "sync",
                source.backend.name,
                system,
                writers=1,
                rows=n,
                measured=measured,
                round_trips=None,
                broker=bench.name,
                offered_rate=s.rate,
                lag_events=len(lags),
            )
        )
    return out


@contextmanager
def _source_backend(wanted: set[str] | None, log: Callable[[str], None]) -> Iterator[SQLBackend]:
    """PostgreSQL on a database of the run's own if it can be made, else a SQLite file."""
    by_name = {b.name: b for b in sql_backends()}
    names = ["sqlite"] if wanted is not None and "postgresql" not in wanted else ["postgresql"]
    with ExitStack() as stack:
        for name in dict.fromkeys([*names, "sqlite"]):
            try:
                backend = stack.enter_context(private(by_name[name]))
            except DatabaseUnavailableError as exc:
                log(f"  sync: no {name} source ({exc})")
                continue
            yield backend
            return
        raise DatabaseUnavailableError("no source database for the sync workload")


async def _brokers(
    source: Source, payloads: list[bytes], log: Callable[[str], None]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each reachable broker in turn, in one event loop (the async engine's)."""
    records: list[dict[str, Any]] = []
    missing: list[str] = []
    try:
        for name in BROKERS:
            if not reachable(name):
                missing.append(f"sync {name}: the broker is not reachable")
                log(f"  sync {name}: skipped, not reachable")
                continue
            log(f"  sync via {name}: {len(payloads):,} events from {source.backend.name}")
            got = await _one_broker(source, make_broker(name), payloads)
            records += got
            mine, raw = got
            log(
                f"    events/s occ {mine['ops_per_s']:,.0f}, raw {raw['ops_per_s']:,.0f}; "
                f"lag p50/p99 occ {mine['p50_ms']}/{mine['p99_ms']} ms, "
                f"raw {raw['p50_ms']}/{raw['p99_ms']} ms"
            )
    finally:
        await source.aclose()
    return records, missing


def run(
    mode: str, wanted: set[str] | None, log: Callable[[str], None]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every reachable broker's records, and what could not be measured."""
    settings = SYNC_SETTINGS[mode]
    with _source_backend(wanted, log) as backend:
        source = Source(backend, settings)
        source.write(settings.events)
        return asyncio.run(_brokers(source, source.pending_payloads(), log))
