"""``occ.sync.AsyncReplica``: a copy of another service's entity, applied if newer (SQL).

The statements are built by :class:`~occ.sync._replica_sql.ReplicaSQL` (pure);
this driver validates each event, runs them and reports what happened.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from occ._modes import acall
from occ.errors import ConfigurationError
from occ.sql._binds import AsyncConnection, AsyncEngine
from occ.sql._engines import acreate_tables
from occ.sql._mapping import EntityMap
from occ.sql._tombstones import created, ensure, purge_statement
from occ.sync._event import Event
from occ.sync._replica_sql import (
    REPLICA_TOMBSTONES,
    Outcome,
    ReplicaSQL,
    classify,
    will_apply,
)

__all__ = ["AsyncReplica"]

T = TypeVar("T")


class AsyncReplica(Generic[T]):
    """Keeps a copy of a source entity in your own model or Table, newest version wins.

    ``apply(event)`` inserts the row when absent, updates it only when the
    event's version is newer than the one held, and otherwise writes nothing;
    a delete leaves a tombstone version (table ``occ_replica_tombstones``),
    so a late update cannot bring the row back. Outcomes: ``applied``,
    ``stale`` (an older version), ``duplicate`` (the version held), ``gap``
    (a changes-only event that does not follow the version held: nothing
    written; the consumer retries it later or dead-letters it).

    Args:
        bind: an ``AsyncEngine`` (each apply in its own transaction) or a
            caller's ``AsyncConnection`` (applies join its transaction).
        model: a mapped class or ``Table`` keyed like the source, with an
            integer version column.
        entity: the source entity whose events it applies (default: the table name).
        fields: the fields it keeps (default: every field of the model).
        version_column: the name of the version column.
        fetch: on a gap, called with the event; returns the source's current
            full event (or ``None``) to apply instead.

    Raises:
        ConfigurationError: ``bind`` or ``model`` cannot hold a replica.
    """

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        model: type[T] | sa.Table,
        *,
        entity: str | None = None,
        fields: Sequence[str] | None = None,
        version_column: str = "version",
        fetch: Callable[[Event], Any] | None = None,
    ) -> None:
        if isinstance(bind, AsyncEngine):
            engine = bind
        elif isinstance(bind, AsyncConnection):
            engine = bind.engine
        else:
            raise ConfigurationError(
                f"bind must be an SQLAlchemy AsyncEngine or AsyncConnection, got "
                f"{type(bind).__name__}"
            )
        mapping = EntityMap(
            model, version_column=version_column, version_type="int", dialect=engine.dialect
        )
        self.bind = bind
        self.engine = engine
        self.sql = ReplicaSQL(mapping, engine.dialect, entity or mapping.table.name, fields)
        self.entity = self.sql.name
        self.fetch = fetch
        #: how many events ended in each outcome.
        self.counts: Counter[str] = Counter()
        self._read_first = engine.dialect.name == "mysql"

    # -- connections ---------------------------------------------------------------------

    async def _ready(self) -> None:
        if ensure(self.engine, REPLICA_TOMBSTONES):
            await acreate_tables(self.engine, REPLICA_TOMBSTONES)
            created(self.engine, REPLICA_TOMBSTONES)

    async def _run(self, body: Callable[[AsyncConnection], Any]) -> Any:
        await self._ready()
        if isinstance(self.bind, AsyncConnection):
            return await body(self.bind)
        async with self.engine.begin() as conn:
            return await body(conn)

    # -- applying ------------------------------------------------------------------------

    async def apply(self, event: Event) -> Outcome:
        """Apply ``event`` if it is newer than what the replica holds; say what happened.

        Raises:
            EventError: an event of another entity, a key of the wrong shape, a
                value that does not fit the model (nothing written).
        """
        outcome: Outcome = await self._run(lambda conn: self._apply(conn, event))
        if outcome == "gap" and self.fetch is not None:
            fetched = await acall(self.fetch, event, "fetch")
            if (isinstance(fetched, Event) and fetched.value is not None) or (
                isinstance(fetched, Event) and fetched.deleted
            ):
                outcome = await self._run(lambda conn: self._apply(conn, fetched))
        self.counts[outcome] += 1
        return outcome

    async def _held(self, conn: AsyncConnection, key: dict[str, Any]) -> tuple[Any, Any]:
        row = (await conn.execute(self.sql.held, key)).one()
        return row[0], row[1]

    async def _apply(self, conn: AsyncConnection, event: Event) -> Outcome:
        sql = self.sql
        key = sql.key_params(event)
        if event.deleted:
            return await self._delete(conn, event, key)
        if event.value is None and event.operation == "update":
            values = sql.values(event, event.changes, whole=False)
            params = {**key, **_fields(values), "occ_v": event.version, "occ_p": event.previous}
            result = await conn.execute(sql.update_after(tuple(values)), params)
            if result.rowcount == 1:
                return "applied"
            return classify(event, *await self._held(conn, key))
        source = event.value if event.value is not None else event.changes
        values = sql.values(event, source, whole=True)
        params = {**key, **_fields(values), "occ_v": event.version}
        if self._read_first:
            # MySQL's upsert cannot tell an insert from a row left as it was: read first.
            row, tomb = await self._held(conn, key)
            if not will_apply(event, row, tomb):
                return classify(event, row, tomb)
            await conn.execute(sql.upsert(tuple(values)), params)
            return "applied"
        result = await conn.execute(sql.upsert(tuple(values)), params)
        if result.rowcount == 1:
            return "applied"
        return classify(event, *await self._held(conn, key))

    async def _delete(self, conn: AsyncConnection, event: Event, key: dict[str, Any]) -> Outcome:
        row, tomb = await self._held(conn, key)
        if not will_apply(event, row, tomb):
            return classify(event, row, tomb)
        await conn.execute(self.sql.delete, {**key, "occ_v": event.version})
        await conn.execute(self.sql.tombstones.upsert, self.sql.tomb_params(event, key))
        return "applied"

    async def apply_many(self, events: Iterable[Event]) -> list[Outcome]:
        """Apply a batch in one transaction; the outcome of each event, in order.

        Full-value events go in one read of the versions held and one
        multi-row conditional upsert, whatever their number; deletes and
        changes-only events are applied one by one (in batch order).

        Raises:
            EventError: one of the events is invalid (nothing of the batch written).
        """
        batch = list(events)
        sql = self.sql
        keys = [sql.key_params(event) for event in batch]
        for event in batch:
            if not event.deleted and (event.value is not None or event.operation == "insert"):
                source = event.value if event.value is not None else event.changes
                sql.values(event, source, whole=True)
        outcomes: list[Outcome] = await self._run(lambda conn: self._many(conn, batch, keys))
        self.counts.update(outcomes)
        return outcomes

    async def _many(
        self, conn: AsyncConnection, batch: list[Event], keys: list[dict[str, Any]]
    ) -> list[Outcome]:
        sql = self.sql
        outcomes: list[Outcome | None] = [None] * len(batch)
        newest: dict[str, int] = {}
        for i, event in enumerate(batch):
            if event.deleted or (event.value is None and event.operation == "update"):
                continue
            other = newest.get(keys[i]["occ_tk"])
            if other is None or batch[other].order < event.order:
                newest[keys[i]["occ_tk"]] = i
        held = await self._held_many(conn, [keys[i] for i in newest.values()])
        rows = []
        for text, i in newest.items():
            event = batch[i]
            row, tomb = held.get(text, (None, None))
            if will_apply(event, row, tomb):
                outcomes[i] = "applied"
                source = event.value if event.value is not None else event.changes
                values = sql.values(event, source, whole=True)
                rows.append((keys[i], values, event.version))
            else:
                outcomes[i] = classify(event, row, tomb)
        if rows:
            await conn.execute(*sql.upsert_many(rows))
        for i, event in enumerate(batch):
            if outcomes[i] is None:
                text = keys[i]["occ_tk"]
                upserted = batch[newest[text]] if text in newest else None
                if upserted is not None and event.order <= upserted.order:
                    # not newer than the batch's newest full value of its key
                    outcomes[i] = "duplicate" if upserted.order == event.order else "stale"
                else:
                    outcomes[i] = await self._apply(conn, event)
        return [outcome or "stale" for outcome in outcomes]

    async def _held_many(
        self, conn: AsyncConnection, keys: list[dict[str, Any]]
    ) -> dict[str, tuple[Any, Any]]:
        """The versions held (row, tombstone) of each key, by key text: one statement."""
        if not keys:
            return {}
        rows, tombs, params = self.sql.held_many(keys)
        versions = self.sql.row_texts((await conn.execute(rows, params)).all())
        buried = dict((await conn.execute(tombs, params)).all())
        return {text: (versions.get(text), buried.get(text)) for text in {*versions, *buried}}

    async def purge_tombstones(self, older_than: dt.timedelta) -> int:
        """Forget the tombstones of keys deleted more than ``older_than`` ago.

        An update older than the horizon that arrives after it could then bring
        a deleted row back: choose a horizon longer than any redelivery delay.
        """
        horizon = dt.datetime.now(dt.UTC).replace(tzinfo=None) - older_than
        stmt = purge_statement(REPLICA_TOMBSTONES, horizon).where(
            REPLICA_TOMBSTONES.c.entity == self.sql.tomb_entity
        )
        result = await self._run(lambda conn: conn.execute(stmt))
        return int(result.rowcount)


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    return {f"f_{name}": value for name, value in values.items()}
