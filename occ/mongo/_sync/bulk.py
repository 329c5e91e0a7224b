# Generated from occ/mongo/_async/bulk.py by scripts/unasync.py: edit that file.
"""Batch reads, batch writes, queries and all-or-nothing batches of ``occ.mongo.Repository``.

The commands are planned by :mod:`occ.mongo._bulk` (pure); this driver runs
them in the repository's session, and gives an all-or-nothing batch a
transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from occ._core.bulk import AtomicScope
from occ._core.query import Query
from occ._core.steps import ReadMany, Stored, WriteMany
from occ._sync.repository import RepositoryBase
from occ.errors import ValidationError
from occ.mongo._bulk import BulkCommands
from occ.mongo._commands import Commands, Plan

__all__ = ["MongoBulk"]

T = TypeVar("T")


class MongoBulk(RepositoryBase[T], Generic[T]):
    """What ``Repository`` adds to the contract's many-key methods (see the module)."""

    commands: Commands
    _bulk_commands: BulkCommands | None = None

    def _execute(self, plan: Plan) -> Any:
        raise NotImplementedError

    def transaction(self, **options: Any) -> Any:
        raise NotImplementedError

    @property
    def _batches(self) -> BulkCommands:
        if self._bulk_commands is None:
            self._bulk_commands = BulkCommands(self.commands)
        return self._bulk_commands

    def _read_many(self, step: ReadMany) -> list[Stored | None]:
        if getattr(self, "outbox", None) is not None:
            # Deleted documents awaiting their relay must read as absent: key by key.
            return super()._read_many(step)
        found: list[Stored | None] = self._execute(self._batches.read_plan(step.keys))
        return found

    def _write_many(self, step: WriteMany) -> list[Any]:
        if getattr(self, "outbox", None) is not None:
            # Each write carries its change event: one by one, through the single path.
            return super()._write_many(step)
        plan = self._batches.write_plan(step.writes, in_transaction=self._joined())
        done: list[Any] = self._execute(plan)
        return done

    def _query(self, query: Query) -> list[Stored]:
        found: list[Stored] = self._execute(self._batches.query_plan(query))
        return found

    @contextmanager
    def _atomic(self) -> Iterator[AtomicScope[T]]:
        """A session and a transaction of its own, aborted if the batch failed.

        Raises:
            ValidationError: the repository is already in a transaction of yours;
                MongoDB has no savepoints to undo the batch alone.
        """
        if self._joined():
            raise ValidationError(
                "atomic=True inside your own MongoDB transaction: MongoDB has no savepoint "
                "to undo the batch alone. Your transaction is all-or-nothing already: send "
                "the batch with atomic=False and abort the transaction if an item failed"
            )
        with self.transaction() as bound:
            scope: AtomicScope[T] = AtomicScope(bound)
            yield scope
            session = bound.session
            if scope.failed and session.in_transaction:
                session.abort_transaction()
