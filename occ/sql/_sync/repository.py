# Generated from occ/sql/_async/repository.py by scripts/unasync.py: edit that file.
"""``occ.sql.Repository``: the repository contract over an SQLAlchemy bind.

The SQL itself is built by :class:`~occ.sql._records.SQLRecords` (pure);
this driver picks the connection and executes its plans.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import sqlalchemy as sa

from occ._core.decisions import Resolver
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Read, Release, Stored, Write
from occ.errors import ConfigurationError
from occ.policies import outbox_for
from occ.sql._attempts import locks_read
from occ.sql._binds import Connection, Engine, Session
from occ.sql._dberrors import aborts_transaction, is_serialization_failure
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
from occ.sql._per_model import entity_map, sql_records
from occ.sql._records import Plan
from occ.sql._replicas import check_replica
from occ.sql._statements import DriverSQL
from occ.sql._sync.bulk import SQLBulk
from occ.sql._tombstones import created, ensure
from occ.sync._outbox import Outbox, as_outbox

__all__ = ["LOCK_AFTER", "Repository", "execute"]

#: conflicts of one write after which its next attempt holds the row lock.
LOCK_AFTER = 2

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
        lock_after: on a hot key, after this many conflicts of one write its next
            attempt reads the row with ``SELECT ... FOR UPDATE`` and writes in the
            same short transaction, so it cannot lose again; ``None`` turns it off.
            Default ``"auto"``: 2 on MariaDB/MySQL and PostgreSQL, off on SQLite,
            where an int turns it on (a no-op UPDATE takes the database's write
            lock; keep conflict stores of alerting policies on another database).
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
        replica: an ``Engine`` on a read replica of ``bind``'s database (a
            streaming standby, a replica or another cluster node): ``get``,
            ``find`` and the first read of ``modify`` go there; writes, and
            every read that must see the latest version (classifying a
            conflict, ``modify``'s re-read after one, settling a lost reply),
            go to ``bind``. A value read from the replica may be older than
            what is stored: a write based on it conflicts and is resolved by
            the policy, never lost. See the scaling guide.

    Raises:
        ConfigurationError: ``bind`` is of the other mode or not a bind, the
            model cannot be versioned, or ``replica`` is not an engine of this
            mode and dialect (or ``bind`` is a caller's transaction).
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
        lock_after: int | Literal["auto"] | None = "auto",
        on_point: Any = None,
        replica: Engine | None = None,
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
        entity = entity_map(
            model,
            engine.dialect,
            version_column=version_column,
            version_type=version_type,
            token_column=token_column,
        )
        if lock_after == "auto":
            # SQLite's lock is the whole database: a writer holding it while an alert
            # store on the same file writes would wait on itself. Opt in there.
            lock_after = None if engine.dialect.name == "sqlite" else LOCK_AFTER
        if lock_after is not None and (type(lock_after) is not int or lock_after < 1):
            raise ConfigurationError(f"lock_after must be an int >= 1 or None, got {lock_after!r}")
        if shares_one_connection(engine):
            lock_after = None  # in-memory SQLite: one connection, no second transaction
        super().__init__(
            entity,
            policy=policy,
            policy_keys=(model,),
            retry=retry,
            on_point=on_point,
            lock_after=lock_after,
        )
        self.entity = entity
        if outbox is None:
            outbox = outbox_for(model, entity.table.name)
        self.records = sql_records(
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
        #: where reads that need not see the latest version go (None: the primary).
        self.replica = replica
        if replica is not None:
            if not isinstance(replica, Engine):
                raise ConfigurationError(
                    f"replica must be an SQLAlchemy Engine, got {type(replica).__name__}"
                )
            check_replica(engine, replica, joined=self._caller)
            self._replica = autocommit_engine(replica)
            self._replica_raw = raw_runner(self._replica)

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

    # -- the lock fallback: a row lock held across a read and a write ------

    def _held(self, step: Read | Write) -> Connection:
        """The connection of the step's hold: opened, in a transaction, at its first read."""
        hold = step.hold
        assert hold is not None
        if hold.state is None:
            conn = self.engine.connect()
            options = transaction_options(self.engine)
            if options is not None:
                conn.execution_options(**options)
            conn.begin()
            hold.state = conn
        held: Connection = hold.state
        return held

    def _release(self, step: Release) -> None:
        """Close the hold's connection; what it wrote was committed by :meth:`_write`."""
        conn: Connection | None = step.hold.state
        if conn is None:
            return
        step.hold.state = None
        try:
            conn.rollback()  # nothing left to commit; a no-op after a commit
        except sa.exc.DBAPIError:
            pass  # a broken connection: closing it is all that is left
        finally:
            conn.close()

    def _held_write(self, step: Write) -> Any:
        """The write under the hold, then its commit: a commit refused (a deadlock, or a
        Galera certification failure) is the write's miss, not an error."""
        conn = self._held(step)
        outcome = execute(conn, self.records.write_plan(step))
        if isinstance(outcome, Applied):
            conn.commit()
        return outcome

    def _on_replica(self, plan: Plan, *, raw: bool) -> Any:
        """Run the read ``plan`` on the replica, in autocommit (see :meth:`_on_engine`)."""
        runner = self._replica_raw
        if raw and runner is not None and not runner.observed():
            return runner.run(plan)
        with self._replica.connect() as conn:
            return execute(conn, plan)

    def _read(self, step: Read) -> Stored | None:
        if step.hold is not None:
            try:
                held: Stored | None = execute(self._held(step), self.records.read_plan(step))
                return held
            except sa.exc.DBAPIError as exc:
                if not is_serialization_failure(exc):
                    raise
                # The lock wait itself was aborted (a deadlock, a Galera brute-force
                # abort): give the lock up, read plainly; the write stays conditional.
                self._release(Release(step.hold, commit=False))
                step = Read(step.key, primary=True)
        if self._caller:
            # In an attempt of occ.sql.transaction after one that lost: rows read then
            # are read under the row lock now (see occ.sql._attempts).
            exclusive = locks_read(self.engine, self.name, step.key)
            plan = self.records.read_plan(step, locking=step.locking, exclusive=exclusive)
            result: Stored | None = execute(self._caller_connection(), plan)
            return result
        raw = self.records.driver_sql_only(step)
        if self.replica is not None and not step.primary:
            return self._on_replica(self.records.read_plan(step), raw=raw)  # type: ignore[no-any-return]
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
            if step.hold is not None:
                return self._held_write(step)
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
