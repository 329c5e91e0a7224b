"""The one repository core: what every backend shares, sync or async (pure).

A backend supplies a :class:`Codec` (how its values become records: keys,
fields, versions, validation) and, in its driver, how to perform a
:class:`~occ._core.steps.Read` and a :class:`~occ._core.steps.Write`.
:class:`RepositoryCore` builds the flow of every contract method from the
codec, and the ``Versioned`` each returns; the drivers of
:mod:`occ._async.repository` (and its generated sync twin) run them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, Generic, Protocol, TypeVar

from occ._core.commutative import FieldOp, commutative_flow, commutative_ops
from occ._core.decisions import Resolver
from occ._core.flow import Flow, FlowConfig, Stats, insert_flow, write_flow
from occ._core.hot import HotKeys
from occ._core.model import Record, Version, Versioned, freeze
from occ._core.modify import modify_flow
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Point, Stored
from occ._core.versions import VersionScheme
from occ.errors import ValidationError
from occ.policies import registry

__all__ = ["Codec", "RepositoryCore", "without_locks"]

#: the retry policy of repositories given none (unseeded: one is as good as many).
_DEFAULT_RETRY = RetryPolicy()

_UNLOCKED: ContextVar[bool] = ContextVar("occ_without_locks", default=False)


@contextmanager
def without_locks() -> Iterator[None]:
    """Flows built in this block never take the row lock of the lock fallback (batches)."""
    token = _UNLOCKED.set(True)
    try:
        yield
    finally:
        _UNLOCKED.reset(token)


T = TypeVar("T")


class Codec(Protocol):
    """How one backend maps a model's values to records, and checks what it is given.

    Every ``check_*`` method raises :class:`~occ.ValidationError` on bad input.
    """

    #: the entity name used in errors and conflicts.
    name: str
    versions: VersionScheme
    #: the commutative operations the backend applies atomically (fast path).
    commutative: frozenset[str]

    def check_key(self, key: Any) -> Any:
        """The key, checked (composite keys are tuples)."""
        ...

    def check_value(self, value: Any) -> None:
        """Refuse a value that is not of the model."""
        ...

    def check_changes(self, changes: Any) -> dict[str, Any]:
        """The changes, checked: known, writable fields only."""
        ...

    def key_of(self, value: Any) -> Any:
        """The key a value carries (``None`` if unset)."""
        ...

    def version_of(self, value: Any) -> Any:
        """The version a value carries (``None`` if unset)."""
        ...

    def insert(self, value: Any) -> tuple[Any, dict[str, Any], bool]:
        """The key (``None``: the database assigns it), the record to insert ``value`` as,
        and whether the key was generated for this insert."""
        ...

    def to_record(self, value: Any) -> dict[str, Any]:
        """The stored fields of a value."""
        ...

    def to_value(self, stored: Stored) -> Any:
        """A fresh user value for a stored record."""
        ...

    def with_version(self, value: Any, version: Version) -> Any:
        """``value`` carrying ``version`` (the same object, or a copy if it is frozen)."""
        ...

    def diff(self, value: Any, base: Record | None) -> dict[str, Any]:
        """The (checked) fields of ``value`` that differ from ``base`` (all without one)."""
        ...

    def is_model(self, value: Any) -> bool:
        """Whether ``value`` is an instance of the model (not a plain mapping)."""
        ...

    def base_fields(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of a mapping a caller read (others dropped), checked."""
        ...


def _check_snapshot(snapshot: Any) -> None:
    if not isinstance(snapshot, Versioned):
        raise ValidationError(
            f"save() takes the Versioned snapshot you read (from get(), find() or a previous "
            f"write), got {type(snapshot).__name__}; to write by key use update()"
        )


