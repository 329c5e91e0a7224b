"""The live run: writers, two relays that crash now and then, a Redis stream, two replicas."""

from __future__ import annotations

import logging
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import occ
from examples.sync_live.sources import ENTITY, make_source, profile_table
from occ.sync import Consumer, Event, RedisStreams, RedisSubscriber, Relay, Replica
from occ.testing import ReplicaLog, check_replicas

__all__ = ["Options", "Result", "run"]


@dataclass(frozen=True)
class Options:
    """What the run does (the command line's options)."""

    source: str | None = None
    broker: str = "redis://127.0.0.1:6379/0"
    seconds: float = 5.0
    writers: int = 4
    keys: int = 5
    crash_every: int = 4
    workdir: Path | None = None


@dataclass
class Result:
    """What happened: writes, relay rounds, each replica's outcomes, and the verdict."""

    writes: int = 0
    lost_races: int = 0
    published: int = 0
    crashes: int = 0
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    converged: bool = False
    problems: list[str] = field(default_factory=list)


class RelayCrash(Exception):
    """The relay died after the broker had the batch and before it was marked."""


class Crashing(RedisStreams):
    """Publishes, and every ``every``-th batch dies before the relay marks it published:
    the relay sends it again (at least once), the replicas discard the copies."""

    def __init__(self, url: str, stream: str, every: int) -> None:
        super().__init__(url, stream=stream)
        self.every = every
        self.batches = 0
        self.crashes = 0

    def publish(self, events: Sequence[Event]) -> None:
        super().publish(events)
        self.batches += 1
        if self.every and self.batches % self.every == 0:
            self.crashes += 1
            raise RelayCrash("killed after publishing, before marking")


def _writer(source: Any, opts: Options, stop: threading.Event, tally: Counter[str]) -> None:
    rng = random.Random()
    key_field = source.key
    while not stop.is_set():
        key = rng.randrange(opts.keys)
        try:
            if rng.random() < 0.1:  # delete the profile, and sign it up again
                current = source.repo.get(key)
                source.repo.delete(key, expected_version=current.version)
                source.repo.insert({key_field: key, "name": f"user {key}", "clicks": 0})
            else:
                source.repo.modify(key, _clicked)
            tally["writes"] += 1
        except (occ.OCCError, sa.exc.OperationalError):  # lost a race: read again next time
            tally["lost"] += 1


def _clicked(profile: dict[str, Any]) -> dict[str, Any]:
    return {**profile, "clicks": profile["clicks"] + 1, "name": f"clicked {profile['clicks'] + 1}"}


def _copy(engine: sa.Engine, name: str, entity: str, fields: list[str] | None) -> Any:
    table = profile_table(name) if fields is None else profile_table(name, fields)
    table.create(engine)
    return Replica(engine, table, entity=entity, fields=fields), table


def _observed(replica: Any, name: str, log: ReplicaLog) -> Callable[[Event], Any]:
    """``replica.apply``, logging the version the replica holds after each event it applied."""

    def apply(event: Event) -> Any:
        outcome = replica.apply(event)
        if outcome == "applied":
            log.observe(name, event.key, None if event.deleted else event.version)
        return outcome

    return apply


def _final(engine: sa.Engine, table: sa.Table) -> dict[Any, tuple[Any, ...]]:
    with engine.connect() as conn:
        return {row.id: tuple(row)[1:] for row in conn.execute(sa.select(table))}


def run(opts: Options, show: Callable[[str], None] = print) -> Result:
    """Run the writers for ``opts.seconds``, drain, check convergence; the result."""
    _check_broker(opts.broker)
    relay_log = logging.getLogger("occ.sync.relay")
    level = relay_log.level
    relay_log.setLevel(logging.ERROR)  # the relays' crashes are on purpose: no warnings
    try:
        return _run(opts, show)
    finally:
        relay_log.setLevel(level)


