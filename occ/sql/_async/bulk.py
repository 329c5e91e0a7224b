"""Batch reads, batch writes, queries and all-or-nothing batches of ``occ.sql.AsyncRepository``.

The SQL is planned by :mod:`occ.sql._bulk` and :mod:`occ.sql._query`
(pure); this driver picks the connection, maps a batch's driver error to
per-write outcomes, and gives all-or-nothing batches their transaction.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from occ._async.repository import AsyncRepositoryBase
from occ._core.bulk import AtomicScope
from occ._core.query import Query
from occ._core.steps import Lost, Missed, ReadMany, Stored, Write, WriteMany
from occ.sql._binds import AsyncConnection
from occ.sql._bulk import BulkRecords
from occ.sql._dberrors import aborts_transaction, is_duplicate_key, is_serialization_failure
from occ.sql._engines import transaction_options
from occ.sql._guard import aborted_by, mark_aborted
from occ.sql._mapping import EntityMap
from occ.sql._query import query_plan
from occ.sql._records import Plan, SQLRecords

__all__ = ["AsyncSQLBulk"]

T = TypeVar("T")


class AsyncSQLBulk(AsyncRepositoryBase[T], Generic[T]):
    """What ``AsyncRepository`` adds to the contract's many-key methods (see the module)."""

    entity: EntityMap
    records: SQLRecords
    engine: Any
    bind: Any
    _caller: bool
    _autocommit: Any
    _raw: Any
    _bulk_records: BulkRecords | None = None

    async def _run_plan(self, plan: Plan, *, transaction: bool) -> Any:
        raise NotImplementedError

    async def _tables_ready(self, step: Write) -> None:
        raise NotImplementedError

    async def _caller_connection(self) -> AsyncConnection:
        raise NotImplementedError

    @property
    def _batches(self) -> BulkRecords:
        if self._bulk_records is None:
            self._bulk_records = BulkRecords(self.records)
        return self._bulk_records

    # -- reads ----------------------------------------------------------------------

    async def _read_many(self, step: ReadMany) -> list[Stored | None]:
        plan = self._batches.read_plan(step.keys, locking=step.locking and self._caller)
        found: list[Stored | None] = await self._run_plan(plan, transaction=False)
        return found

    async def _query(self, query: Query) -> list[Stored]:
        found: list[Stored] = await self._run_plan(
            query_plan(self.entity, query), transaction=False
        )
        return found

    # -- writes ---------------------------------------------------------------------

    async def _write_many(self, step: WriteMany) -> list[Any]:
        writes = step.writes
        batches = self._batches
        if not batches.supports(writes):
            return await self._each(writes)
        await self._tables_ready(writes[0])  # the tombstone table, on first use
        try:
            return await self._run_plan(  # type: ignore[no-any-return]
                batches.write_plan(writes), transaction=batches.needs_transaction(writes)
            )
        except sa.exc.DBAPIError as exc:
            return await self._batch_failed(exc, writes)
        except sa.exc.InvalidRequestError:
            if writes[0].action != "insert" or writes[0].key is not None:
                raise
            # SQLAlchemy cannot return these rows in order (nothing was sent): one by one.
            batches.ordered_inserts = False
            return await self._each(writes)

    async def _each(self, writes: Sequence[Write]) -> list[Any]:
        """One write at a time; a driver error is that write's alone (inside a transaction,
        yours or an all-or-nothing batch's, it is raised: the transaction may be over)."""
        out: list[Any] = []
        for write in writes:
            try:
                out.append(await self._write(write))
            except sa.exc.DBAPIError as exc:
                if self._caller:
                    raise
                out.append(exc)
        return out

    async def _batch_failed(self, exc: sa.exc.DBAPIError, writes: Sequence[Write]) -> list[Any]:
        """The outcome of each write of a batch whose statement failed, or raise ``exc``.

        A serialization failure or deadlock misses every write (each is retried
        or resolved as usual); a dropped connection loses every reply (each is
        settled). A taken key of an insert batch on MariaDB (which has no
        ``ON CONFLICT (key) DO NOTHING``) is told apart by one read and the rest
        sent again; another constraint an insert violates is found by sending
        the items one by one, outside a transaction.
        """
        aborted = self._caller and aborts_transaction(exc, self.engine.dialect.name)
        if aborted:
            mark_aborted(self.bind, aborted_by(writes[0], self.name))
        if is_serialization_failure(exc):
            return [Missed(serialization=True) for _ in writes]
        if exc.connection_invalidated and not self._caller:
            return [Lost() for _ in writes]
        if isinstance(exc, sa.exc.IntegrityError) and writes[0].action == "insert" and not aborted:
            if writes[0].key is not None and is_duplicate_key(exc, self.entity):
                return await self._insert_untaken(writes)
            if not self._caller:
                return await self._each(writes)
        raise exc

    async def _insert_untaken(self, writes: Sequence[Write]) -> list[Any]:
        taken = await self._read_many(ReadMany(tuple(w.key for w in writes)))
        rest = [w for w, stored in zip(writes, taken, strict=True) if stored is None]
        sent = iter(await self._write_many(WriteMany(tuple(rest))) if rest else ())
        return [Missed(duplicate=True) if s is not None else next(sent) for s in taken]

    # -- all or nothing ---------------------------------------------------------------

    @asynccontextmanager
    async def _atomic(self) -> AsyncIterator[AtomicScope[T]]:
        """One transaction on a connection of the engine (a savepoint inside the caller's):
        committed when the batch succeeded, rolled back otherwise."""
        if self._caller:
            conn = await self._caller_connection()
            savepoint = await conn.begin_nested()
            scope: AtomicScope[T] = AtomicScope(self)
            try:
                yield scope
            except BaseException:
                await savepoint.rollback()
                raise
            if scope.failed:
                await savepoint.rollback()
            else:
                await savepoint.commit()
            return
        async with self.engine.connect() as conn:
            options = transaction_options(self.engine)
            if options is not None:
                await conn.execution_options(**options)
            bound = copy.copy(self)
            bound.bind, bound._caller, bound._autocommit, bound._raw = conn, True, None, None
            scope = AtomicScope(bound)
            try:
                yield scope
            except BaseException:
                await conn.rollback()
                raise
            if scope.failed:
                await conn.rollback()
            else:
                await conn.commit()
