"""Shared steps of the sync tests: a source with an outbox, a copy, and their comparison."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import occ.sql
from occ.sync import Event, Outbox, decode
from tests.sync.models import profile_table, unique


class Service:
    """A source table with an outbox on one engine, and a replica table on another."""

    def __init__(self, source: sa.Engine, target: sa.Engine, **outbox: Any) -> None:
        self.source = source
        self.target = target
        self.table = profile_table(unique("src"))
        self.table.create(source)
        self.copy = profile_table(unique("copy"))
        self.copy.create(target)
        self.outbox = Outbox(table=unique("ob"), entity="profiles", **outbox)
        self.repo = occ.sql.Repository(source, self.table, outbox=self.outbox)

    def rows(self, engine: sa.Engine, table: sa.Table) -> dict[int, tuple[Any, ...]]:
        with engine.connect() as conn:
            return {r.id: tuple(r) for r in conn.execute(sa.select(table))}

    def assert_converged(self) -> None:
        """Every replica row equals its source row, values and versions."""
        source = self.rows(self.source, self.table)
        copy = self.rows(self.target, self.copy)
        assert copy == source


def stream_events(redis_url: str, stream: str) -> list[Event]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return [decode(fields[b"event"]) for _, fields in client.xrange(stream)]
    finally:
        client.close()
