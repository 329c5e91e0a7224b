"""MongoDB systems: ``occ.mongo``, raw PyMongo, and Beanie with ``use_revision``.

The server is ``OCC_MONGODB_URI`` when set; otherwise an ``nx-27017``
wire-protocol emulator started on a free port (in-memory store) and stopped
at the end (:mod:`occ.testing.mongo_server`). The run writes to a database of
its own, ``occ_bench_<UTC time>_<random>``, dropped at the end. Round trips
are commands counted by a PyMongo ``CommandListener``.

Beanie's revision check cannot run on the emulator (it reads Beanie's UUID
revision back as bytes, so every revision compare fails): there Beanie is
reported as not measurable, with the error, and measured only against a real
MongoDB (``OCC_MONGODB_URI``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any

from benchmarks._backends import PREFIX, TABLE
from benchmarks._bulk import bulk_mongo
from benchmarks._timing import Measured, interleave, record, timed_round
from occ.testing.databases import DatabaseUnavailableError, private_database
from occ.testing.mongo_server import mongo_server

__all__ = ["run"]

ROWS_NOTE = "not measurable on the nx-27017 emulator"


def _listener() -> Any:
    from pymongo import monitoring

    class Counter(monitoring.CommandListener):
        def __init__(self) -> None:
            self.count = 0
            self.active = False

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if self.active:
                self.count += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    return Counter()


class _Values:
    def __init__(self) -> None:
        self._tick = itertools.count()

    def __call__(self, key: int) -> dict[str, Any]:
        n = next(self._tick)
        return {"name": f"item-{key}-{n % 97}", "qty": n, "note": f"put {n}"}


def _seed(coll: Any, first: int, rows: int, *, version: str = "version") -> None:
    coll.delete_many({"_id": {"$gte": first, "$lt": first + rows}})
    coll.insert_many(
        [{"_id": first + i, "name": "x", "qty": 0, "note": "", version: 1} for i in range(rows)]
    )


class OccMongo:
    name = "occ"

    def __init__(self, coll: Any, first: int, rows: int) -> None:
        import occ
        import occ.mongo

        self.repo: Any = occ.mongo.Repository(coll)
        self.versioned = occ.Versioned
        self.versions = [1] * rows
        self.first = first
        self.value = _Values()

    def blind(self, key: int) -> None:
        i = key - self.first
        value = self.value(key)
        value["_id"] = key
        self.versions[i] = self.repo.save(self.versioned(value, self.versions[i], key)).version

    def rmw(self, key: int) -> None:
        self.repo.modify(key, _add_one)


def _add_one(value: dict[str, Any]) -> dict[str, Any]:
    value["qty"] += 1
    return value


class RawPyMongo:
    """The limit: the same conditional command occ sends, written by hand."""

    name = "pymongo"

    def __init__(self, coll: Any, first: int, rows: int) -> None:
        self.coll = coll
        self.versions = [1] * rows
        self.first = first
        self.value = _Values()

    def blind(self, key: int) -> None:
        i = key - self.first
        v = self.versions[i]
        fields = self.value(key)
        fields["version"] = v + 1
        result = self.coll.update_one({"_id": key, "version": {"$eq": v}}, {"$set": fields})
        if result.matched_count != 1:
            raise AssertionError(f"pymongo: write of {key} missed (single writer)")
        self.versions[i] = v + 1

    def rmw(self, key: int) -> None:
        doc = self.coll.find_one({"_id": key})
        v = doc["version"]
        done = self.coll.find_one_and_update(
            {"_id": key, "version": {"$eq": v}},
            {"$set": {"qty": doc["qty"] + 1, "version": v + 1}},
        )
        if done is None:
            raise AssertionError(f"pymongo: write of {key} missed (single writer)")


def _run_systems(
    uri: str, settings: Any, workloads: set[str], emulated: bool, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    import pymongo

    counter = _listener()
    client: Any = pymongo.MongoClient(uri, event_listeners=[counter])
    db = client.get_default_database()
    coll = db[TABLE]
    systems: dict[str, Any] = {}
    classes: tuple[type[OccMongo] | type[RawPyMongo], ...] = (OccMongo, RawPyMongo)
    for i, cls in enumerate(classes):
        first = 100_000 * (i + 1)
        _seed(coll, first, settings.rows)
        systems[cls.name] = (cls(coll, first, settings.rows), first)
    out: list[dict[str, Any]] = []
    try:
        for workload, op_name in (("blind_update", "blind"), ("read_modify_write", "rmw")):
            if workload not in workloads:
                continue
            log(f"  {workload}: {', '.join(systems)}, beanie")
            runners = {}
            for name, (system, first) in systems.items():
                runners[name] = _runner(getattr(system, op_name), first, settings.rows)
            measured = interleave(
                runners, rounds=settings.rounds, seconds=settings.seconds, max_ops=settings.max_ops
            )
            for name, (system, first) in systems.items():
                op = getattr(system, op_name)
                counter.count, counter.active = 0, True
                for n in range(settings.count_ops):
                    op(first + n % settings.rows)
                counter.active = False
                out.append(
                    record(
                        workload,
                        "mongo",
                        name,
                        writers=1,
                        rows=settings.rows,
                        measured=measured[name],
                        round_trips=counter.count / settings.count_ops,
                    )
                )
            out.append(_beanie(uri, workload, settings, emulated))
        if "bulk" in workloads:
            out += bulk_mongo(coll, counter, settings, log)
    finally:
        client.close()
    return out


def _runner(op: Callable[[int], None], first: int, rows: int) -> Any:
    keys = itertools.cycle(range(first, first + rows))

    def run(seconds: float, max_ops: int, into: Measured) -> None:
        timed_round(op, keys, seconds, max_ops, into)

    return run


def _beanie(uri: str, workload: str, settings: Any, emulated: bool) -> dict[str, Any]:
    """Beanie alone (it is async): timed rounds inside one event loop."""
    try:
        measured, trips = asyncio.run(_beanie_rounds(uri, workload, settings))
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
        note = f"{ROWS_NOTE} ({why})" if emulated else f"failed: {why}"
        return record(
            workload,
            "mongo",
            "beanie",
            writers=1,
            rows=settings.rows,
            measured=None,
            round_trips=None,
            note=note,
        )
    return record(
        workload,
        "mongo",
        "beanie",
        writers=1,
        rows=settings.rows,
        measured=measured,
        round_trips=trips,
        note="async (pymongo.AsyncMongoClient), timed apart from the sync systems",
    )


async def _beanie_rounds(uri: str, workload: str, settings: Any) -> tuple[Measured, float]:
    from beanie import Document, init_beanie
    from pymongo import AsyncMongoClient

    class BeanieItem(Document):
        id: int  # type: ignore[assignment]
        name: str
        qty: int
        note: str

        class Settings:
            name = f"{TABLE}_beanie"
            use_revision = True

    counter = _listener()
    client: Any = AsyncMongoClient(uri, event_listeners=[counter])
    try:
        await init_beanie(database=client.get_default_database(), document_models=[BeanieItem])
        await BeanieItem.get_pymongo_collection().delete_many({})
        docs = [BeanieItem(id=i, name="x", qty=0, note="") for i in range(settings.rows)]
        for doc in docs:
            await doc.insert()
        value = _Values()

        async def blind(key: int) -> None:
            doc = docs[key]  # the last version this client wrote: its revision is known
            for field, new in value(key).items():
                setattr(doc, field, new)
            await doc.save()

        async def rmw(key: int) -> None:
            doc = await BeanieItem.get(key)
            assert doc is not None
            doc.qty += 1
            await doc.save()

        op = blind if workload == "blind_update" else rmw
        measured = Measured()
        keys = itertools.cycle(range(settings.rows))
        for _ in range(settings.rounds + 1):
            into = measured if _ else Measured()  # the first round warms up
            clock = time.perf_counter_ns
            start = now = clock()
            deadline = start + int(settings.seconds * 1e9)
            n = 0
            while n < settings.max_ops and now < deadline:
                t0 = clock()
                await op(next(keys))
                now = clock()
                into.latencies_ns.append(now - t0)
                n += 1
            into.ops += n
            into.seconds += (now - start) / 1e9
        counter.count, counter.active = 0, True
        for n in range(settings.count_ops):
            await op(n % settings.rows)
        counter.active = False
        return measured, counter.count / settings.count_ops
    finally:
        await client.close()


def run(
    settings: Any, workloads: set[str], log: Callable[[str], None]
) -> tuple[list[dict[str, Any]], str | None]:
    """Every Mongo system, or no records and why not."""
    if not workloads & {"blind_update", "read_modify_write", "bulk"}:
        return [], None
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(mongo_server())
            uri = stack.enter_context(private_database(server.uri, prefix=PREFIX))
        except DatabaseUnavailableError as exc:
            log(f"mongo: skipped, {exc}")
            return [], str(exc)
        log(f"mongo ({'nx-27017 emulator' if server.emulated else server.uri})")
        return _run_systems(uri, settings, workloads, server.emulated, log), None
