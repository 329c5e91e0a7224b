"""What the in-memory repositories share: the dict storage, validation and flows.

``InMemoryRepository`` runs the same core flows as the SQL and MongoDB
repositories (conflicts, resolvers, retries, named points); only the storage
is a dict guarded by a lock. Values are dicts keyed by the ``key`` field; like
a SQL ``Table`` repository, a value read back also carries its version field.
The drivers (:mod:`occ.testing._memory_async`, and :mod:`occ.testing._memory_sync`
generated from it by ``scripts/unasync.py``) only run the flows built here.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from occ._core.decisions import Resolver
from occ._core.flow import Flow, FlowConfig, Stats, insert_flow, write_flow
from occ._core.model import Record, Version, Versioned, freeze
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Missed, Point, Read, Stored, Write
from occ._core.versions import IntVersions
from occ._repository import RepositoryCore, check_snapshot, delete_flow
from occ.errors import AlreadyExistsError, ConfigurationError, NotFoundError, ValidationError
from occ.policies import policy_for

__all__ = ["MemoryBase", "Value", "as_async"]

Value = dict[str, Any]
S = TypeVar("S")
R = TypeVar("R")


def as_async(fn: Callable[[S], R]) -> Callable[[S], Awaitable[R]]:
    """``fn`` (a storage call, which never blocks) as a coroutine function."""

    async def call(arg: S) -> R:
        return fn(arg)

    return call


class MemoryBase(RepositoryCore[Value]):
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

    def _to_record(self, value: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in value.items() if k not in (self.key_field, self.version_field)}

    def _to_value(self, stored: Stored) -> Value:
        out: Value = {self.key_field: stored.key, self.version_field: stored.version}
        out.update(freeze(stored.record))
        return out

    def _versioned(self, stored: Stored) -> Versioned[Value]:
        return Versioned(self._to_value(stored), stored.version, stored.key, freeze(stored.record))

    def _with_version(self, value: Value, version: Version) -> Value:
        value[self.version_field] = version
        return value

    def _key_changed(self, value: Value, key: Any) -> bool:
        return bool(value.get(self.key_field, key) != key)

    def _changes(self, value: Any, base: Record | None) -> dict[str, Any]:
        return self._check_changes(self._diff(value, base))

    def _diff(self, value: Any, base: Record | None) -> dict[str, Any]:
        record = self._to_record(value)
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
        record = self._check_changes(self._to_record(value))
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
            return base.base if base.base is not None else freeze(self._to_record(base.value))
        if isinstance(base, Mapping):
            return freeze(self._to_record(base))
        raise ValidationError(
            f"base must be the values you read (a mapping or a Versioned), got "
            f"{type(base).__name__}"
        )

    def _save_flow(self, snapshot: Any) -> tuple[Flow, dict[str, Any]]:
        check_snapshot(snapshot)
        self._check_value(snapshot.value)
        key = self._check_key(snapshot.key)
        if snapshot.value.get(self.key_field, key) != key:
            raise ValidationError(f"{self.name}: a key cannot change")
        expected = self.versions.check(snapshot.version, what="snapshot.version")
        changes = self._changes(snapshot.value, snapshot.base)
        flow = write_flow(
            self.config,
            action="update",
            key=key,
            expected=expected,
            changes=changes,
            base=snapshot.base,
            returning=True,
        )
        return flow, changes

    def _delete_flow(self, key: Any, expected: Any) -> Flow:
        return delete_flow(self.config, self._check_key(key), self.versions.check(expected))

    def _modify_flow(self, key: Any, fn: Callable[[Any], Any], attempts: int | None) -> Flow:
        return self._modify(self.config, self._check_key(key), fn, attempts, joined=False)

    def _get_or_raise(self, key: Any, found: Versioned[Value] | None) -> Versioned[Value]:
        if found is None:
            raise NotFoundError(self.name, key)
        return found
