"""The ``bulk`` workload: versioned updates of N rows at once, written four ways.

Each batch changes every field of the N rows a system owns, expecting the
version it last wrote to each (a single writer: nothing ever conflicts, and
a miss stops the run). Systems, per batch:

- ``occ``: ``Repository.update_many([(key, changes, expected_version), ...])``;
- ``occ_loop``: ``Repository.update(key, changes, expected_version=...)`` for each row;
- ``dbapi``: the driver's own ``cursor.executemany`` of the same conditional
  ``UPDATE … WHERE id = ? AND version = ?`` in one transaction, the row count checked;
- ``orm_bulk``: ``Session.bulk_update_mappings`` with the versions in the mappings
  (SQLAlchemy checks a ``version_id_col`` there one ``UPDATE`` per row);
- MongoDB: ``occ`` and ``occ_loop`` on ``occ.mongo``, and ``pymongo``: one raw
  ``bulk_write`` of the same guarded ``UpdateOne``s.

Records: ``workload`` ``bulk``, ``rows`` = N, ``ops_per_s`` = rows per second,
``round_trips_per_batch`` (and ``round_trips_per_op`` per row), latencies per batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

import occ
import occ.sql
from benchmarks._backends import OrmItem, SQLBackend, item_table, make_engine, reset_rows
from benchmarks._counting import count_sql
from benchmarks._timing import Measured, interleave, record, timed_round

__all__ = ["BULK_SYSTEMS", "bulk_mongo", "bulk_sql"]

t = item_table
#: where the bulk systems' rows start (apart from the single-writer workloads' rows).
FIRST = 5_000_000


def _value(tick: Any, key: int) -> dict[str, Any]:
    n = next(tick)
    return {"name": f"item-{key}-{n % 97}", "qty": n, "note": f"put {n}"}


class BulkSystem:
    """One way of writing a batch of N rows; subclasses implement :meth:`batch`."""

    name: ClassVar[str]

    def __init__(self, engine: sa.Engine, first: int, rows: int) -> None:
        self.engine = engine
        self.keys = list(range(first, first + rows))
        self.versions = dict.fromkeys(self.keys, 1)
        self.tick = itertools.count()
        self.count = 0

    def batch(self) -> None:
        raise NotImplementedError

    def start_round(self) -> None:
        """Called before each timed round."""

    def executed(self) -> int:
        """Round trips this system counted itself (only the raw DB-API one does)."""
        return 0

    def close(self) -> None:
        """Release what the system holds."""


class OccBulk(BulkSystem):
    name = "occ"

    def __init__(self, engine: sa.Engine, first: int, rows: int) -> None:
        super().__init__(engine, first, rows)
        self.repo: occ.sql.Repository[dict[str, Any]] = occ.sql.Repository(engine, t)

    def batch(self) -> None:
        items = [(k, _value(self.tick, k), self.versions[k]) for k in self.keys]
        result = self.repo.update_many(items)
        if not result.ok:
            raise AssertionError(f"occ: update_many missed {result.failed[:1]} (single writer)")
        for item in result:
            self.versions[item.key] = item.version  # type: ignore[assignment]


class OccLoop(OccBulk):
    name = "occ_loop"

    def batch(self) -> None:
        for k in self.keys:
            done = self.repo.update(k, _value(self.tick, k), expected_version=self.versions[k])
            self.versions[k] = done.version  # type: ignore[assignment]


class DBAPIBulk(BulkSystem):
    """The driver's ``executemany`` of the conditional UPDATE, one transaction per batch."""

    name = "dbapi"

    def __init__(self, engine: sa.Engine, first: int, rows: int) -> None:
        super().__init__(engine, first, rows)
        self._proxy = engine.raw_connection()
        self.conn: Any = self._proxy.driver_connection
        self.dialect = engine.dialect.name
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.sql = (
            f"UPDATE {t.name} SET name={mark}, qty={mark}, note={mark}, version={mark} "
            f"WHERE id={mark} AND version={mark}"
        )

    def start_round(self) -> None:
        if self.dialect == "sqlite":
            self.conn.isolation_level = None  # BEGIN and COMMIT below, by hand
        elif self.dialect == "mysql":
            self.conn.autocommit(False)
        else:
            self.conn.autocommit = False

    def batch(self) -> None:
        params = []
        for k in self.keys:
            v = self.versions[k]
            value = _value(self.tick, k)
            params.append((value["name"], value["qty"], value["note"], v + 1, k, v))
        cur = self.conn.cursor()
        if self.dialect == "sqlite":
            cur.execute("BEGIN")
        cur.executemany(self.sql, params)
        matched = cur.rowcount
        if self.dialect == "sqlite":
            cur.execute("COMMIT")
        else:
            self.conn.commit()
        cur.close()
        if matched != len(params):
            raise AssertionError(f"dbapi: executemany matched {matched} of {len(params)} rows")
        for k in self.keys:
            self.versions[k] += 1
        # PyMySQL runs an UPDATE executemany as one statement per row; psycopg pipelines
        # it (BEGIN, the batch, COMMIT); SQLite has no round trips: its statements count.
        self.count += {"mysql": len(params) + 1, "postgresql": 3}.get(self.dialect, 1)

    def executed(self) -> int:
        return self.count

    def close(self) -> None:
        self._proxy.close()


class OrmBulk(BulkSystem):
    """``Session.bulk_update_mappings`` with the expected versions in the mappings."""

    name = "orm_bulk"

    def batch(self) -> None:
        mappings = [
            {"id": k, **_value(self.tick, k), "version": self.versions[k]} for k in self.keys
        ]
        with Session(self.engine) as session:
            session.bulk_update_mappings(OrmItem, mappings)
            session.commit()
        for k in self.keys:
            self.versions[k] += 1


