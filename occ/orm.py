"""Versioned flushes for SQLAlchemy ORM sessions (and SQLModel models).

Opt a mapped class in, and the code that loads, changes and commits objects
through a ``Session`` stays as it is; only its writes change::

    occ.orm.versioned(Order)                      # one line, or a decorator
    class Note(occ.orm.VersionedMixin, Base): ... # or a mixin

Each UPDATE of an opted-in object becomes one conditional statement
(``... WHERE pk = :pk AND version = :expected``) run by `occ` on the flush's
connection. A stale flush raises :class:`~occ.ConflictError` carrying the full
:class:`~occ.Conflict` (never SQLAlchemy's bare ``StaleDataError``), or is
resolved by the class's policy (``Discard`` refreshes the object to the stored
row, ``Overwrite`` writes again at the stored version, ...).

The expected version is the version the object was loaded with, unless the
application sets the version attribute itself (a version sent back by a
client, or ``session.merge()`` of a client's object): then *that* version is
expected. SQLAlchemy's own ``version_id_col`` ignores such a value and checks
the loaded one, accepting the stale client write.

A DELETE first checks and bumps the version with a conditional UPDATE in the
same transaction, then lets SQLAlchemy delete the row it has locked.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar, overload

try:
    import sqlalchemy as sa
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("occ.orm needs SQLAlchemy: pip install 'occ[sql]'") from exc

from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import InstanceState, Mapper
from sqlalchemy.orm.attributes import set_committed_value

from occ._core.decisions import Resolver
from occ._core.flow import FlowConfig, Stats, write_flow
from occ._core.model import Action, Conflict, Record, freeze
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Missed, Read, Write
from occ._sync.drive import drive
from occ.errors import ConfigurationError, ConflictError, ValidationError
from occ.policies import outbox_for, policy_for
from occ.sql._mapping import EntityMap
from occ.sql._records import SQLRecords
from occ.sql._sync.repository import execute

__all__ = ["VersionedMixin", "is_versioned", "versioned"]

M = TypeVar("M", bound=type)


@dataclass(frozen=True)
class _Options:
    policy: Resolver | None
    retry: RetryPolicy | None
    version_column: str
    version_type: str


class VersionedMixin:
    """Mixin that opts a declarative class (and its subclasses) in to versioned flushes.

    Configure it with class attributes; the version column itself is declared
    by the model (an ``Integer``, nullable while old rows have none)::

        class Order(VersionedMixin, Base):
            __tablename__ = "orders"
            __occ_policy__ = occ.resolvers.Discard()
            id: Mapped[int] = mapped_column(primary_key=True)
            version: Mapped[int | None]

    Attributes:
        __occ_policy__: the conflict resolver; ``None`` uses :mod:`occ.policies`.
        __occ_retry__: retry budget of resolved writes.
        __occ_version_column__: name of the version attribute or column.
        __occ_version_type__: ``"int"`` or ``"timestamp"``.
    """

    __occ_policy__: ClassVar[Resolver | None] = None
    __occ_retry__: ClassVar[RetryPolicy | None] = None
    __occ_version_column__: ClassVar[str] = "version"
    __occ_version_type__: ClassVar[str] = "int"


@dataclass(frozen=True)
class _Versioning:
    """What a versioned flush of one class needs on one dialect: its SQL and flow settings."""

    records: SQLRecords
    config: FlowConfig

    @property
    def entity(self) -> EntityMap:
        return self.records.entity


_registered: dict[type, _Options] = {}
_bases: weakref.WeakKeyDictionary[Dialect, dict[type, _Versioning]] = weakref.WeakKeyDictionary()
_CHECK_DIALECT = sqlite.dialect()


@overload
def versioned(
    model: M,
    *,
    policy: Resolver | None = ...,
    retry: RetryPolicy | None = ...,
    version_column: str = ...,
    version_type: str = ...,
) -> M: ...
@overload
def versioned(
    model: None = None,
    *,
    policy: Resolver | None = ...,
    retry: RetryPolicy | None = ...,
    version_column: str = ...,
    version_type: str = ...,
) -> Callable[[M], M]: ...
def versioned(
    model: M | None = None,
    *,
    policy: Resolver | None = None,
    retry: RetryPolicy | None = None,
    version_column: str = "version",
    version_type: str = "int",
) -> M | Callable[[M], M]:
    """Make the session flushes of a mapped class (or SQLModel table model) versioned.

    Use it as a call (``versioned(Order)``) or a decorator (``@versioned(policy=...)``).
    Registering a class again replaces its options.

    Args:
        model: a declarative mapped class or a SQLModel ``table=True`` class.
        policy: its conflict resolver; default: the one registered in
            :mod:`occ.policies`, else raise :class:`~occ.ConflictError`.
        retry: attempt budget for writes a resolver retries.
        version_column: name of the version attribute or column.
        version_type: ``"int"`` (default) or ``"timestamp"``.

    Returns:
        The model (or a decorator that registers one).

    Raises:
        ConfigurationError: the class is not mapped, has no primary key, no
            version column, or a version column of a type that cannot version.
    """
    options = _Options(policy, retry, version_column, version_type)

    def register(cls: M) -> M:
        try:
            mapper: Any = sa.inspect(cls)
        except sa.exc.NoInspectionAvailable:
            raise ConfigurationError(
                f"{cls!r} is not a SQLAlchemy mapped class (or SQLModel table=True model)"
            ) from None
        if not isinstance(mapper, Mapper):
            raise ConfigurationError(f"{cls!r} is not a mapped class")
        if mapper.configured:
            _check(cls, options)
        elif cls not in _registered:
            event.listen(cls, "mapper_configured", _on_configured)
        if cls not in _registered and not issubclass(cls, VersionedMixin):
            for name, fn in _LISTENERS.items():
                event.listen(cls, name, fn)
        _registered[cls] = options
        _forget(cls)
        return cls

    return register if model is None else register(model)


def is_versioned(model: type) -> bool:
    """True when flushes of ``model`` go through `occ`."""
    return _options_for(model) is not None


def _options_for(cls: type) -> _Options | None:
    for klass in cls.__mro__:
        if klass in _registered:
            return _registered[klass]
    if issubclass(cls, VersionedMixin):
        return _Options(
            cls.__occ_policy__,
            cls.__occ_retry__,
            cls.__occ_version_column__,
            cls.__occ_version_type__,
        )
    return None


def _check(cls: type, options: _Options) -> None:
    """Validate a class once it is mapped (key, version column and its type)."""
    _make_base(cls, options, _CHECK_DIALECT)


def _on_configured(mapper: Mapper[Any], cls: type) -> None:
    options = _options_for(cls)
    if options is not None:
        _check(cls, options)


def _make_base(cls: type, options: _Options, dialect: Dialect) -> _Versioning:
    entity = EntityMap(
        cls,
        version_column=options.version_column,
        version_type=options.version_type,
        dialect=dialect,
    )
    retry = options.retry or RetryPolicy()
    # No sleeping between attempts: the flush holds row locks.
    retry = replace(retry, base_delay=0.0, max_delay=0.0)
    config = FlowConfig(
        entity=entity.name,
        versions=entity.versions,
        retry=retry,
        resolver=policy_for(cls),
        stats=Stats(),
    )
    outbox = outbox_for(cls, entity.table.name)
    return _Versioning(SQLRecords(entity, dialect, outbox=outbox), config)


def _forget(cls: type) -> None:
    for per_dialect in _bases.values():
        per_dialect.pop(cls, None)


def _base_for(cls: type, dialect: Dialect) -> tuple[_Versioning, _Options]:
    options = _options_for(cls)
    assert options is not None
    per_dialect = _bases.get(dialect)
    if per_dialect is None:
        per_dialect = _bases[dialect] = {}
    base = per_dialect.get(cls)
    if base is None:
        base = per_dialect[cls] = _make_base(cls, options, dialect)
    return base, options


# -- the flush hooks -----------------------------------------------------------

_MISSING = object()


def _committed(state: InstanceState[Any], name: str, *, load: bool = False) -> Any:
    """The value ``name`` was loaded with (``_MISSING`` if unknown)."""
    attr = state.attrs[name]
    history = attr.load_history() if load else attr.history
    if history.deleted:
        return history.deleted[0]
    if history.unchanged:
        return history.unchanged[0]
    return _MISSING


class _FlushWrite:
    """One versioned write of one object, run on the flush's connection."""

    def __init__(self, mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
        self.base, options = _base_for(mapper.class_, connection.dialect)
        self.entity = self.base.entity
        self.records = self.base.records
        self.connection = connection
        self.target = target
        self.state: InstanceState[Any] = sa.inspect(target)
        resolver = options.policy if options.policy is not None else policy_for(mapper.class_)
        self.config = replace(self.base.config, resolver=resolver)

    def key(self) -> Any:
        parts = []
        for name in self.entity.key_fields:
            value = _committed(self.state, name, load=True)
            if self.state.attrs[name].history.added and value is not _MISSING:
                raise ValidationError(
                    f"{self.entity.name}.{name}: a versioned object's key cannot change"
                )
            parts.append(getattr(self.target, name) if value is _MISSING else value)
        return tuple(parts) if len(parts) > 1 else parts[0]

    def expected(self) -> tuple[Any, Any]:
        """(expected version, committed version): a version set by the app is expected."""
        field = self.entity.version_field
        committed = _committed(self.state, field, load=True)
        if committed is _MISSING or committed is None:
            committed = self.entity.versions.unversioned
        added = self.state.attrs[field].history.added
        expected = added[0] if added else committed
        if expected is None:
            expected = self.entity.versions.unversioned
        return self.entity.versions.check(expected, what=f"{self.entity.name}.{field}"), committed

    def changes_and_base(self) -> tuple[dict[str, Any], Record | None]:
        changes: dict[str, Any] = {}
        base: dict[str, Any] | None = {}
        for name in self.entity.fields:
            history = self.state.attrs[name].history
            if history.added:
                changes[name] = history.added[0]
            value = _committed(self.state, name)
            if value is _MISSING:
                base = None
            elif base is not None:
                base[name] = value
        for name, value in changes.items():
            if isinstance(value, sa.ClauseElement) or hasattr(value, "__clause_element__"):
                raise ValidationError(
                    f"{self.entity.name}.{name} is set to a SQL expression; a versioned "
                    "flush writes values (read the value, compute it, assign it)"
                )
        return changes, None if base is None else freeze(base)

    def run(self, action: Action, changes: dict[str, Any], base: Record | None) -> Applied:
        key = self.key()
        expected, _ = self.expected()
        flow = write_flow(
            self.config,
            action=action,
            key=key,
            expected=expected,
            changes=changes,
            base=base,
            returning=False,
        )

        def write(step: Write) -> Any:
            if step.action == "delete":
                # Check and bump the version; SQLAlchemy then deletes the locked row.
                step = replace(step, action="update", changes={}, returning=False)
            try:
                return execute(self.connection, self.records.write_plan(step))
            except sa.exc.DBAPIError as exc:
                missed = self.records.write_error(exc, step, joined=True)
                if isinstance(missed, Missed) and missed.serialization:
                    conflict = self.conflict(key, action, expected, changes, base)
                    raise ConflictError(conflict) from exc
                return missed

        def read(step: Read) -> Any:
            # Inside the flush's transaction: a locking read sees the latest row.
            return execute(self.connection, self.records.read_plan(step, locking=True))

        return drive(flow, read=read, write=write)

    def conflict(
        self, key: Any, action: Action, expected: Any, changes: Any, base: Any
    ) -> Conflict:
        """A serialization conflict (the database aborted the transaction)."""
        mine = {**base, **changes} if base is not None else dict(changes)
        return Conflict(
            entity=self.entity.name,
            key=key,
            action=action,
            kind="serialization",
            base=base,
            mine=mine,
            changes=dict(changes),
            theirs=None,
            expected_version=expected,
            actual_version=None,
            attempt=1,
        )

    def commit(self, applied: Applied, changes: dict[str, Any]) -> None:
        """Make the object match what is stored, so SQLAlchemy has nothing left to write."""
        values = applied.record if applied.outcome != "written" and applied.record else changes
        for name, value in values.items():
            set_committed_value(self.target, name, value)
        set_committed_value(self.target, self.entity.version_field, applied.version)


def _before_update(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    write = _FlushWrite(mapper, connection, target)
    changes, base = write.changes_and_base()
    _, committed = write.expected()
    if not changes:
        # Nothing to write (relationship-only change, or only a version was sent back).
        write.key()
        set_committed_value(target, write.entity.version_field, committed)
        return
    write.commit(write.run("update", changes, base), changes)


def _before_delete(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    write = _FlushWrite(mapper, connection, target)
    _, base = write.changes_and_base()
    applied = write.run("delete", {}, base)
    if applied.outcome != "written" and applied.record is not None:
        # The policy kept the stored row, but a flush cannot skip a delete: raise.
        expected, _ = write.expected()
        conflict = replace(
            write.conflict(applied.key, "delete", expected, {}, base),
            kind="version",
            theirs=applied.record,
            actual_version=applied.version,
        )
        raise ConflictError(
            conflict,
            f"{conflict.describe()}; the policy kept the stored row ({applied.outcome}), and "
            "a flush cannot skip a delete it was asked for",
        )
    set_committed_value(target, write.entity.version_field, applied.version)
    if write.records.outbox is not None:  # the delete's change event (occ.sync)
        row = write.records.outbox.deleted_row(applied.key, applied.version)
        connection.execute(write.records.outbox.insert, row)


def _after_insert(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    """The insert's change event, when the class has an outbox (occ.sync)."""
    records = _base_for(mapper.class_, connection.dialect)[0].records
    if records.outbox is not None:
        entity = records.entity
        key = entity.key_of(target)
        version = getattr(target, entity.version_field)
        row = records.outbox.inserted_row(key, version, entity.to_record(target))
        connection.execute(records.outbox.insert, row)


def _before_insert(mapper: Mapper[Any], connection: sa.Connection, target: Any) -> None:
    base, _ = _base_for(mapper.class_, connection.dialect)
    entity = base.entity
    current = getattr(target, entity.version_field, None)
    initial = entity.versions.initial()
    if current is None:
        setattr(target, entity.version_field, initial)
    elif not (type(current) is int and current == initial):
        raise ValidationError(
            f"this {entity.name} already carries version {current!r}: a new row starts "
            "at the first version; to change a stored row load it (or merge it) instead"
        )


_LISTENERS: dict[str, Callable[..., None]] = {
    "before_insert": _before_insert,
    "after_insert": _after_insert,
    "before_update": _before_update,
    "before_delete": _before_delete,
}

for _name, _fn in _LISTENERS.items():
    event.listen(VersionedMixin, _name, _fn, propagate=True)
event.listen(VersionedMixin, "mapper_configured", _on_configured, propagate=True)
