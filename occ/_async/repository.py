"""The repository contract, written once: ``find``, ``get``, ``insert``, ``update``,
``save``, ``delete``, ``modify`` (and the many-key methods of :mod:`occ._async.bulk`).

A backend subclasses :class:`AsyncRepositoryBase` with a codec (see
:class:`~occ._core.repository.RepositoryCore`) and two methods that perform
a read and a write; the flows and results come from the core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from occ._async.bulk import AsyncBulkMethods
from occ._async.drive import drive
from occ._core.flow import Flow
from occ._core.model import Versioned
from occ._core.steps import Applied, Read, Stored, Write
from occ.errors import NotFoundError

__all__ = ["AsyncRepositoryBase"]

T = TypeVar("T")


class AsyncRepositoryBase(AsyncBulkMethods[T], Generic[T]):
    """The contract methods of every repository; a backend performs reads and writes."""

    async def _read(self, step: Read) -> Stored | None:
        """Read one record by key (the backend's query or command)."""
        raise NotImplementedError

    async def _write(self, step: Write) -> Any:
        """Perform one conditional write: :class:`Applied` or :class:`Missed`."""
        raise NotImplementedError

    async def _run(self, flow: Flow) -> Applied:
        return await drive(
            flow,
            read=self._read,
            write=self._write,
            on_point=self._on_point,
            release=self._release,
        )

    async def find(self, key: Any) -> Versioned[T] | None:
        """The current value and version under ``key``, or ``None``."""
        stored = await self._read(Read(self.codec.check_key(key)))
        return None if stored is None else self._versioned(stored)

    async def get(self, key: Any) -> Versioned[T]:
        """The current value and version under ``key``.

        Raises:
            NotFoundError: nothing is stored under ``key``.
        """
        found = await self.find(key)
        if found is None:
            raise NotFoundError(self.name, key)
        return found

    async def insert(self, value: T) -> Versioned[T]:
        """Insert ``value`` at the first version.

        Raises:
            AlreadyExistsError: the key is taken.
        """
        return self._result(await self._run(self._insert_flow(value)))

    async def update(
        self,
        key: Any,
        changes: Mapping[str, Any],
        *,
        expected_version: Any,
        base: Any = None,
    ) -> Versioned[T]:
        """Write ``changes`` if the stored version is ``expected_version``; return what is stored.

        A conflict goes to the entity's policy (default: raise
        :class:`~occ.ConflictError`); ``base``, the values you read, lets a merge
        see what you changed. The result's ``outcome`` says what happened.
        """
        flow = self._update_flow(key, changes, expected_version, base)
        return self._result(await self._run(flow))

    async def save(self, snapshot: Versioned[T]) -> Versioned[T]:
        """Write the fields of ``snapshot.value`` that differ from what was read, expecting its
        version: one statement. Nothing changed: nothing is written (``outcome`` ``unchanged``).
        """
        flow, changes = self._save_flow(snapshot)
        if flow is None:
            return Versioned(
                snapshot.value,
                snapshot.version,
                snapshot.key,
                snapshot.base,
                outcome="unchanged",
            )
        return self._saved(snapshot, await self._run(flow), changes)

    async def delete(self, key: Any, *, expected_version: Any) -> None:
        """Delete what is stored under ``key`` if its version is ``expected_version``."""
        await self._run(self._delete_flow(key, expected_version))

    async def increment(self, key: Any, **deltas: Any) -> Versioned[T]:
        """Add each ``field=delta`` to what is stored under ``key``; return the stored value.

        One atomic statement or command where the backend has one (SQL with integer
        versions, MongoDB): it bumps the version and never conflicts, however hot the
        key. Elsewhere (timestamp versions, in-memory, inside a caller's transaction)
        a read and a conditional write, retried from a fresh read like :meth:`modify`.
        """
        return self._result(await self._run(self._increment_flow(key, deltas)))

    async def modify(
        self, key: Any, fn: Callable[[T], Any], *, attempts: int | None = None
    ) -> Versioned[T]:
        """Read, apply ``fn`` to the value, write conditionally; retry from a fresh read.

        ``fn`` may mutate the value it gets and return it (or return ``None``);
        it can run several times, so it must have no other side effects.
        """
        return self._result(await self._run(self._modify_flow(key, fn, attempts)))
