"""The many-key methods of every repository, written once: batch reads, queries, batch writes.

A backend performs :class:`~occ._core.steps.ReadMany` and
:class:`~occ._core.steps.WriteMany` in a constant number of round trips
(the defaults here loop over single reads and writes), a
:class:`~occ._core.query.Query`, and gives an all-or-nothing scope
(:meth:`AsyncBulkMethods._atomic`); item validation, flows and results come
from :class:`~occ._core.bulk.BulkCore`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from occ._async.drive import drive
from occ._core.batch import BulkResult, Found
from occ._core.bulk import AtomicScope, BulkCore, Planned
from occ._core.lockstep import Outcome, lockstep
from occ._core.model import Versioned
from occ._core.query import Query
from occ._core.repository import without_locks
from occ._core.steps import Read, ReadMany, Release, Stored, Write, WriteMany
from occ.errors import ConfigurationError, ValidationError

__all__ = ["AsyncBulkMethods"]

T = TypeVar("T")


def _check_atomic(atomic: Any) -> bool:
    if type(atomic) is not bool:
        raise ValidationError(f"atomic must be True or False, got {atomic!r}")
    return atomic


class AsyncBulkMethods(BulkCore[T], Generic[T]):
    """``get_many``, ``query``, ``scan`` and the batch writes, over a backend's steps."""

    _on_point: Any

    # -- what a backend performs ----------------------------------------------------

    async def _release(self, step: Release) -> None:
        """End the transaction of a held row lock (backends without row locks hold none)."""

    async def _read(self, step: Read) -> Stored | None:
        raise NotImplementedError

    async def _write(self, step: Write) -> Any:
        raise NotImplementedError

    async def _read_many(self, step: ReadMany) -> list[Stored | None]:
        """Read each key (a backend overrides this with one query by key list)."""
        return [
            await self._read(Read(key, locking=step.locking, primary=step.primary))
            for key in step.keys
        ]

    async def _write_many(self, step: WriteMany) -> list[Any]:
        """Perform each write (a backend overrides this with a constant number of round trips)."""
        return [await self._write(write) for write in step.writes]

    async def _query(self, query: Query) -> list[Stored]:
        """The stored values matching ``query``, in its order (one round trip)."""
        raise ConfigurationError(f"{type(self).__name__} cannot run queries")

    @asynccontextmanager
    async def _atomic(self) -> AsyncIterator[AtomicScope[T]]:
        """A transaction for an all-or-nothing batch: commit at the end unless it failed."""
        raise ConfigurationError(f"{type(self).__name__} cannot write a batch all-or-nothing")
        yield  # pragma: no cover

    # -- reads ----------------------------------------------------------------------

    async def get_many(self, keys: Any) -> Found[T]:
        """The values stored under ``keys``, in their order, and the keys with nothing stored.

        One round trip (one query by key list). A key given twice is read once.

        Raises:
            ValidationError: a key of the wrong shape or type, or more keys than
                :attr:`max_batch`; nothing is read.
        """
        checked = self._read_keys(keys)
        if not checked:
            return self._found([], [])
        return self._found(checked, await self._read_many(ReadMany(tuple(checked))))

    async def query(
        self, where: Any = None, *, order_by: Any = None, limit: int | None = None
    ) -> list[Versioned[T]]:
        """The values matching ``where``, as read (``outcome`` ``"read"``), in one round trip.

        ``find(key)`` is the single-key read of the contract; this is the filtered one.

        Args:
            where: ``None`` (every value), a mapping of field name to the value it
                must equal (on every backend), or the backend's own filter: a
                SQLAlchemy boolean expression, a MongoDB filter document, a
                predicate of the value (in memory).
            order_by: a field name or a sequence of them, ``"-name"`` descending;
                the key breaks ties (and is the order when none is given).
            limit: at most this many values.

        Raises:
            ValidationError: an unknown field, a bad ``order_by`` or ``limit``.
        """
        found = await self._query(self._query_spec(where, order_by, limit))
        return [self._versioned(stored) for stored in found]

    async def scan(
        self, where: Any = None, *, page_size: int = 500, after: Any = None
    ) -> AsyncIterator[Versioned[T]]:
        """Every value matching ``where``, in key order, a page of ``page_size`` at a time.

        Keyset pagination: each page is one query for the keys after the last
        one seen, so memory stays bounded by ``page_size`` and no value is
        skipped or repeated because others were written meanwhile. To resume
        (an HTTP "next page" link), pass the last key seen as ``after``.
        """
        query = self._scan_spec(where, page_size, after)
        size = query.limit
        assert size is not None
        while True:
            page = await self._query(query)
            for stored in page:
                yield self._versioned(stored)
            if len(page) < size:
                return
            query = Query(query.where, (), size, page[-1].key)

    # -- writes ---------------------------------------------------------------------

    async def insert_many(self, values: Any, *, atomic: bool = False) -> BulkResult[T]:
        """Insert each value at the first version; one outcome per value, in order.

        A taken key is ``"already_exists"``; a key twice in the batch, or a
        value that already carries a version, ``"invalid"``.
        """
        return await self._bulk("insert_many", values, atomic)

    async def save_many(self, snapshots: Any, *, atomic: bool = False) -> BulkResult[T]:
        """``save`` each snapshot (what differs from what was read, expecting its version)."""
        return await self._bulk("save_many", snapshots, atomic)

    async def update_many(self, items: Any, *, atomic: bool = False) -> BulkResult[T]:
        """``update`` each ``(key, changes, expected_version[, base])``; the stored values back."""
        return await self._bulk("update_many", items, atomic)

    async def delete_many(self, items: Any, *, atomic: bool = False) -> BulkResult[T]:
        """``delete`` each ``(key, expected_version)``; a done item's outcome is ``"deleted"``."""
        return await self._bulk("delete_many", items, atomic)

    async def upsert_many(self, values: Any, *, atomic: bool = False) -> BulkResult[T]:
        """Store each value under its key: see :meth:`upsert`; one outcome per value."""
        return await self._bulk("upsert_many", values, atomic)

    async def upsert(self, value: T) -> Versioned[T]:
        """Store ``value`` under its key, guarded by the version it carries.

        A value without a version is inserted; if its key is taken, that is a
        conflict (you expected nothing there) for the entity's policy: e.g.
        ``Overwrite`` writes it at the stored version, ``Raise`` (the default)
        raises :class:`~occ.ConflictError`. A value with a version updates every
        field, expecting that version; nothing stored there is ``NotFoundError``.
        """
        result = await self.upsert_many([value])
        item = result.raise_for_errors()[0]
        assert item.value is not None
        return item.value

    async def _bulk(self, what: str, items: Any, atomic: Any) -> BulkResult[T]:
        """Plan each item, run the flows in lockstep, build each result (see BulkCore)."""
        all_or_nothing = _check_atomic(atomic)
        batch = self._batch(items, what)
        if not batch:
            return BulkResult([], atomic=all_or_nothing)
        if not all_or_nothing:
            planned = self._planner(what)(batch)
            return self._bulk_result(planned, await self._lockstep(planned), atomic=False)
        async with self._atomic() as scope:
            repo: AsyncBulkMethods[T] = scope.repo
            planned = repo._planner(what)(batch)
            invalid = any(p.ready is not None and not p.ready.ok for p in planned)
            # Something is invalid: nothing is sent.
            outcomes = None if invalid else await repo._lockstep(planned)
            result = self._bulk_result(planned, outcomes, atomic=True)
            scope.failed = not result.ok
        return result

    def _planner(self, what: str) -> Any:
        """The planner of a batch method. Its flows never take row locks (the lock
        fallback): items held at once would each pin a connection and wait on each other.
        """
        plan = {
            "insert_many": self._plan_inserts,
            "save_many": self._plan_saves,
            "update_many": self._plan_updates,
            "delete_many": self._plan_deletes,
            "upsert_many": self._plan_upserts,
        }[what]

        def planned(batch: Any) -> Any:
            with without_locks():
                return plan(batch)

        return planned

    async def _lockstep(self, planned: list[Planned]) -> list[Outcome]:
        flows = [p.flow for p in planned if p.flow is not None]
        if not flows:
            return []
        return await drive(
            lockstep(flows),
            read=self._read,
            write=self._write,
            on_point=self._on_point,
            release=self._release,
            read_many=self._read_many,
            write_many=self._write_many,
        )
