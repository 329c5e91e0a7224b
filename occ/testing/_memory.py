"""The in-memory backend, pure: a dict guarded by a lock, and the codec of its dict values.

``InMemoryRepository`` / ``AsyncInMemoryRepository`` (:mod:`occ.testing._async.memory`)
run the same core flows as the SQL and MongoDB repositories (conflicts,
resolvers, retries, named points); only the storage is this dict. Values are
dicts keyed by the ``key`` field; like a SQL ``Table`` repository, a value
read back also carries its version field.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from occ._core.model import Record, Version, freeze
from occ._core.query import Query
from occ._core.steps import Applied, Missed, Read, Stored, Write
from occ._core.versions import IntVersions, VersionScheme
from occ.errors import ConfigurationError, ValidationError

__all__ = ["DictCodec", "Journal", "MemoryStore", "Value"]

Value = dict[str, Any]
#: the rows an all-or-nothing batch changed, as they were before: (key, row or None).
Journal = list[tuple[Any, "tuple[Version, Record] | None"]]


class DictCodec:
    """Keys, fields and versions of dict values (see :class:`~occ._core.repository.Codec`)."""

    commutative: frozenset[str] = frozenset()

    def __init__(self, *, key: str, version_field: str, entity: str) -> None:
        if key == version_field:
            raise ConfigurationError("the key field and the version field must differ")
        self.key = key
        self.version_field = version_field
        self.name = entity
        self.versions: VersionScheme = IntVersions()

    def check_key(self, key: Any) -> Any:
        if key is None or isinstance(key, list | dict | set):
            raise ValidationError(f"{self.name}: {key!r} is not a key value")
        return key

    def check_changes(self, changes: Any) -> dict[str, Any]:
        if not isinstance(changes, Mapping):
            raise ValidationError(
                f"changes must be a mapping of field names to values, got {type(changes).__name__}"
            )
        for name in changes:
            if not isinstance(name, str):
                raise ValidationError(f"{self.name}: field names are strings, got {name!r}")
            if name == self.key:
                raise ValidationError(f"{self.name}.{name} is the key: it cannot be changed")
            if name == self.version_field:
                raise ValidationError(
                    f"{self.name}.{name} is the version: occ sets it; pass the version you "
                    "read as expected_version instead"
                )
        return dict(changes)

    def check_value(self, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise ValidationError(f"values of {self.name} are dicts, got {type(value).__name__}")

    def key_of(self, value: Any) -> Any:
        return value.get(self.key)

    def version_of(self, value: Any) -> Any:
        return value.get(self.version_field)

    def insert(self, value: Any) -> tuple[Any, dict[str, Any], bool]:
        if value.get(self.key) is None:
            raise ValidationError(f"{self.name}: the key field {self.key!r} is required")
        key = self.check_key(value[self.key])
        return key, self.check_changes(self.to_record(value)), False

    def to_record(self, value: Any) -> dict[str, Any]:
        return {k: v for k, v in value.items() if k not in (self.key, self.version_field)}

    def to_value(self, stored: Stored) -> Value:
        out: Value = {self.key: stored.key, self.version_field: stored.version}
        out.update(freeze(stored.record))
        return out

    def with_version(self, value: Any, version: Version) -> Any:
        value[self.version_field] = version
        return value

    def diff(self, value: Any, base: Record | None) -> dict[str, Any]:
        record = self.to_record(value)
        if base is not None:
            missing = object()
            record = {k: v for k, v in record.items() if base.get(k, missing) != v}
        return self.check_changes(record)

    def is_model(self, value: Any) -> bool:
        return False

    def base_fields(self, base: Mapping[str, Any]) -> dict[str, Any]:
        return self.to_record(base)


class MemoryStore:
    """What a database would do, over a dict: read by key, conditional writes."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        self._rows: dict[Any, tuple[Version, Record]] = {}
        #: the last version of each deleted key: a key inserted again starts past it,
        #: as on SQL (see :mod:`occ.sql._tombstones`), so versions never repeat.
        self._tombstones: dict[Any, Version] = {}
        self._lock = threading.Lock()

    def read(self, step: Read) -> Stored | None:
        with self._lock:
            row = self._rows.get(step.key)
        return None if row is None else Stored(step.key, row[0], row[1])

    def write(self, step: Write, journal: Journal | None = None) -> Applied | Missed:
        """Apply ``step`` if its guard holds; ``journal`` keeps what it replaced (see undo)."""
        with self._lock:
            row = self._rows.get(step.key)
            outcome = self._apply(step, row)
            if journal is not None and isinstance(outcome, Applied):
                journal.append((step.key, row))
            return outcome

    def _apply(self, step: Write, row: tuple[Version, Record] | None) -> Applied | Missed:
        if step.action == "insert":
            if row is not None:
                return Missed(duplicate=True)
            assert step.new_version is not None
            version = step.new_version
            last = self._tombstones.get(step.key)
            if isinstance(last, int) and isinstance(version, int):
                version = max(version, last + 1)
            record = freeze(step.changes)
            self._rows[step.key] = (version, record)
            return Applied(step.key, version, record)
        if row is None or row[0] != step.expected_version:
            return Missed()
        if step.action == "delete":
            del self._rows[step.key]
            self._tombstones[step.key] = row[0]
            return Applied(step.key, row[0])
        assert step.new_version is not None
        record = {**row[1], **freeze(step.changes)}
        self._rows[step.key] = (step.new_version, record)
        return Applied(step.key, step.new_version, record)

    def undo(self, journal: Journal) -> None:
        """Put back what the writes recorded in ``journal`` replaced, newest first."""
        with self._lock:
            for key, row in reversed(journal):
                if row is None:
                    self._rows.pop(key, None)
                else:
                    self._rows[key] = row
            journal.clear()

    def query(self, query: Query, codec: DictCodec) -> list[Stored]:
        """The rows matching ``query`` (a mapping of equal fields or a predicate of the value),
        in its order, the key breaking ties; ``None`` sorts first."""
        with self._lock:
            rows = [Stored(key, version, record) for key, (version, record) in self._rows.items()]
        match = _matcher(query.where, codec)
        found = [stored for stored in rows if match(stored)]
        if query.after is not None:
            found = [stored for stored in found if stored.key > query.after]
        found.sort(key=lambda stored: stored.key)
        for name, descending in reversed(query.order):
            found.sort(
                key=lambda stored: _nulls_first(_field(stored, name, codec)), reverse=descending
            )
        return found if query.limit is None else found[: query.limit]


def _field(stored: Stored, name: str, codec: DictCodec) -> Any:
    if name == codec.key:
        return stored.key
    if name == codec.version_field:
        return stored.version
    return stored.record.get(name)


def _nulls_first(value: Any) -> tuple[bool, Any]:
    return (value is not None, value)


def _matcher(where: Any, codec: DictCodec) -> Callable[[Stored], bool]:
    if where is None:
        return lambda stored: True
    if isinstance(where, Mapping):
        wanted = dict(where)
        return lambda stored: all(_field(stored, k, codec) == v for k, v in wanted.items())
    if callable(where):
        return lambda stored: bool(where(codec.to_value(stored)))
    raise ValidationError(
        f"{codec.name}: where must be a mapping of field to value or a predicate of the "
        f"value, got {type(where).__name__}"
    )
