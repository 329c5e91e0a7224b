"""``InMemoryRepository``: the repository contract over a dict, for fast unit tests.

It runs the same core flows as the SQL and MongoDB repositories (conflicts,
resolvers, retries, named points); only the storage is a dict guarded by a
lock. Values are dicts keyed by the ``key`` field; like a SQL ``Table``
repository, a value read back also carries its version field.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from occ._core.decisions import Resolver
from occ._core.flow import Flow, FlowConfig, Stats, insert_flow, modify_flow, write_flow
from occ._core.model import Record, Versioned, freeze
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Missed, Point, Read, Stored, Write
from occ._core.versions import IntVersions
from occ._drive import run_async, run_sync
from occ.errors import AlreadyExistsError, ConfigurationError, NotFoundError, ValidationError
from occ.policies import policy_for

__all__ = ["AsyncInMemoryRepository", "InMemoryRepository"]

Value = dict[str, Any]


class _MemoryBase:
    """Storage, validation and flow building; the drivers below only run steps."""

    def __init__(
        self,
        *,
        key: str = "id",
        policy: Resolver | None = None,
        retry: RetryPolicy | None = None,
        version_field: str = "version",
        name: str = "memory",
        on_point: Callable[[Point], Any] | None = None,
    ) -> None:
        if key == version_field:
            raise ConfigurationError("the key field and the version field must differ")
        self.key_field = key
        self.version_field = version_field
        self.name = name
        self.policy: Resolver = policy if policy is not None else policy_for(name)
        self.retry = retry or RetryPolicy()
        self.stats = Stats()
        self.versions = IntVersions()
        self._on_point = on_point
        self._rows: dict[Any, tuple[int, Record]] = {}
        self._lock = threading.Lock()
        self.config = FlowConfig(
            entity=name,
            versions=self.versions,
            retry=self.retry,
            resolver=self.policy,
            points=on_point is not None,
            stats=self.stats,
        )

    # -- storage: what a database would do ------------------------------------

    def _read(self, step: Read) -> Stored | None:
        with self._lock:
            row = self._rows.get(step.key)
        return None if row is None else Stored(step.key, row[0], row[1])

    def _write(self, step: Write) -> Applied | Missed:
        with self._lock:
            row = self._rows.get(step.key)
            if step.action == "insert":
                if row is not None:
                    raise AlreadyExistsError(self.name, step.key)
                assert isinstance(step.new_version, int)
                record = freeze({k: v for k, v in step.changes.items() if k != self.key_field})
                self._rows[step.key] = (step.new_version, record)
                return Applied(step.key, step.new_version, record)
            if row is None or row[0] != step.expected_version:
                return Missed()
            if step.action == "delete":
                del self._rows[step.key]
                return Applied(step.key, row[0])
            assert isinstance(step.new_version, int)
            record = {**row[1], **freeze(step.changes)}
            self._rows[step.key] = (step.new_version, record)
            return Applied(step.key, step.new_version, record)

    # -- values ---------------------------------------------------------------

    def _check_key(self, key: Any) -> Any:
        if key is None or isinstance(key, list | dict | set):
            raise ValidationError(f"{self.name}: {key!r} is not a key value")
        return key

    def _check_changes(self, changes: Any) -> dict[str, Any]:
        if not isinstance(changes, Mapping):
            raise ValidationError(
                f"changes must be a mapping of field names to values, got {type(changes).__name__}"
            )
        for name in changes:
            if not isinstance(name, str):
                raise ValidationError(f"{self.name}: field names are strings, got {name!r}")
            if name == self.key_field:
                raise ValidationError(f"{self.name}.{name} is the key: it cannot be changed")
            if name == self.version_field:
                raise ValidationError(
                    f"{self.name}.{name} is the version: occ sets it; pass the version you "
                    "read as expected_version instead"
                )
        return dict(changes)

    def _check_value(self, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise ValidationError(f"values of {self.name} are dicts, got {type(value).__name__}")

    def _record(self, value: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in value.items() if k not in (self.key_field, self.version_field)}

    def _value(self, stored: Stored) -> Value:
        out: Value = {self.key_field: stored.key, self.version_field: stored.version}
        out.update(freeze(stored.record))
        return out

    def _versioned(self, stored: Stored) -> Versioned[Value]:
        return Versioned(self._value(stored), stored.version, stored.key, freeze(stored.record))

    def _result(self, applied: Applied) -> Versioned[Value]:
        assert applied.record is not None
        if applied.value is not None:
            applied.value[self.version_field] = applied.version
            return Versioned(applied.value, applied.version, applied.key, freeze(applied.record))
        return self._versioned(Stored(applied.key, applied.version, applied.record))

    def _diff(self, value: Any, base: Record | None) -> dict[str, Any]:
        record = self._record(value)
        if base is None:
            return record
        missing = object()
        return {k: v for k, v in record.items() if base.get(k, missing) != v}

    # -- flows ----------------------------------------------------------------

    def _find(self, key: Any) -> Versioned[Value] | None:
        stored = self._read(Read(self._check_key(key)))
        return None if stored is None else self._versioned(stored)

    def _insert_flow(self, value: Any) -> Flow:
        self._check_value(value)
        if value.get(self.version_field) is not None:
            raise ValidationError(
                f"this {self.name} value already carries version {value[self.version_field]!r}: "
                "insert() starts at the first version; use update() or save()"
            )
        if value.get(self.key_field) is None:
            raise ValidationError(f"{self.name}: the key field {self.key_field!r} is required")
        key = self._check_key(value[self.key_field])
        record = self._check_changes(self._record(value))
        return insert_flow(self.config, key, record)

    def _update_flow(self, key: Any, changes: Any, expected: Any, base: Any) -> Flow:
        return write_flow(
            self.config,
            action="update",
            key=self._check_key(key),
            expected=self.versions.check(expected),
            changes=self._check_changes(changes),
            base=self._base_record(base),
            returning=True,
        )

    def _base_record(self, base: Any) -> Record | None:
        if base is None:
            return None
        if isinstance(base, Versioned):
            return base.base if base.base is not None else freeze(self._record(base.value))
        if isinstance(base, Mapping):
            return freeze(self._record(base))
        raise ValidationError(
            f"base must be the values you read (a mapping or a Versioned), got "
            f"{type(base).__name__}"
        )

    def _save_flow(self, snapshot: Any) -> tuple[Flow, dict[str, Any]]:
        if not isinstance(snapshot, Versioned):
            raise ValidationError(
                "save() takes the Versioned snapshot you read (from get(), find() or a previous "
                f"write), got {type(snapshot).__name__}; to write by key use update()"
            )
        self._check_value(snapshot.value)
        key = self._check_key(snapshot.key)
        if snapshot.value.get(self.key_field, key) != key:
            raise ValidationError(f"{self.name}: a key cannot change")
        expected = self.versions.check(snapshot.version, what="snapshot.version")
        changes = self._diff(snapshot.value, snapshot.base)
        flow = write_flow(
            self.config,
            action="update",
            key=key,
            expected=expected,
            changes=self._check_changes(changes),
            base=snapshot.base,
            returning=True,
        )
        return flow, changes

    def _saved(self, snapshot: Versioned[Value], applied: Applied) -> Versioned[Value]:
        if applied.outcome != "written" and applied.record is not None:
            return self._versioned(Stored(applied.key, applied.version, applied.record))
        snapshot.value[self.version_field] = applied.version
        return Versioned(
            snapshot.value, applied.version, snapshot.key, freeze(self._record(snapshot.value))
        )

    def _delete_flow(self, key: Any, expected: Any) -> Flow:
        return write_flow(
            self.config,
            action="delete",
            key=self._check_key(key),
            expected=self.versions.check(expected),
            changes={},
            base=None,
            returning=False,
        )

    def _modify_flow(self, key: Any, fn: Callable[[Any], Any], attempts: int | None) -> Flow:
        key = self._check_key(key)
        if not callable(fn):
            raise ValidationError(f"modify() needs a function of the current value, got {fn!r}")
        budget = self.retry.attempts if attempts is None else attempts
        if type(budget) is not int or budget < 1:
            raise ValidationError(f"attempts must be an int >= 1, got {attempts!r}")

        def diff(value: Any, current: Stored) -> Mapping[str, Any]:
            self._check_value(value)
            if value.get(self.key_field, current.key) != current.key:
                raise ValidationError(f"{self.name}: modify() cannot change the key")
            return self._check_changes(self._diff(value, current.record))

        return modify_flow(
            self.config, key=key, fn=fn, to_value=self._value, diff=diff, attempts=budget
        )

    def _get_or_raise(self, key: Any, found: Versioned[Value] | None) -> Versioned[Value]:
        if found is None:
            raise NotFoundError(self.name, key)
        return found


class InMemoryRepository(_MemoryBase):
    """The repository contract over a dict: same flows, conflicts and policies as SQL.

    Args:
        key: the field of each value (a dict) that holds its key.
        policy: the conflict resolver; default: the one registered for ``name``
            in :mod:`occ.policies`, else :class:`~occ.resolvers.Raise`.
        retry: attempts and backoff for resolved writes and ``modify``.
        version_field: the field a value read back carries its version in.
        name: the entity name used in errors and conflicts.
        on_point: called with each named yield point (tests and schedulers).
    """

    def _run(self, flow: Flow) -> Applied:
        return run_sync(
            flow, read=self._read, write=self._write, on_point=self._on_point, where="occ.testing"
        )

    def find(self, key: Any) -> Versioned[Value] | None:
        """The current value and version under ``key``, or ``None``."""
        return self._find(key)

    def get(self, key: Any) -> Versioned[Value]:
        """The current value and version under ``key``; :class:`NotFoundError` if absent."""
        return self._get_or_raise(key, self._find(key))

    def insert(self, value: Value) -> Versioned[Value]:
        """Insert ``value`` at version 1; :class:`AlreadyExistsError` if the key is taken."""
        return self._result(self._run(self._insert_flow(value)))

    def update(
        self, key: Any, changes: dict[str, Any], *, expected_version: Any, base: Any = None
    ) -> Versioned[Value]:
        """Write ``changes`` if the stored version is ``expected_version``; return the new value."""
        return self._result(self._run(self._update_flow(key, changes, expected_version, base)))

    def save(self, snapshot: Versioned[Value]) -> Versioned[Value]:
        """Write the fields of ``snapshot.value`` that differ from what was read."""
        flow, changes = self._save_flow(snapshot)
        if not changes:
            return snapshot
        return self._saved(snapshot, self._run(flow))

    def delete(self, key: Any, *, expected_version: Any) -> None:
        """Delete the value if its stored version is ``expected_version``."""
        self._run(self._delete_flow(key, expected_version))

    def modify(
        self, key: Any, fn: Callable[[Value], Value | None], *, attempts: int | None = None
    ) -> Versioned[Value]:
        """Read, apply ``fn`` to the value, write conditionally; retry from a fresh read."""
        return self._result(self._run(self._modify_flow(key, fn, attempts)))


class AsyncInMemoryRepository(_MemoryBase):
    """:class:`InMemoryRepository` for asyncio code: the same methods, awaited.

    ``modify`` and ``on_point`` accept sync or async functions.
    """

    async def _run(self, flow: Flow) -> Applied:
        async def read(step: Read) -> Any:
            return self._read(step)

        async def write(step: Write) -> Any:
            return self._write(step)

        return await run_async(flow, read=read, write=write, on_point=self._on_point)

    async def find(self, key: Any) -> Versioned[Value] | None:
        """The current value and version under ``key``, or ``None``."""
        return self._find(key)

    async def get(self, key: Any) -> Versioned[Value]:
        """The current value and version under ``key``; :class:`NotFoundError` if absent."""
        return self._get_or_raise(key, self._find(key))

    async def insert(self, value: Value) -> Versioned[Value]:
        """Insert ``value`` at version 1; :class:`AlreadyExistsError` if the key is taken."""
        return self._result(await self._run(self._insert_flow(value)))

    async def update(
        self, key: Any, changes: dict[str, Any], *, expected_version: Any, base: Any = None
    ) -> Versioned[Value]:
        """Write ``changes`` if the stored version is ``expected_version``; return the new value."""
        flow = self._update_flow(key, changes, expected_version, base)
        return self._result(await self._run(flow))

    async def save(self, snapshot: Versioned[Value]) -> Versioned[Value]:
        """Write the fields of ``snapshot.value`` that differ from what was read."""
        flow, changes = self._save_flow(snapshot)
        if not changes:
            return snapshot
        return self._saved(snapshot, await self._run(flow))

    async def delete(self, key: Any, *, expected_version: Any) -> None:
        """Delete the value if its stored version is ``expected_version``."""
        await self._run(self._delete_flow(key, expected_version))

    async def modify(
        self, key: Any, fn: Callable[[Value], Any], *, attempts: int | None = None
    ) -> Versioned[Value]:
        """Read, apply ``fn`` (sync or async) to the value, write conditionally; retry."""
        return self._result(await self._run(self._modify_flow(key, fn, attempts)))
