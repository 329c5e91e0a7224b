"""What the outbox costs on the write path: the blind update with and without it.

Workload ``outbox``, on every SQL backend and MongoDB, in interleaved rounds
like ``blind_update``: ``occ`` (no outbox), ``occ_outbox`` (events carry the
whole new value) and ``occ_outbox_changes`` (the changed fields only). A
blind update does not know the row it replaces, so a full event reads it
back in the write's transaction (``UPDATE ... RETURNING`` then the event's
``INSERT``); a changes-only event is known before the write: one statement on
PostgreSQL (a data-modifying CTE). On MongoDB the event rides in the
document (the emulator is a standalone server): a full event reads the
document first, a changes-only one is the update itself. Round trips are
counted as for ``blind_update``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

import occ.sql
from benchmarks import _mongo
from benchmarks._backends import (
    PREFIX,
    TABLE,
    SQLBackend,
    item_table,
    make_engine,
    reset_rows,
    tokens_table,
)
from benchmarks._counting import count_sql
from benchmarks._sql import OccSystem
from benchmarks._timing import interleave, record, runner
from occ.sync import Outbox
from occ.testing.databases import DatabaseUnavailableError, private_database
from occ.testing.mongo_server import mongo_server

__all__ = [
    "OUTBOX_SYSTEMS",
    "mongo_outbox_cost",
    "outbox_cost",
    "tokens_cost",
    "variant_cost",
]

#: the systems of the workload, and the outbox each writes with (``None``: none).
OUTBOX_SYSTEMS: dict[str, Outbox | None] = {
    "occ": None,
    "occ_outbox": Outbox(table="occ_bench_outbox_full"),
    "occ_outbox_changes": Outbox(table="occ_bench_outbox_changes", value="changes"),
}


class _Variant(OccSystem):
    """``occ``'s blind update on ``table``, with the repository options of its name."""

    def __init__(
        self,
        name: str,
        backend: SQLBackend,
        engine: Any,
        first: int,
        rows: int,
        table: sa.Table,
        options: dict[str, Any],
    ) -> None:
        super().__init__(backend, engine, first, rows)
        self.name = name  # type: ignore[misc]
        self.repo = occ.sql.Repository(engine, table, **options)


def outbox_cost(backend: SQLBackend, settings: Any) -> list[dict[str, Any]]:
    """The three systems' blind updates on ``backend``."""
    variants = {name: {"outbox": outbox} for name, outbox in OUTBOX_SYSTEMS.items()}
    return variant_cost("outbox", backend, settings, item_table, variants)


def tokens_cost(backend: SQLBackend, settings: Any) -> list[dict[str, Any]]:
    """The blind update without and with a token column (lost replies settled)."""
    variants: dict[str, dict[str, Any]] = {
        "occ": {},
        "occ_tokens": {"token_column": "occ_tokens"},
    }
    return variant_cost("tokens", backend, settings, tokens_table, variants)


def variant_cost(
    workload: str,
    backend: SQLBackend,
    settings: Any,
    table: sa.Table,
    variants: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Blind updates of ``table`` by repositories with each variant's options, interleaved."""
    engine = make_engine(backend)
    reset_rows(engine, 1, 1, create=True)
    systems = {}
    for i, (name, options) in enumerate(variants.items()):
        first = 100_000 * (i + 1)
        reset_rows(engine, first, settings.rows, table=table)
        systems[name] = _Variant(name, backend, engine, first, settings.rows, table, options)
    try:
        runners = {}
        for name, system in systems.items():
            runners[name] = runner(system.blind, system.keys())
        measured = interleave(
            runners, rounds=settings.rounds, seconds=settings.seconds, max_ops=settings.max_ops
        )
        out = []
        for name, system in systems.items():
            keys = system.keys()
            with count_sql() as counter:
                for _ in range(settings.count_ops):
                    system.blind(next(keys))
            out.append(
                record(
                    workload,
                    backend.name,
                    name,
                    writers=1,
                    rows=settings.rows,
                    measured=measured[name],
                    round_trips=counter.count / settings.count_ops,
                )
            )
        return out
    finally:
        occ.sql.dispose(engine)


class _MongoOutbox(_mongo.OccMongo):
    def __init__(self, name: str, coll: Any, first: int, rows: int) -> None:
        import occ.mongo

        super().__init__(coll, first, rows)
        self.name = name
        self.repo = occ.mongo.Repository(coll, outbox=OUTBOX_SYSTEMS[name])


def mongo_outbox_cost(
    settings: Any, log: Callable[[str], None]
) -> tuple[list[dict[str, Any]], str | None]:
    """The three systems' blind updates on MongoDB, or no records and why not."""
    import pymongo

    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(mongo_server())
            uri = stack.enter_context(private_database(server.uri, prefix=PREFIX))
        except DatabaseUnavailableError as exc:
            return [], str(exc)
        log(f"  outbox on mongo ({'nx-27017 emulator' if server.emulated else server.uri})")
        counter = _mongo._listener()
        client: Any = pymongo.MongoClient(uri, event_listeners=[counter])
        stack.callback(client.close)
        coll = client.get_default_database()[TABLE]
        systems = {}
        for i, name in enumerate(OUTBOX_SYSTEMS):
            first = 100_000 * (i + 1)
            _mongo._seed(coll, first, settings.rows)
            systems[name] = (_MongoOutbox(name, coll, first, settings.rows), first)
        runners = {
            name: _mongo._runner(system.blind, first, settings.rows)
            for name, (system, first) in systems.items()
        }
        measured = interleave(
            runners, rounds=settings.rounds, seconds=settings.seconds, max_ops=settings.max_ops
        )
        out = []
        for name, (system, first) in systems.items():
            counter.count, counter.active = 0, True
            for n in range(settings.count_ops):
                system.blind(first + n % settings.rows)
            counter.active = False
            trips = counter.count / settings.count_ops
            out.append(
                record(
                    "outbox",
                    "mongo",
                    name,
                    writers=1,
                    rows=settings.rows,
                    measured=measured[name],
                    round_trips=trips,
                )
            )
        return out, None
