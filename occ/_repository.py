"""What every repository shares (SQL, MongoDB, in-memory): results, ``save`` and ``modify``.

:class:`RepositoryCore` builds the ``Versioned`` a write returns and the
``modify`` flow from a few hooks a backend supplies (how a value carries its
version, becomes a record, is checked and compared); :func:`check_snapshot`
and :func:`delete_flow` are the same on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from occ._core.flow import Flow, FlowConfig, modify_flow, write_flow
from occ._core.model import Record, Version, Versioned, freeze
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Stored
from occ.errors import ValidationError

__all__ = ["RepositoryCore", "check_snapshot", "delete_flow"]

T = TypeVar("T")


def check_snapshot(snapshot: Any) -> None:
    """Refuse anything but a ``Versioned`` as the argument of ``save()``."""
    if not isinstance(snapshot, Versioned):
        raise ValidationError(
            f"save() takes the Versioned snapshot you read (from get(), find() or a previous "
            f"write), got {type(snapshot).__name__}; to write by key use update()"
        )


def delete_flow(config: FlowConfig, key: Any, expected: Version) -> Flow:
    """The flow of ``delete(key, expected_version=expected)`` (both already checked)."""
    return write_flow(
        config,
        action="delete",
        key=key,
        expected=expected,
        changes={},
        base=None,
        returning=False,
    )


class RepositoryCore(Generic[T]):
    """Results, ``save`` and ``modify`` of a repository, from the hooks below."""

    retry: RetryPolicy

    # -- hooks ------------------------------------------------------------------

    def _to_value(self, stored: Stored) -> Any:
        """A fresh user value for a stored record."""
        raise NotImplementedError

    def _to_record(self, value: Any) -> dict[str, Any]:
        """The stored fields of a user value."""
        raise NotImplementedError

    def _with_version(self, value: Any, version: Version) -> Any:
        """``value`` carrying ``version`` (the same object, or a copy if it is frozen)."""
        raise NotImplementedError

    def _check_value(self, value: Any) -> None:
        """Refuse a value that is not of the repository's model."""
        raise NotImplementedError

    def _key_changed(self, value: Any, key: Any) -> bool:
        """Whether ``value`` carries another key than ``key``."""
        raise NotImplementedError

    def _changes(self, value: Any, base: Record | None) -> Mapping[str, Any]:
        """The (checked) fields of ``value`` that differ from ``base``."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------

    def _versioned(self, stored: Stored) -> Versioned[T]:
        return Versioned(self._to_value(stored), stored.version, stored.key, stored.record)

    def _result(self, applied: Applied) -> Versioned[T]:
        """What a write returns: the value it wrote, or the stored one."""
        assert applied.record is not None
        if applied.value is not None:
            value = self._with_version(applied.value, applied.version)
            return Versioned(value, applied.version, applied.key, freeze(applied.record))
        return self._versioned(Stored(applied.key, applied.version, applied.record))

    def _saved(
        self, snapshot: Versioned[T], applied: Applied, written: Record | None = None
    ) -> Versioned[T]:
        """What ``save(snapshot)`` returns once ``applied``.

        ``written``, when given, is ``_to_record(snapshot.value)`` as the flow wrote it
        (every field: a save without a base), which spares computing it again.
        """
        if applied.outcome != "written" and applied.record is not None:
            # Resolved or discarded: the stored record is not the snapshot's value.
            return self._versioned(Stored(applied.key, applied.version, applied.record))
        value = self._with_version(snapshot.value, applied.version)
        if written is None or applied.attempts != 1:
            written = self._to_record(value)
        return Versioned(value, applied.version, snapshot.key, freeze(written))

    def _modify(
        self,
        config: FlowConfig,
        key: Any,
        fn: Callable[[Any], Any],
        attempts: int | None,
        *,
        joined: bool,
    ) -> Flow:
        """The flow of ``modify(key, fn, attempts=attempts)`` (``key`` already checked).

        Joined to a caller's transaction, it makes one attempt: a retry would
        re-read the same snapshot.
        """
        if not callable(fn):
            raise ValidationError(f"modify() needs a function of the current value, got {fn!r}")
        budget = self.retry.attempts if attempts is None else attempts
        if type(budget) is not int or budget < 1:
            raise ValidationError(f"attempts must be an int >= 1, got {attempts!r}")
        if joined:
            budget = 1

        def diff(value: Any, current: Stored) -> Mapping[str, Any]:
            self._check_value(value)
            if self._key_changed(value, current.key):
                raise ValidationError(f"{config.entity}: modify() cannot change the key")
            return self._changes(value, current.record)

        return modify_flow(
            config, key=key, fn=fn, to_value=self._to_value, diff=diff, attempts=budget
        )
