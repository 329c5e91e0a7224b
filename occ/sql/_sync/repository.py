# Generated from occ/sql/_async/repository.py by scripts/unasync.py: edit that file.
"""``occ.sql.Repository``: the repository contract over an SQLAlchemy bind.

The SQL itself is built by :class:`~occ.sql._records.SQLRecords` (pure);
this driver picks the connection and executes its plans.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from occ._core.decisions import Resolver
from occ._core.retry import RetryPolicy
from occ._core.steps import Read, Stored, Write
from occ.errors import ConfigurationError
from occ.policies import outbox_for
from occ.sql._binds import Connection, Engine, Session
from occ.sql._dberrors import aborts_transaction
from occ.sql._engines import (
    autocommit_engine,
    create_tables,
    driver_sql_allowed,
    session_engine,
    shares_one_connection,
    transaction_options,
)
from occ.sql._fast import raw_runner
from occ.sql._guard import aborted_by, mark_aborted
from occ.sql._mapping import EntityMap
from occ.sql._records import Plan, SQLRecords
from occ.sql._statements import DriverSQL
from occ.sql._sync.bulk import SQLBulk
from occ.sql._tombstones import created, ensure
from occ.sync._outbox import Outbox, as_outbox

__all__ = ["Repository", "execute"]

T = TypeVar("T")


def execute(conn: Connection, plan: Plan) -> Any:
    """Run each statement of ``plan`` on ``conn``; return what the plan returns."""
    try:
        stmt, params = next(plan)
        while True:
            if type(stmt) is DriverSQL:
                if driver_sql_allowed(conn):
                    result = conn.exec_driver_sql(stmt.sql, stmt.args(params))
                else:
                    result = conn.execute(stmt.statement, params)
            else:
                result = conn.execute(stmt, params)
            stmt, params = plan.send(result)
    except StopIteration as stop:
        return stop.value


class Repository(SQLBulk[T], Generic[T]):
    """Versioned reads and conditional writes of one model over an SQLAlchemy bind.

    Args:
        bind: an ``Engine`` (each write runs on its own, in autocommit when it
            is one statement), or a caller's ``Connection`` or ``Session``
            (writes join the caller's transaction; a conflict raises, never retried).
        model: a declarative mapped class (dataclass-mapped or not) or a ``Table``
            (values are then dicts).
        tombstones: keep the last version of each deleted key (table
            ``occ_tombstones``, created on first use) so that a key's versions
            never repeat: a snapshot read before a delete can never apply to a
            row inserted again under the same key. ``False`` turns that off.
        policy: the conflict resolver; default: the one registered for ``model``
            in :mod:`occ.policies`, else :class:`~occ.resolvers.Raise`.
        retry: attempts and backoff for resolved writes and ``modify``.
        version_column: name of the version column (attribute or column name).
        version_type: ``"int"`` (default) or ``"timestamp"``.
        token_column: a ``String(135)`` column (nullable) that keeps the tokens of
            the row's last 8 writes, so that after a lost reply occ can tell
            whether its write applied even when others wrote since (without
            it, only when nobody did: see :class:`~occ.UnknownOutcomeError`).
        outbox: emit a change event in the same transaction as every write that
            changes a row (an :class:`occ.sync.Outbox`, or ``True`` for its
            defaults); default: the one registered in :mod:`occ.policies`, if any.
        on_point: called with each named yield point (tests and schedulers).

    Raises:
        ConfigurationError: ``bind`` is of the other mode or not a bind, or the
            model cannot be versioned.
    """

    def __init__(
        self,
        bind: Engine | Connection | Session,
        model: type[T] | sa.Table,
        *,
        policy: Resolver | None = None,
        retry: RetryPolicy | None = None,
        version_column: str = "version",
        version_type: str = "int",
        token_column: str | None = None,
        tombstones: bool = True,
        outbox: Outbox | bool | None = None,
        on_point: Any = None,
    ) -> None:
        if isinstance(bind, Engine):
            engine = bind
        elif isinstance(bind, Connection):
            engine = bind.engine
        elif isinstance(bind, Session):
            engine = session_engine(bind)
        else:
            raise ConfigurationError(
                "bind must be an SQLAlchemy Engine, Connection or Session, got "
                f"{type(bind).__name__}"
            )
        entity = EntityMap(
            model,
            version_column=version_column,
            version_type=version_type,
            dialect=engine.dialect,
            token_column=token_column,
        )
        super().__init__(
            entity, policy=policy, policy_keys=(model,), retry=retry, on_point=on_point
        )
        self.entity = entity
        if outbox is None:
            outbox = outbox_for(model, entity.table.name)
        self.records = SQLRecords(
            entity, engine.dialect, tombstones=tombstones, outbox=as_outbox(outbox)
        )
        self.bind = bind
        self.engine = engine
        self._caller = bind is not engine
        # None: joined, or in-memory SQLite, where a plain transaction is cheaper.
        self._autocommit = (
            None if self._caller or shares_one_connection(engine) else autocommit_engine(engine)
        )
        #: runs unobserved driver SQL on raw pooled connections (sync engines only).
        self._raw = None if self._autocommit is None else raw_runner(self._autocommit)

    def _joined(self) -> bool:
        return self._caller

    # -- connections --------------------------------------------------------

    def _caller_connection(self) -> Connection:
        """The connection of the caller's transaction (a bound connection or session)."""
        bind = self.bind
        if isinstance(bind, Connection):
            return bind
        assert isinstance(bind, Session)
        return bind.connection()

    def _on_engine(self, plan: Plan, *, transaction: bool, raw: bool = False) -> Any:
        """Run ``plan`` on the engine: autocommit for one statement, else one transaction.

        A transaction serves MySQL's update + read and in-memory SQLite (no
        autocommit sibling). ``raw``: the plan is driver SQL only, which runs on
        a raw pooled connection while nothing observes the engine (see
        :mod:`occ.sql._fast`).
        """
        autocommit = self._autocommit
        if raw and self._raw is not None and not transaction and not self._raw.observed():
            return self._raw.run(plan)
        if autocommit is None or transaction:
            with self.engine.connect() as conn:
                options = transaction_options(self.engine)
                if options is not None:  # an AUTOCOMMIT engine: make this one a transaction
                    conn.execution_options(**options)
                result = execute(conn, plan)
                conn.commit()
                return result
        with autocommit.connect() as conn:
            return execute(conn, plan)

    def _run_plan(self, plan: Plan, *, transaction: bool) -> Any:
        """Run ``plan`` in the caller's transaction, or on the engine (see ``_on_engine``)."""
        if self._caller:
            return execute(self._caller_connection(), plan)
        return self._on_engine(plan, transaction=transaction)

    # -- reads and writes ---------------------------------------------------

    def _read(self, step: Read) -> Stored | None:
        if self._caller:
            plan = self.records.read_plan(step, locking=step.locking)
            result: Stored | None = execute(self._caller_connection(), plan)
            return result
        raw = self.records.driver_sql_only(step)
        return self._on_engine(self.records.read_plan(step), transaction=False, raw=raw)  # type: ignore[no-any-return]

    def _tables_ready(self, step: Write) -> None:
        """Create the tombstone and outbox tables on first use (see :mod:`occ.sql._tombstones`)."""
        for table in self.records.tables(step):
            if not ensure(self.engine, table):
                continue
            if self._caller and self.engine.dialect.name == "sqlite":
                # SQLite: a second connection would wait on the caller's write lock.
                create_tables(self._caller_connection(), table)
            else:
                create_tables(self.engine, table)
            created(self.engine, table)

    def _write(self, step: Write) -> Any:
        self._tables_ready(step)
        try:
            if self._caller:
                return execute(self._caller_connection(), self.records.write_plan(step))
            return self._on_engine(
                self.records.write_plan(step),
                transaction=self.records.needs_transaction(step),
                raw=self.records.driver_sql_only(step),
            )
        except sa.exc.DBAPIError as exc:
            if self._caller and aborts_transaction(exc, self.engine.dialect.name):
                mark_aborted(self.bind, aborted_by(step, self.name))
            return self.records.write_error(exc, step, joined=self._caller)
