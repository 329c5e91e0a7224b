"""What the many-key methods return: per-item outcomes in input order, and reads by key list.

A batch write (``insert_many``, ``save_many``, ``update_many``, ``delete_many``,
``upsert_many``) returns a :class:`BulkResult`: one :class:`ItemResult` per
item given, in the same order, saying what happened to that item alone. A
read by key list (``get_many``) returns :class:`Found`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from occ._core.model import Conflict, Version, Versioned
from occ.errors import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    UnknownOutcomeError,
    ValidationError,
)

__all__ = ["FAILED", "BulkResult", "Found", "ItemResult", "failure_of"]

T = TypeVar("T")

#: the outcomes of an item that was not written as asked, nor resolved by a policy.
FAILED = frozenset(
    {"conflict", "not_found", "already_exists", "invalid", "unknown", "error", "aborted"}
)


def failure_of(error: BaseException) -> str:
    """The outcome label of an item that failed with ``error``."""
    if isinstance(error, ConflictError):  # DeletedError too: a conflict of kind "deleted"
        return "conflict"
    if isinstance(error, NotFoundError):
        return "not_found"
    if isinstance(error, AlreadyExistsError):
        return "already_exists"
    if isinstance(error, ValidationError):
        return "invalid"
    if isinstance(error, UnknownOutcomeError):
        return "unknown"
    return "error"


class ItemResult(Generic[T]):
    """What happened to one item of a batch.

    Attributes:
        index: the item's position in the batch given.
        key: its key (``None`` when it had none yet, or could not be read).
        outcome: ``"written"`` (or ``"merged"``, ``"overwritten"``,
            ``"discarded"``, ``"retried"``, ``"commutative"``: a policy or the
            fast path decided), ``"unchanged"`` (nothing to write), ``"deleted"``;
            or a failure: ``"conflict"``, ``"not_found"``, ``"already_exists"``,
            ``"invalid"``, ``"unknown"`` (a lost reply whose effect cannot be
            known), ``"error"`` (a database error of this item alone),
            ``"aborted"`` (fine, but an all-or-nothing batch failed elsewhere, so
            it was not written).
        version: the version stored now; for a delete, the version deleted.
        conflict: the conflict the item met, when it failed on one.
        error: the error a single write of this item would have raised.
    """

    __slots__ = ("_make", "_value", "conflict", "error", "index", "key", "outcome", "version")

    def __init__(
        self,
        index: int,
        key: Any,
        outcome: str,
        value: Versioned[T] | None = None,
        version: Version | None = None,
        conflict: Conflict | None = None,
        error: BaseException | None = None,
        *,
        make: Callable[[], Versioned[T]] | None = None,
    ) -> None:
        self.index = index
        self.key = key
        self.outcome = outcome
        self.version = version
        self.conflict = conflict
        self.error = error
        self._value = value
        self._make = make

    @property
    def value(self) -> Versioned[T] | None:
        """What is stored now for a write that succeeded or was resolved (``outcome`` is
        repeated on it); ``None`` for deletes and failures. Built when first asked for."""
        if self._make is not None:
            self._value, self._make = self._make(), None
        return self._value

    @property
    def ok(self) -> bool:
        """True unless the item failed (see :attr:`outcome`)."""
        return self.outcome not in FAILED

    def __repr__(self) -> str:
        return (
            f"ItemResult(index={self.index}, key={self.key!r}, outcome={self.outcome!r}, "
            f"version={self.version!r})"
        )

    @classmethod
    def failed(cls, index: int, key: Any, error: BaseException) -> ItemResult[T]:
        """The result of an item that failed with ``error``."""
        conflict = error.conflict if isinstance(error, ConflictError) else None
        return cls(index, key, failure_of(error), conflict=conflict, error=error)


class BulkResult(Sequence[ItemResult[T]]):
    """The outcome of every item of a batch write, in the order the items were given.

    Args:
        items: one result per item, in input order.
        atomic: the batch was all-or-nothing.
    """

    __slots__ = ("_items", "atomic")

    def __init__(self, items: Sequence[ItemResult[T]], *, atomic: bool = False) -> None:
        self._items = tuple(items)
        self.atomic = atomic

    @overload
    def __getitem__(self, index: int) -> ItemResult[T]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ItemResult[T]]: ...
    def __getitem__(self, index: int | slice) -> ItemResult[T] | Sequence[ItemResult[T]]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[ItemResult[T]]:
        return iter(self._items)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return f"BulkResult({len(self)} items: {counts or 'none'})"

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return all(item.ok for item in self._items)

    @property
    def failed(self) -> list[ItemResult[T]]:
        """The items that failed, in input order."""
        return [item for item in self._items if not item.ok]

    @property
    def values(self) -> list[Versioned[T]]:
        """What is stored now for every item written or resolved, in input order."""
        return [item.value for item in self._items if item.value is not None]

    @property
    def outcomes(self) -> dict[str, int]:
        """How many items had each outcome."""
        return dict(Counter(item.outcome for item in self._items))

    def raise_for_errors(self) -> BulkResult[T]:
        """Raise the error of the first failed item (as a single write would); else ``self``.

        Raises:
            OCCError: the first failed item's error (an ``"aborted"`` item's is
                the error of the item that made the batch fail).
        """
        for item in self._items:
            if item.error is not None and item.outcome != "aborted":
                raise item.error
        for item in self._items:
            if item.error is not None:
                raise item.error
        return self


class Found(Sequence[Versioned[T]]):
    """What a read by key list found: the values, in the order their keys were given.

    Attributes:
        missing: the keys under which nothing is stored, in input order.
    """

    __slots__ = ("_values", "missing")

    def __init__(self, values: Sequence[Versioned[T]], missing: Sequence[Any]) -> None:
        self._values = tuple(values)
        self.missing: tuple[Any, ...] = tuple(missing)

    @overload
    def __getitem__(self, index: int) -> Versioned[T]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Versioned[T]]: ...
    def __getitem__(self, index: int | slice) -> Versioned[T] | Sequence[Versioned[T]]:
        return self._values[index]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Versioned[T]]:
        return iter(self._values)

    def __repr__(self) -> str:
        return f"Found({len(self)} values, {len(self.missing)} missing)"

    def by_key(self) -> dict[Any, Versioned[T]]:
        """The values by key (keys must be hashable: composite SQL keys are tuples)."""
        return {value.key: value for value in self._values}
