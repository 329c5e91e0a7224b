"""``occ.sql.AsyncRepository``: the asyncio driver of the core flows over SQLAlchemy.

``occ/sql/_sync.py`` is generated from this file by ``scripts/unasync.py``;
what the two drivers do differently lives in :mod:`occ.sql._engines`.
"""

from __future__ import annotations

from collections.abc import Callable
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

    async def _caller_connection(self) -> AsyncConnection:
        """The connection of the caller's transaction (a bound connection or session)."""
        bind = self.bind
        if isinstance(bind, AsyncConnection):
            return bind
        assert isinstance(bind, AsyncSession)
        return await bind.connection()

    async def _on_engine(self, plan: Plan, *, transaction: bool) -> Any:
        """Run ``plan`` on the engine: autocommit for one statement, else one transaction.

        A transaction serves MySQL's update + read and in-memory SQLite (no
        autocommit sibling). Connections are opened here, not through a context
        manager of ours: on in-memory SQLite that costs more than the statement.
        """
        autocommit = self._autocommit
        if autocommit is None or transaction:
            async with self.engine.connect() as conn:
                result = await _drive(conn, plan)
                await conn.commit()
                return result
        async with autocommit.connect() as conn:
            return await _drive(conn, plan)

    # -- the driver ---------------------------------------------------------

    async def _run(self, flow: Flow) -> Applied:
        return await run_async(
            flow, read=self._read, write=self._write, on_point=self._on_point, where="occ.sql"
        )

    async def _read(self, step: Read) -> Any:
        if self._joined:
            return await _drive(await self._caller_connection(), self._read_plan(step))
        return await self._on_engine(self._read_plan(step), transaction=False)

    async def _write(self, step: Write) -> Any:
        try:
            if self._joined:
                return await _drive(await self._caller_connection(), self._write_plan(step))
            return await self._on_engine(
                self._write_plan(step), transaction=self._needs_transaction(step)
            )
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