BULK_SYSTEMS: dict[str, type[BulkSystem]] = {
    cls.name: cls for cls in (OccBulk, OccLoop, DBAPIBulk, OrmBulk)
}


def _runner(system: Any) -> Callable[[float, int, Measured], None]:
    def run(seconds: float, max_ops: int, into: Measured) -> None:
        system.start_round()
        timed_round(lambda _: system.batch(), itertools.repeat(0), seconds, max_ops, into)

    return run


def per_row(measured: Measured, rows: int) -> Measured:
    """Batches measured as rows: throughput and CPU per row; latencies stay per batch."""
    return Measured(
        ops=measured.ops * rows,
        seconds=measured.seconds,
        cpu_ns=measured.cpu_ns,
        latencies_ns=measured.latencies_ns,
    )


def bulk_record(
    backend: str, system: str, rows: int, measured: Measured, trips: float | None
) -> dict[str, Any]:
    return record(
        "bulk",
        backend,
        system,
        writers=1,
        rows=rows,
        measured=per_row(measured, rows),
        round_trips=None if trips is None else trips / rows,
        round_trips_per_batch=None if trips is None else round(trips, 2),
        note="latency per batch",
    )


def bulk_sql(
    backend: SQLBackend, settings: Any, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Every system at every batch size on one SQL backend."""
    engine = make_engine(backend)
    reset_rows(engine, 1, 1, create=True)
    out: list[dict[str, Any]] = []
    try:
        for rows in settings.bulk_rows:
            systems: dict[str, BulkSystem] = {}
            for i, (name, cls) in enumerate(BULK_SYSTEMS.items()):
                first = FIRST + 100_000 * i
                reset_rows(engine, first, rows)
                systems[name] = cls(engine, first, rows)
            log(f"  bulk N={rows}: {', '.join(systems)}")
            try:
                measured = interleave(
                    {name: _runner(s) for name, s in systems.items()},
                    rounds=settings.rounds,
                    seconds=settings.seconds,
                    max_ops=settings.max_ops,
                )
                for name, system in systems.items():
                    before = system.executed()
                    with count_sql() as counter:
                        for _ in range(settings.bulk_count):
                            system.batch()
                    trips = (counter.count + system.executed() - before) / settings.bulk_count
                    out.append(bulk_record(backend.name, name, rows, measured[name], trips))
            finally:
                for system in systems.values():
                    system.close()
    finally:
        occ.sql.dispose(engine)
    return out


# -- MongoDB ---------------------------------------------------------------------------


class MongoBulk:
    """One way of writing a batch of N documents."""

    def __init__(self, name: str, coll: Any, first: int, rows: int) -> None:
        import occ.mongo

        self.name = name
        self.coll = coll
        self.repo: Any = occ.mongo.Repository(coll)
        self.keys = list(range(first, first + rows))
        self.versions = dict.fromkeys(self.keys, 1)
        self.tick = itertools.count()

    def start_round(self) -> None:
        pass

    def batch(self) -> None:
        getattr(self, f"_{self.name}")()

    def _occ(self) -> None:
        items = [(k, _value(self.tick, k), self.versions[k]) for k in self.keys]
        result = self.repo.update_many(items)
        if not result.ok:
            raise AssertionError(f"occ: update_many missed {result.failed[:1]} (single writer)")
        for item in result:
            self.versions[item.key] = item.version

    def _occ_loop(self) -> None:
        for k in self.keys:
            done = self.repo.update(k, _value(self.tick, k), expected_version=self.versions[k])
            self.versions[k] = done.version

    def _pymongo(self) -> None:
        from pymongo import UpdateOne

        ops = []
        for k in self.keys:
            v = self.versions[k]
            fields = {**_value(self.tick, k), "version": v + 1}
            ops.append(UpdateOne({"_id": k, "version": {"$eq": v}}, {"$set": fields}))
        result = self.coll.bulk_write(ops, ordered=False)
        if result.matched_count != len(ops):
            raise AssertionError("pymongo: bulk_write missed (single writer)")
        for k in self.keys:
            self.versions[k] += 1


def bulk_mongo(
    coll: Any, counter: Any, settings: Any, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """``occ``, ``occ_loop`` and raw ``pymongo`` at every batch size; ``counter`` counts
    commands (a PyMongo CommandListener on the client of ``coll``)."""
    out: list[dict[str, Any]] = []
    for rows in settings.bulk_rows:
        systems = {}
        for i, name in enumerate(("occ", "occ_loop", "pymongo")):
            first = FIRST + 100_000 * i
            coll.delete_many({"_id": {"$gte": first, "$lt": first + rows}})
            coll.insert_many(
                [
                    {"_id": first + j, "name": "x", "qty": 0, "note": "", "version": 1}
                    for j in range(rows)
                ]
            )
            systems[name] = MongoBulk(name, coll, first, rows)
        log(f"  bulk N={rows}: {', '.join(systems)}")
        measured = interleave(
            {name: _runner(s) for name, s in systems.items()},
            rounds=settings.rounds,
            seconds=settings.seconds,
            max_ops=settings.max_ops,
        )
        for name, system in systems.items():
            counter.count, counter.active = 0, True
            for _ in range(settings.bulk_count):
                system.batch()
            counter.active = False
            trips = counter.count / settings.bulk_count
            out.append(bulk_record("mongo", name, rows, measured[name], trips))
    return out
