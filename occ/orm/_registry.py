"""Which mapped classes are versioned, with which options, and what that needs per dialect.

A class is versioned when it, or a class it inherits from, was passed to
:func:`versioned`, or when it inherits :class:`VersionedMixin`. Opting a class
in also gives its version column a ``default`` (the first version) and an
``onupdate`` (the next one) unless it declares its own: an INSERT or UPDATE
that `occ` does not make itself (a bulk insert, a ``post_update``, an ORM or
Core ``UPDATE ... WHERE``) then still starts or moves the version, so no stale
write expecting the old version is accepted after it.
"""

from __future__ import annotations

import datetime
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar, overload

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper

from occ._core.decisions import Resolver
from occ._core.flow import FlowConfig, Stats
from occ._core.retry import RetryPolicy
from occ.errors import ConfigurationError
from occ.policies import outbox_for, policy_for
from occ.sql._mapping import EntityMap
from occ.sql._per_model import per_dialect
from occ.sql._records import SQLRecords

__all__ = [
    "Options",
    "VersionedMixin",
    "Versioning",
    "checked_entity",
    "flow_config",
    "is_versioned",
    "options_for",
    "versioned",
    "versioned_table",
    "versioning",
]

M = TypeVar("M", bound=type)


@dataclass(frozen=True)
class Options:
    """How one class is versioned."""

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

    Subclasses (single-table or joined-table inheritance) are versioned too,
    with the version column of the base table.

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
class Versioning:
    """What a versioned flush of one class needs on one dialect: its SQL and flow settings."""

    records: SQLRecords
    config: FlowConfig

    @property
    def entity(self) -> EntityMap:
        return self.records.entity


_registered: dict[type, Options] = {}
#: options_for() answers, by class (None: not versioned); cleared when a class registers.
_answers: dict[type, Options | None] = {}
#: bumped when a class registers: what was built per dialect before is stale.
_generation = 0
#: the base table of each versioned class, and the base mapper writing it.
_tables: weakref.WeakKeyDictionary[sa.Table, Mapper[Any]] = weakref.WeakKeyDictionary()
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
    Its subclasses (single-table or joined-table inheritance) are versioned too,
    with the version column of the base table. Registering a class again
    replaces its options.

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
    options = Options(policy, retry, version_column, version_type)

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
            check(cls, options)
        _prepare(mapper, options)
        _registered[cls] = options
        _forget()
        return cls

    return register if model is None else register(model)


def is_versioned(model: type) -> bool:
    """True when flushes of ``model`` go through `occ`."""
    return options_for(model) is not None


def options_for(cls: type) -> Options | None:
    """The options of a versioned class (its own, or inherited), else ``None``."""
    try:
        return _answers[cls]
    except KeyError:
        pass
    answer: Options | None = None
    for klass in cls.__mro__:
        if klass in _registered:
            answer = _registered[klass]
            break
    else:
        if issubclass(cls, VersionedMixin):
            answer = Options(
                cls.__occ_policy__,
                cls.__occ_retry__,
                cls.__occ_version_column__,
                cls.__occ_version_type__,
            )
    _answers[cls] = answer
    return answer


def any_versioned() -> bool:
    """Whether any mapped class has been opted in (its version column prepared)."""
    return len(_tables) > 0


def versioned_table(table: Any) -> Mapper[Any] | None:
    """The base mapper of the versioned classes whose rows ``table`` holds, if any."""
    return _tables.get(table)


def check(cls: type, options: Options) -> None:
    """Validate a class once it is mapped (key, version column and its type)."""
    _make(cls, options, _CHECK_DIALECT)


def _prepare(mapper: Mapper[Any], options: Options) -> None:
    """Before the mappers are configured: give the version column a default (the first
    version) and an onupdate (the next one), unless it has its own."""
    column = next(
        (
            c
            for key, c in mapper.columns.items()
            if isinstance(c, sa.Column) and options.version_column in (key, c.name)
        ),
        None,
    )
    if column is None or not isinstance(column.table, sa.Table):
        return  # check() refuses the class when the mappers are configured
    _tables[column.table] = mapper.base_mapper
    if column.default is None and column.server_default is None:
        first: Any = 1 if options.version_type == "int" else _now
        sa.ColumnDefault(first)._set_parent(column)
    if column.onupdate is None and column.server_onupdate is None:
        step: Any = sa.func.coalesce(column, 0) + 1 if options.version_type == "int" else _now
        sa.ColumnDefault(step, for_update=True)._set_parent(column)


def _now(context: Any) -> datetime.datetime:
    """A timestamp version for a row written outside occ (UTC; naive where the column is)."""
    now = datetime.datetime.now(datetime.UTC)
    column = context.current_column
    aware = bool(getattr(column.type, "timezone", False)) and context.dialect.name != "mysql"
    return now if aware else now.replace(tzinfo=None)


def _make(cls: type, options: Options, dialect: Dialect) -> Versioning:
    entity = EntityMap(
        cls,
        version_column=options.version_column,
        version_type=options.version_type,
        dialect=dialect,
        polymorphic=False,
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
    return Versioning(SQLRecords(entity, dialect, outbox=outbox), config)


def _forget() -> None:
    global _generation
    _answers.clear()
    _generation += 1


def checked_entity(cls: type) -> EntityMap:
    """The mapping of a versioned class (as checked, on no particular database)."""
    return versioning(cls, _CHECK_DIALECT)[0].entity


def flow_config(cls: type, base: Versioning, options: Options) -> FlowConfig:
    """The flow settings of one write: the class's policy as registered now."""
    resolver = options.policy if options.policy is not None else policy_for(cls)
    return replace(base.config, resolver=resolver)


def versioning(cls: type, dialect: Dialect) -> tuple[Versioning, Options]:
    """The SQL and flow settings of a versioned class on ``dialect`` (built once)."""
    options = options_for(cls)
    assert options is not None
    found = per_dialect(dialect, ("orm", cls, _generation), lambda: _make(cls, options, dialect))
    return found, options


@event.listens_for(Mapper, "after_mapper_constructed")
def _on_constructed(mapper: Mapper[Any], cls: type) -> None:
    options = options_for(cls)
    if options is not None:
        _prepare(mapper, options)


@event.listens_for(Mapper, "mapper_configured")
def _on_configured(mapper: Mapper[Any], cls: type) -> None:
    options = options_for(cls)
    if options is not None:
        check(cls, options)
