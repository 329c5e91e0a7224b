# Generated from occ/sync/_async/sql_reader.py by scripts/unasync.py: edit that file.
"""``occ.sync.OutboxReader``: the outbox table of a SQL service database, for a relay.

Its statements are in :mod:`occ.sync._relay_sql` (leases, pending events in
order, marks, purge, status).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import sqlalchemy as sa

from occ._modes import sleep
from occ.errors import ConfigurationError
from occ.sql._binds import Engine
from occ.sql._engines import create_tables
from occ.sync._event import Event
from occ.sync._relay_sql import OutboxStatus, RelaySQL, event_of, utcnow

__all__ = ["OutboxReader"]


class OutboxReader:
    """The outbox table of a service database, as a relay reads it.

    Args:
        engine: the service's ``Engine``.
        table: the outbox table's name (as given to :class:`~occ.sync.Outbox`).
    """

    def __init__(self, engine: Engine, table: str = "occ_outbox") -> None:
        if not isinstance(engine, Engine):
            raise ConfigurationError(f"a relay reads an outbox through an Engine, got {engine!r}")
        self.engine = engine
        self.sql = RelaySQL(table)
        self._ready = False

    def ready(self) -> None:
        """Create the outbox and lease tables if they do not exist, and the lease rows."""
        for attempt in range(3):
            if self._ready:
                return
            try:
                create_tables(self.engine, self.sql.table, self.sql.leases)
                with self.engine.begin() as conn:
                    have = set((conn.execute(self.sql.existing)).scalars())
                    missing = [row for row in self.sql.seed if row["partition_no"] not in have]
                    if missing:
                        conn.execute(self.sql.insert_leases, missing)
                self._ready = True
            except sa.exc.DBAPIError:
                if attempt == 2:
                    raise
                sleep(0.1)  # another relay created them at the same moment

    def claim(self, owner: str, ttl: float, limit: int) -> list[int]:
        """Take or renew up to ``limit`` partition leases; the partitions now held.

        Leases with more than half their time left are kept as they are (no
        write) unless free partitions could be taken.
        """
        self.ready()
        now = time.time()
        with self.engine.begin() as conn:
            rows = (conn.execute(self.sql.lease_rows)).all()
            mine = [p for p, who, until in rows if who == owner and until >= now]
            free = [p for p, who, until in rows if who != owner and (who is None or until < now)]
            fresh = all(until >= now + ttl / 2 for _, who, until in rows if who == owner)
            if mine and fresh and (len(mine) >= limit or not free):
                return mine[:limit]
            wanted = (mine + free)[:limit]
            held = []
            for p in wanted:
                args = {"p": p, "me": owner, "now": now, "until": now + ttl}
                if (conn.execute(self.sql.take, args)).rowcount == 1:
                    held.append(p)
            return held

    def release(self, owner: str) -> None:
        """Give back every lease of ``owner`` (a clean stop)."""
        with self.engine.begin() as conn:
            conn.execute(self.sql.release, {"me": owner})

    def pending(self, partitions: Sequence[int], limit: int) -> list[Event]:
        """The oldest unpublished events of ``partitions``, in order."""
        if not partitions:
            return []
        with self.engine.connect() as conn:
            rows = (conn.execute(self.sql.pending(partitions, limit))).all()
        return [event_of(row) for row in rows]

    def mark(self, events: Sequence[Event]) -> None:
        """Mark ``events`` published."""
        ids = [e.position for e in events]
        with self.engine.begin() as conn:
            conn.execute(self.sql.mark, {"ids": ids, "at": utcnow()})

    def purge(self, older_than: dt.timedelta) -> int:
        """Delete the events published more than ``older_than`` ago; how many."""
        with self.engine.begin() as conn:
            result = conn.execute(self.sql.purge(utcnow() - older_than))
            return int(result.rowcount)

    def status(self) -> OutboxStatus:
        """Pending events, seconds since the oldest was written, published events, leases."""
        self.ready()
        with self.engine.connect() as conn:
            pending, oldest, published = (conn.execute(self.sql.status())).one()
            leases = (conn.execute(self.sql.lease_rows)).all()
        lag = 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
        now = time.time()
        return OutboxStatus(
            pending=int(pending),
            lag=lag,
            published=int(published),
            leases={p: (who if until >= now else None) for p, who, until in leases},
        )