class RepositoryCore(Generic[T]):
    """Validation, flows and results of every repository, over a backend's :class:`Codec`.

    Args:
        codec: the backend's mapping of the model.
        policy: the conflict resolver; ``None``: the one registered in
            :mod:`occ.policies` under ``policy_keys`` (looked up again whenever
            the registry changes), else ``Raise``.
        policy_keys: what the registry is asked for (the model, its names).
        retry: attempts and backoff for resolved writes and ``modify``.
        on_point: called with each named yield point (tests and schedulers).
    """

    def __init__(
        self,
        codec: Codec,
        *,
        policy: Resolver | None,
        policy_keys: tuple[Any, ...],
        retry: RetryPolicy | None,
        on_point: Callable[[Point], Any] | None,
        lock_after: int | None = None,
    ) -> None:
        self.codec = codec
        #: conflicts after which an attempt takes the row lock (``None``: never).
        self.lock_after = lock_after
        #: keys whose optimistic writes keep losing: their writes lock at once (with
        #: ``lock_after``). Not under a scheduler (``on_point``): a schedule must replay
        #: exactly, whatever ran before it.
        self.hot = HotKeys() if lock_after is not None and on_point is None else None
        self.retry = retry or _DEFAULT_RETRY
        self.stats = Stats()
        self._on_point = on_point
        self._policy = policy
        self._policy_keys = policy_keys
        self._generation = -1
        self._configs: tuple[FlowConfig, FlowConfig] | None = None
        self._configure()

    # -- configuration ----------------------------------------------------------

    @property
    def name(self) -> str:
        """The entity name used in errors and conflicts."""
        return self.codec.name

    @property
    def policy(self) -> Resolver:
        """The conflict resolver in force (the registry's, if none was given)."""
        return self._config().resolver

    def _configure(self) -> tuple[FlowConfig, FlowConfig]:
        """Flow configurations (free, joined) for the policy in force now."""
        self._generation = registry.generation
        resolver = self._policy
        if resolver is None:
            resolver = registry.lookup(*self._policy_keys)
        free = FlowConfig(
            entity=self.codec.name,
            versions=self.codec.versions,
            retry=self.retry,
            resolver=resolver,
            points=self._on_point is not None,
            stats=self.stats,
            lock_after=self.lock_after,
            hot=self.hot,
            commutative=self.codec.commutative,
        )
        self._configs = (free, replace(free, joined=True))
        return self._configs

    def _config(self) -> FlowConfig:
        """The flow configuration of this call: joined inside a caller's transaction."""
        configs = self._configs
        if configs is None or (self._policy is None and registry.generation != self._generation):
            configs = self._configure()
        config = configs[1] if self._joined() else configs[0]
        if config.lock_after is not None and _UNLOCKED.get():
            config = replace(config, lock_after=None)
        return config

    def _joined(self) -> bool:
        """Whether this call runs in a caller's transaction (no retry: a conflict raises)."""
        return False

    # -- flows ------------------------------------------------------------------

    def _insert_flow(self, value: Any) -> Flow:
        key, record, fresh = self._insert_record(value)
        return insert_flow(self._config(), key, record, fresh=fresh)

    def _insert_record(self, value: Any) -> tuple[Any, dict[str, Any], bool]:
        """The key (``None``: the database assigns it), the record of a value to insert and
        whether the key was generated for it (see :meth:`Codec.insert`)."""
        codec = self.codec
        codec.check_value(value)
        version = codec.version_of(value)
        if version is not None:
            raise ValidationError(
                f"this {codec.name} already carries version {version!r}: insert() starts "
                "at the first version; to change a stored one use update() or save()"
            )
        return codec.insert(value)

    def _update_flow(self, key: Any, changes: Any, expected_version: Any, base: Any) -> Flow:
        codec = self.codec
        key = codec.check_key(key)
        expected = codec.versions.check(expected_version)
        values = codec.check_changes(changes)
        base_record = self._base_record(base)
        return self._write_flow(key, expected, values, base_record, returning=True, stored=None)

    def _save_flow(self, snapshot: Any) -> tuple[Flow | None, dict[str, Any]]:
        """The flow of ``save(snapshot)`` (``None`` when nothing changed) and its changes."""
        _check_snapshot(snapshot)
        codec = self.codec
        value = snapshot.value
        codec.check_value(value)
        key = codec.check_key(snapshot.key)
        value_key = codec.key_of(value)
        if value_key is not None and value_key != key:
            raise ValidationError(
                f"{codec.name}: the value's key {value_key!r} differs from the snapshot's "
                f"key {key!r}; a key cannot change"
            )
        expected = codec.versions.check(snapshot.version, what="snapshot.version")
        changes = codec.diff(value, snapshot.base)
        if not changes:
            return None, changes
        return self._write_flow(key, expected, changes, snapshot.base, returning=False), changes

    def _write_flow(
        self,
        key: Any,
        expected: Version,
        changes: Mapping[str, Any],
        base: Record | None,
        *,
        returning: bool,
        stored: Record | bool | None = True,
    ) -> Flow:
        """A conditional update, or the commutative fast path where the policy allows it.

        ``stored``: see :func:`~occ._core.flow.write_flow`.
        """
        config = self._config()
        if not config.joined:
            ops = commutative_ops(config.fast_ops, changes, base, self.codec.commutative)
            if ops is not None:
                return commutative_flow(config, key=key, ops=ops)
        return write_flow(
            config,
            action="update",
            key=key,
            expected=expected,
            changes=changes,
            base=base,
            returning=returning,
            stored=stored,
        )

    def _delete_flow(self, key: Any, expected_version: Any) -> Flow:
        codec = self.codec
        return write_flow(
            self._config(),
            action="delete",
            key=codec.check_key(key),
            expected=codec.versions.check(expected_version),
            changes={},
            base=None,
            returning=False,
        )

    def _modify_flow(self, key: Any, fn: Callable[[Any], Any], attempts: int | None) -> Flow:
        """Read, ``fn``, conditional write. In a caller's transaction, one attempt only:
        a retry would re-read the same snapshot."""
        codec = self.codec
        key = codec.check_key(key)
        if not callable(fn):
            raise ValidationError(f"modify() needs a function of the current value, got {fn!r}")
        budget = self.retry.attempts if attempts is None else attempts
        if type(budget) is not int or budget < 1:
            raise ValidationError(f"attempts must be an int >= 1, got {attempts!r}")
        config = self._config()
        if config.joined:
            budget = 1

        def diff(value: Any, current: Stored) -> Mapping[str, Any]:
            codec.check_value(value)
            value_key = codec.key_of(value)
            if value_key is not None and value_key != current.key:
                raise ValidationError(f"{codec.name}: modify() cannot change the key")
            return codec.diff(value, current.record)

        return modify_flow(
            config, key=key, fn=fn, to_value=codec.to_value, diff=diff, attempts=budget
        )

    def _increment_flow(self, key: Any, deltas: Mapping[str, Any]) -> Flow:
        """Add ``deltas`` to fields: one atomic write where the backend has one (it never
        conflicts), else a read and a conditional write, retried like ``modify``."""
        codec = self.codec
        key = codec.check_key(key)
        if not deltas:
            raise ValidationError("increment() needs at least one field=delta")
        checked = codec.check_changes(deltas)
        for name, delta in checked.items():
            if isinstance(delta, bool) or not isinstance(delta, numbers.Number):
                raise ValidationError(
                    f"{codec.name}.{name}: increment() adds numbers, got {type(delta).__name__} "
                    f"{delta!r}"
                )
        config = self._config()
        if not config.joined and "inc" in config.commutative:
            ops = {name: FieldOp("inc", delta) for name, delta in checked.items()}
            return commutative_flow(config, key=key, ops=ops)

        def add(_: Any, current: Stored) -> Mapping[str, Any]:
            record = current.record
            return {name: (record.get(name) or 0) + delta for name, delta in checked.items()}

        budget = 1 if config.joined else self.retry.attempts
        return modify_flow(
            config, key=key, fn=None, to_value=codec.to_value, diff=add, attempts=budget
        )

    def _base_record(self, base: Any) -> Record | None:
        """The record a caller read, from what ``update(..., base=)`` was given."""
        if base is None:
            return None
        codec = self.codec
        if isinstance(base, Versioned):
            return base.base if base.base is not None else freeze(codec.to_record(base.value))
        if codec.is_model(base):
            return freeze(codec.to_record(base))
        if isinstance(base, Mapping):
            return freeze(codec.base_fields(base))
        raise ValidationError(
            f"base must be the values you read (a mapping, a {codec.name} or a Versioned), "
            f"got {type(base).__name__}"
        )

    # -- results ----------------------------------------------------------------

    def _versioned(self, stored: Stored) -> Versioned[T]:
        """What a read returns."""
        return Versioned(self.codec.to_value(stored), stored.version, stored.key, stored.record)

    def _result(self, applied: Applied) -> Versioned[T]:
        """What a write returns: the value it wrote, or the stored one, and what happened."""
        assert applied.record is not None
        if applied.value is not None:
            value = self.codec.with_version(applied.value, applied.version)
        else:
            value = self.codec.to_value(Stored(applied.key, applied.version, applied.record))
        return Versioned(
            value,
            applied.version,
            applied.key,
            freeze(applied.record),
            outcome=applied.outcome,
            based_on=applied.based_on,
            alerted=applied.alerted,
        )

    def _saved(
        self, snapshot: Versioned[T], applied: Applied, changes: Mapping[str, Any]
    ) -> Versioned[T]:
        """What ``save(snapshot)`` returns once ``applied``."""
        if (applied.outcome != "written" or applied.settled) and applied.record is not None:
            # Resolved, discarded, or established after a lost reply: the stored record
            # is not (only) the snapshot's value.
            return self._result(applied)
        value = self.codec.with_version(snapshot.value, applied.version)
        base = snapshot.base
        written = {**base, **changes} if base is not None else changes
        return Versioned(
            value,
            applied.version,
            snapshot.key,
            freeze(written),
            outcome=applied.outcome,
            based_on=applied.based_on,
            alerted=applied.alerted,
        )
