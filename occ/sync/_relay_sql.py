"""The relay's SQL on an outbox table: leases, pending events, marks, cleanup (pure).

Ordering: the relay never keeps a high-water mark. It reads the events still
unpublished (``published_at IS NULL``) of the partitions it leases, in ``id``
order; an event whose transaction commits late (its id was assigned before an
id that committed first) is simply still pending at the next poll, never
skipped. Per key, ids follow commit order (the writer inserts the event after
its UPDATE took the row's lock), and a key always falls in the same
partition, which one relay at a time leases: a key's events are published in
order. Leases are rows of ``<outbox>_leases`` taken with a conditional
UPDATE (owner, expiry) — optimistic concurrency on the relays themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from occ.sync._event import Event
from occ.sync._outbox import PARTITIONS, OutboxStatus
from occ.sync._tables import lease_table, outbox_table

__all__ = ["OutboxStatus", "RelaySQL"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class RelaySQL:
    """Statements of the relays of one outbox table."""

    def __init__(self, table: str = "occ_outbox") -> None:
        self.table = outbox_table(table)
        self.leases = lease_table(table)
        t, lt = self.table, self.leases
        self.seed = [
            {"partition_no": p, "owner": None, "expires": 0.0, "version": 1}
            for p in range(PARTITIONS)
        ]
        self.existing = sa.select(lt.c.partition_no)
        self.insert_leases = sa.insert(lt)
        self.lease_rows = sa.select(lt.c.partition_no, lt.c.owner, lt.c.expires)
        self.take = (
            sa.update(lt)
            .where(
                lt.c.partition_no == sa.bindparam("p"),
                sa.or_(
                    lt.c.owner == sa.bindparam("me"),
                    lt.c.owner.is_(None),
                    lt.c.expires < sa.bindparam("now"),
                ),
            )
            .values(
                owner=sa.bindparam("me"), expires=sa.bindparam("until"), version=lt.c.version + 1
            )
        )
        self.release = (
            sa.update(lt)
            .where(lt.c.owner == sa.bindparam("me"))
            .values(owner=None, expires=0.0, version=lt.c.version + 1)
        )
        self.mark = (
            sa.update(t)
            .where(t.c.id.in_(sa.bindparam("ids", expanding=True)))
            .values(published_at=sa.bindparam("at"))
        )

    def pending(self, partitions: Sequence[int], limit: int) -> Any:
        """The oldest unpublished events of ``partitions``, in id order."""
        t = self.table
        return (
            sa.select(t)
            .where(t.c.published_at.is_(None), t.c.partition_no.in_(list(partitions)))
            .order_by(t.c.id)
            .limit(limit)
        )

    def purge(self, older_than: dt.datetime) -> Any:
        """Delete published events published before ``older_than``."""
        t = self.table
        return sa.delete(t).where(t.c.published_at < older_than)

    def status(self) -> Any:
        """``(pending, oldest pending created_at, published)`` counts."""
        t = self.table
        pending = t.c.published_at.is_(None)
        return sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((pending, 1), else_=0)), 0),
            sa.func.min(sa.case((pending, t.c.created_at))),
            sa.func.coalesce(sa.func.sum(sa.case((pending, 0), else_=1)), 0),
        )


def event_of(row: Any) -> Event:
    """The :class:`Event` of an outbox row."""
    key = json.loads(row.entity_key)
    return Event(
        id=row.event_id,
        entity=row.entity,
        key=tuple(key) if len(key) > 1 else key[0],
        version=row.version,
        previous=row.previous,
        operation=row.operation,
        changes=json.loads(row.changes),
        value=None if row.value is None else json.loads(row.value),
        timestamp=row.created_at.replace(tzinfo=dt.UTC),
        position=row.id,
        headers=json.loads(row.headers) if row.headers else {},
    )