def _run(opts: Options, show: Callable[[str], None]) -> Result:
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="occ-live-"))
    source = make_source(opts.source, workdir)
    stream = f"occ-live-{uuid.uuid4().hex[:8]}:{{entity}}"
    copies = sa.create_engine(f"sqlite:///{workdir / 'copies.db'}", connect_args={"timeout": 30})
    result = Result()
    try:
        for key in range(opts.keys):
            source.repo.insert({source.key: key, "name": f"user {key}", "clicks": 0})
        replicas = {
            "orders": _copy(copies, f"orders_{uuid.uuid4().hex[:6]}", ENTITY, ["name"]),
            "search": _copy(copies, f"search_{uuid.uuid4().hex[:6]}", ENTITY, None),
        }
        log = ReplicaLog()
        publishers = [Crashing(opts.broker, stream, opts.crash_every) for _ in range(2)]
        relays = [
            Relay(source.reader(), p, partitions=8, batch=50, poll=0.02, backoff=(0.05, 0.2))
            for p in publishers
        ]
        consumers = {
            name: Consumer(
                RedisSubscriber(opts.broker, stream.format(entity=ENTITY), group=name),
                _observed(replica, name, log),
                batch=100,
            )
            for name, (replica, _) in replicas.items()
        }
        stop_writes, stop_rest = threading.Event(), threading.Event()
        tally: Counter[str] = Counter()
        threads = [
            threading.Thread(target=_writer, args=(source, opts, stop_writes, tally))
            for _ in range(opts.writers)
        ]
        threads += [threading.Thread(target=r.run, args=(stop_rest,)) for r in relays]
        threads += [threading.Thread(target=c.run, args=(stop_rest,)) for c in consumers.values()]
        for t in threads:
            t.start()
        started = time.monotonic()
        reader = source.reader()
        try:
            while time.monotonic() - started < opts.seconds:
                time.sleep(min(1.0, opts.seconds))
                show(_line(time.monotonic() - started, tally, reader, relays, consumers))
            stop_writes.set()
            _drain(reader, consumers)
        finally:
            stop_writes.set()
            stop_rest.set()
            for t in threads:
                t.join(60)
            for p in publishers:
                p.close()
        show(_line(time.monotonic() - started, tally, reader, relays, consumers))
        result.writes, result.lost_races = tally["writes"], tally["lost"]
        result.published = sum(r.published for r in relays)
        result.crashes = sum(p.crashes for p in publishers)
        result.outcomes = {name: Counter(c.counts) for name, c in consumers.items()}
        _verdict(source, opts.keys, copies, replicas, log, result)
    finally:
        _drop_stream(opts.broker, stream.format(entity=ENTITY))
        source.close()
        copies.dispose()
    return result


def _drain(reader: Any, consumers: dict[str, Any], seconds: float = 60.0) -> None:
    """Wait until the outbox is empty and the consumers have settled everything."""
    deadline = time.monotonic() + seconds
    while reader.status().pending and time.monotonic() < deadline:
        time.sleep(0.1)
    settled = -1
    while time.monotonic() < deadline:
        now = sum(sum(c.counts.values()) for c in consumers.values())
        if now == settled:
            return
        settled = now
        time.sleep(0.5)


def _verdict(
    source: Any,
    keys: int,
    copies: sa.Engine,
    replicas: dict[str, Any],
    log: ReplicaLog,
    result: Result,
) -> None:
    """Compare each copy with the source, values and versions; the replica rule."""
    found = {k: snap for k in range(keys) if (snap := source.repo.find(k)) is not None}
    versions = {k: int(v.version) for k, v in found.items()}
    finals: dict[str, dict[Any, int | None]] = {}
    for name, (_, table) in replicas.items():
        held = _final(copies, table)
        columns = [c.name for c in table.columns if c.name not in ("id", "version")]
        finals[name] = {k: row[-1] for k, row in held.items()}
        for key, snap in found.items():
            want = (*(snap.value[c] for c in columns), snap.version)
            if held.get(key) != want:
                result.problems.append(f"{name}: key {key} holds {held.get(key)}, source {want}")
    report = check_replicas(log, versions, finals, raise_on_anomaly=False)
    result.problems += [f"{a.kind}: key {a.key}: {a.message}" for a in report.anomalies]
    result.converged = not result.problems


def _line(
    elapsed: float, tally: Counter[str], reader: Any, relays: list[Relay], consumers: dict[str, Any]
) -> str:
    pending = reader.status().pending
    published = sum(r.published for r in relays)
    parts = [f"{elapsed:5.1f}s  writes {tally['writes']:>5}  pending {pending:>4}"]
    parts.append(f"published {published:>5}")
    for name, consumer in consumers.items():
        c = consumer.counts
        parts.append(
            f"{name}: applied {c['applied']:>5} duplicate {c['duplicate']:>3} stale {c['stale']:>3}"
        )
    return "  ".join(parts)


def _check_broker(url: str) -> None:
    """Raise ``ConnectionError`` (before anything is written) if Redis does not answer."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConnectionError(f"the broker {url} does not answer: {exc}") from None
    finally:
        client.close()


def _drop_stream(url: str, name: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.delete(name)
    finally:
        client.close()
