"""``occ.sql.AsyncRepository``: the asyncio driver of the core flows over SQLAlchemy.

``occ/sql/_sync.py`` is generated from this file by ``scripts/unasync.py``;
what the two drivers do differently lives in :mod:`occ.sql._engines`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from occ._core.decisions import Resolver
from occ._core.flow import Flow
from occ._core.model import Versioned
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Point, Read, Write
from occ._drive import run_async
from occ.errors import ConfigurationError, NotFoundError
from occ.sql._base import Plan, SQLRepositoryBase
from occ.sql._engines import (
    async_autocommit_engine,
    async_driver_sql_allowed,
    async_session_engine,
    async_shares_one_connection,
)
from occ.sql._statements import DriverSQL

__all__ = ["AsyncRepository"]

T = TypeVar("T")


async def _drive(conn: AsyncConnection, plan: Plan) -> Any:
    try:
        stmt, params = next(plan)
        while True:
            if type(stmt) is DriverSQL:
                if async_driver_sql_allowed(conn):
                    result = await conn.exec_driver_sql(stmt.sql, stmt.args(params))
                else:
                    result = await conn.execute(stmt.statement, params)
            else:
                result = await conn.execute(stmt, params)
            stmt, params = plan.send(result)
    except StopIteration as stop:
        return stop.value


class AsyncRepository(SQLRepositoryBase[T], Generic[T]):
    """Versioned reads and conditional writes of one model over an async SQLAlchemy bind.

    The same methods as :class:`occ.sql.Repository`, awaited; ``modify`` accepts
    a sync or an async function.

    Args:
        bind: an ``AsyncEngine`` (each write runs on its own, in autocommit when it
            is one statement), or a caller's ``AsyncConnection`` or ``AsyncSession`` (writes
            join the caller's transaction; a conflict raises, never retried).
        model: a declarative mapped class (dataclass-mapped or not) or a ``Table``
            (values are then dicts).
        policy: the conflict resolver; default: the one registered for ``model``
            in :mod:`occ.policies`, else :class:`~occ.resolvers.Raise`.
        retry: attempts and backoff for resolved writes and ``modify``.
        version_column: name of the version column (attribute or column name).
        version_type: ``"int"`` (default) or ``"timestamp"``.
        on_point: called with each named yield point (tests and schedulers).
    """

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection | AsyncSession,
        model: type[T] | sa.Table,
        *,
        policy: Resolver | None = None,
        retry: RetryPolicy | None = None,
        version_column: str = "version",
        version_type: str = "int",
        on_point: Callable[[Point], Any] | None = None,
    ) -> None:
        if isinstance(bind, AsyncEngine):
            engine = bind
            joined = False
        elif isinstance(bind, AsyncConnection):
            engine = bind.engine
            joined = True
        elif isinstance(bind, AsyncSession):
            engine = async_session_engine(bind)
            joined = True
        else:
            raise ConfigurationError(
                "bind must be a SQLAlchemy AsyncEngine, AsyncConnection or AsyncSession, got "
                f"{type(bind).__name__} (for a sync Engine use occ.sql.Repository)"
            )
        super().__init__(
            model,
            engine.dialect,
            policy=policy,
            retry=retry,
            version_column=version_column,
            version_type=version_type,
            on_point=on_point,
            joined=joined,
        )
        self.bind = bind
        self.engine = engine
        # None: joined, or in-memory SQLite, where a plain transaction is cheaper.
        self._autocommit = (
            None
            if joined or async_shares_one_connection(engine)
            else async_autocommit_engine(engine)
        )

    # -- connections --------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, *, transaction: bool) -> AsyncIterator[AsyncConnection]:
        bind = self.bind
        if isinstance(bind, AsyncConnection):
            yield bind
        elif isinstance(bind, AsyncSession):
            yield await bind.connection()
        elif transaction or self._autocommit is None:
            # connect() + commit() is engine.begin() without its extra context manager.
            async with self.engine.connect() as conn:
                yield conn
                await conn.commit()
        else:
            async with self._autocommit.connect() as conn:
                yield conn

    # -- the driver ---------------------------------------------------------

    async def _run(self, flow: Flow) -> Applied:
        return await run_async(
            flow, read=self._read, write=self._write, on_point=self._on_point, where="occ.sql"
        )

    async def _read(self, step: Read) -> Any:
        if self._joined:
            async with self._connection(transaction=False) as conn:
                return await _drive(conn, self._read_plan(step))
        # The engine's own connection, opened here rather than through _connection(): its
        # context manager costs more than the statement on in-memory SQLite.
        autocommit = self._autocommit
        if autocommit is None:
            async with self.engine.connect() as conn:
                result = await _drive(conn, self._read_plan(step))
                await conn.commit()
                return result
        async with autocommit.connect() as conn:
            return await _drive(conn, self._read_plan(step))

    async def _write(self, step: Write) -> Any:
        try:
            if self._joined:
                async with self._connection(transaction=self._needs_transaction(step)) as conn:
                    return await _drive(conn, self._write_plan(step))
            autocommit = self._autocommit
            if autocommit is None or self._needs_transaction(step):
                async with self.engine.connect() as conn:
                    result = await _drive(conn, self._write_plan(step))
                    await conn.commit()
                    return result
            async with autocommit.connect() as conn:
                return await _drive(conn, self._write_plan(step))
        except sa.exc.DBAPIError as exc:
            return self._write_error(exc, step)

    # -- the contract -------------------------------------------------------

    async def find(self, key: Any) -> Versioned[T] | None:
        """The current value and version under ``key``, or ``None``."""
        key = self.entity.check_key(key)
        stored = await self._read(Read(key))
        return None if stored is None else self._versioned(stored)

    async def get(self, key: Any) -> Versioned[T]:
        """The current value and version under ``key``; :class:`NotFoundError` if absent."""
        found = await self.find(key)
        if found is None:
            raise NotFoundError(self.entity.entity, key)
        return found

    async def insert(self, value: T) -> Versioned[T]:
        """Insert ``value`` at version 1; :class:`AlreadyExistsError` if the key is taken."""
        return self._result(await self._run(self._insert_flow(value)))

    async def update(
        self, key: Any, changes: dict[str, Any], *, expected_version: Any, base: Any = None
    ) -> Versioned[T]:
        """Write ``changes`` if the stored version is ``expected_version``; return the stored row.

        A conflict goes to the entity's policy (default: raise ``ConflictError``);
        ``base``, the values you read, lets a merge policy see what you changed.
        """
        return self._result(
            await self._run(self._update_flow(key, changes, expected_version, base, returning=True))
        )

    async def save(self, snapshot: Versioned[T]) -> Versioned[T]:
        """Write the fields of ``snapshot.value`` that differ from what was read: one statement."""
        flow, changes = self._save_flow(snapshot)
        if not changes:
            return snapshot
        # Without a base, the changes are every field of the value: the record written.
        written = changes if snapshot.base is None and self._on_point is None else None
        return self._saved(snapshot, await self._run(flow), written)

    async def delete(self, key: Any, *, expected_version: Any) -> None:
        """Delete the row if its stored version is ``expected_version``."""
        await self._run(self._delete_flow(key, expected_version))

    async def modify(
        self, key: Any, fn: Callable[[T], Any], *, attempts: int | None = None
    ) -> Versioned[T]:
        """Read, apply ``fn`` to the value, write conditionally; retry from a fresh read.

        ``fn`` may mutate the value it gets and return it (or return ``None``);
        it can run several times, so it must have no other side effects.
        """
        return self._result(await self._run(self._modify_flow(key, fn, attempts)))
