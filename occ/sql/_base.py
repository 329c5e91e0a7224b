"""What the sync and async SQL repositories share: validation, flows, SQL plans.

A *plan* is a small generator that yields ``(statement, params)`` pairs and
receives their results; the sync and async drivers only execute it on a
connection. So the SQL of every operation exists once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from occ._core.commutative import commutative_flow, commutative_ops
from occ._core.decisions import Resolver
from occ._core.flow import Flow, FlowConfig, Stats, insert_flow, write_flow
from occ._core.model import Record, Version, Versioned, freeze
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Missed, Point, Read, Stored, Write
from occ._repository import RepositoryCore, check_snapshot, delete_flow
from occ.errors import AlreadyExistsError, ValidationError
from occ.policies import policy_for
from occ.sql._commutative import commutative_plan, supported_ops
from occ.sql._dberrors import is_duplicate_key, is_serialization_failure
from occ.sql._mapping import EntityMap
from occ.sql._statements import Statements

__all__ = ["Plan", "SQLRepositoryBase"]

T = TypeVar("T")
Plan = Generator[tuple[Any, dict[str, Any]], Any, Any]


class SQLRepositoryBase(RepositoryCore[T], Generic[T]):
    """Pure part of a SQL repository. Drivers subclass it and run flows and plans."""

    _joined: bool

    def __init__(
        self,
        model: Any,
        dialect: Dialect,
        *,
        policy: Resolver | None,
        retry: RetryPolicy | None,
        version_column: str,
        version_type: str,
        on_point: Callable[[Point], Any] | None,
        joined: bool,
    ) -> None:
        self.entity = EntityMap(
            model, version_column=version_column, version_type=version_type, dialect=dialect
        )
        self.dialect = dialect
        self.statements = Statements(self.entity, dialect)
        self.policy: Resolver = policy if policy is not None else policy_for(model)
        self.retry = retry or RetryPolicy()
        self.stats = Stats()
        self._on_point = on_point
        self._joined = joined
        self.config = FlowConfig(
            entity=self.entity.entity,
            versions=self.entity.versions,
            retry=self.retry,
            resolver=self.policy,
            joined=joined,
            points=on_point is not None,
            stats=self.stats,
        )

    @property
    def name(self) -> str:
        """The entity name used in errors and conflicts."""
        return self.entity.entity

    # -- hooks of RepositoryCore ------------------------------------------

    def _to_value(self, stored: Stored) -> Any:
        return self.entity.to_value(stored)

    def _to_record(self, value: Any) -> dict[str, Any]:
        return self.entity.to_record(value)

    def _with_version(self, value: Any, version: Version) -> Any:
        self.entity.set_version(value, version)
        return value

    def _check_value(self, value: Any) -> None:
        self.entity.check_value(value)

    def _key_changed(self, value: Any, key: Any) -> bool:
        return bool(self.entity.key_of(value) != key)

    def _changes(self, value: Any, base: Record | None) -> dict[str, Any]:
        return self.entity.diff(value, base)

    # -- building flows ---------------------------------------------------

    def _insert_flow(self, value: Any) -> Flow:
        entity = self.entity
        entity.check_value(value)
        version = entity.version_of(value)
        if version is not None:
            raise ValidationError(
                f"this {entity.entity} already carries version {version!r}: insert() starts "
                "at the first version; to change a stored row use update() or save()"
            )
        record = entity.insert_record(value)
        key = entity.key_of(value)
        if isinstance(key, tuple) and any(part is None for part in key):
            raise ValidationError(f"{entity.entity}: every part of a composite key is required")
        if key is not None:
            entity.check_key(key)
            if key == 0 and self.dialect.name == "mysql" and entity.key_columns[0].autoincrement:
                raise ValidationError(
                    f"{entity.entity} key 0 on MySQL/MariaDB: AUTO_INCREMENT would store a new "
                    "id instead of 0; use another key or leave it unset"
                )
            record = {**dict(zip(entity.key_fields, entity.key_params(key), strict=True)), **record}
        return insert_flow(self.config, key, record)

    def _update_flow(
        self, key: Any, changes: Any, expected_version: Any, base: Any, *, returning: bool
    ) -> Flow:
        key = self.entity.check_key(key)
        expected = self.entity.versions.check(expected_version)
        values = self.entity.check_changes(changes)
        base_record = self._base_record(base)
        ops = commutative_ops(self.policy, values, base_record, supported_ops(self.entity))
        if ops is not None and not self._joined:
            return commutative_flow(self.config, key=key, ops=ops)
        return write_flow(
            self.config,
            action="update",
            key=key,
            expected=expected,
            changes=values,
            base=base_record,
            returning=returning,
        )

    def _base_record(self, base: Any) -> Record | None:
        if base is None:
            return None
        if isinstance(base, Versioned):
            return base.base if base.base is not None else freeze(self.entity.to_record(base.value))
        if self.entity.mapper is not None and isinstance(base, self.entity.model):
            return freeze(self.entity.to_record(base))
        if isinstance(base, Mapping):
            return freeze(
                self.entity.check_changes(
                    {k: v for k, v in base.items() if k in self.entity.fields}
                )
            )
        raise ValidationError(
            f"base must be the values you read (a mapping, a {self.entity.entity} or a "
            f"Versioned), got {type(base).__name__}"
        )

    def _save_flow(self, snapshot: Any) -> tuple[Flow, dict[str, Any]]:
        check_snapshot(snapshot)
        entity = self.entity
        value = snapshot.value
        base = snapshot.base
        entity.check_value(value)
        key = entity.check_key(snapshot.key)
        value_key = entity.key_of(value)
        if value_key not in (key, None):
            raise ValidationError(
                f"{entity.entity}: the value's key {value_key!r} differs "
                f"from the snapshot's key {key!r}; a key cannot change"
            )
        expected = entity.versions.check(snapshot.version, what="snapshot.version")
        changes = entity.diff(value, base)
        ops = commutative_ops(self.policy, changes, base, supported_ops(entity))
        if ops is not None and not self._joined:
            return commutative_flow(self.config, key=key, ops=ops), changes
        flow = write_flow(
            self.config,
            action="update",
            key=key,
            expected=expected,
            changes=changes,
            base=base,
            returning=False,
        )
        return flow, changes

    def _delete_flow(self, key: Any, expected_version: Any) -> Flow:
        key = self.entity.check_key(key)
        return delete_flow(self.config, key, self.entity.versions.check(expected_version))

    def _modify_flow(self, key: Any, fn: Callable[[Any], Any], attempts: int | None) -> Flow:
        key = self.entity.check_key(key)
        return self._modify(self.config, key, fn, attempts, joined=self._joined)

    # -- SQL plans ----------------------------------------------------------

    def _needs_transaction(self, step: Write) -> bool:
        """MySQL/MariaDB have no UPDATE ... RETURNING: update + read run in one transaction."""
        return step.action == "update" and step.returning and not self.statements.update_returning

    def _read_plan(self, step: Read) -> Plan:
        st = self.statements
        result = yield st.read(locking=step.locking and self._joined), st.key_params(step.key)
        row = result.first()
        return None if row is None else self.entity.from_row(row)

    def _write_plan(self, step: Write) -> Plan:
        st = self.statements
        entity = self.entity
        if step.action == "update" and step.expected_version is None:
            return (yield from commutative_plan(st, step))
        if step.action == "insert":
            fields = tuple(step.changes)
            stmt, binds = st.insert(fields, returning=st.insert_returning)
            result = yield stmt, st.params(None, binds, step.changes, new=step.new_version)
            if st.insert_returning:
                return _applied(entity.from_row(result.one()))
            key = step.key
            if key is None:
                key = tuple(result.inserted_primary_key)
                key = key[0] if len(key) == 1 else key
            record = {name: step.changes.get(name) for name in entity.fields}
            assert step.new_version is not None
            return _applied(Stored(key, step.new_version, record))
        assert step.expected_version is not None
        unversioned = step.expected_version == entity.versions.unversioned
        if step.action == "delete":
            stmt, binds = st.delete(unversioned=unversioned)
            result = yield stmt, st.params(step.key, binds, {}, expected=step.expected_version)
            return Applied(step.key, step.expected_version) if result.rowcount == 1 else Missed()
        fields = tuple(step.changes)
        native = step.returning and st.update_returning
        stmt, binds = st.update(fields, returning=native, unversioned=unversioned)
        params = st.params(
            step.key, binds, step.changes, expected=step.expected_version, new=step.new_version
        )
        result = yield stmt, params
        if native:
            # Count returned rows: rowcount with RETURNING is unreliable on some SQLite builds.
            rows = result.fetchall()
            return _applied(entity.from_row(rows[0])) if rows else Missed()
        if result.rowcount != 1:
            return Missed()
        assert step.new_version is not None
        if not step.returning:
            return Applied(step.key, step.new_version)
        # MySQL/MariaDB: the row is locked by our UPDATE; read it in the same transaction.
        result = yield st.read(), st.key_params(step.key)
        return _applied(entity.from_row(result.one()))

    def _write_error(self, exc: sa.exc.DBAPIError, step: Write) -> Missed:
        """Map a driver error of a write to a miss, or raise the right occ error."""
        if isinstance(exc, sa.exc.IntegrityError) and step.action == "insert":
            if is_duplicate_key(exc, self.entity):
                raise AlreadyExistsError(self.entity.entity, step.key) from exc
            raise exc
        if is_serialization_failure(exc):
            return Missed(serialization=True)
        raise exc


def _applied(stored: Stored) -> Applied:
    return Applied(stored.key, stored.version, stored.record)
