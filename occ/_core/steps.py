"""Steps the core flow yields, and the results drivers send back.

A flow is a generator: it yields a step, the driver performs it (SQL, Mongo,
memory; sync or async) and sends the result back. Only drivers do IO.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from occ._core.model import Record, Version

__all__ = [
    "Applied",
    "Backoff",
    "Call",
    "Effect",
    "Missed",
    "Point",
    "Read",
    "Step",
    "Stored",
    "Write",
]

WriteAction = Literal["insert", "update", "delete"]


@dataclass(frozen=True, slots=True)
class Stored:
    """A row or document as stored: its key, version and fields."""

    key: Any
    version: Version
    record: Record


@dataclass(frozen=True, slots=True)
class Read:
    """Read the current value by key in a fresh transaction; result: ``Stored | None``.

    ``locking`` asks for a locking read (``FOR SHARE``) when the read must see
    the latest committed row inside a caller's transaction.
    """

    key: Any
    locking: bool = False


@dataclass(frozen=True, slots=True)
class Write:
    """One conditional write; result: :class:`Applied` or :class:`Missed`.

    ``expected_version`` is ``None`` for inserts. ``returning`` asks the driver
    for the stored row after the write (``update``); otherwise it may answer
    with ``record=None``.
    """

    action: WriteAction
    key: Any
    expected_version: Version | None
    new_version: Version | None
    changes: Mapping[str, Any]
    returning: bool = False


@dataclass(frozen=True, slots=True)
class Backoff:
    """Sleep before the next attempt; result: ``None``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Point:
    """A named yield point (``after_read``, ``before_write``, ``after_conflict``).

    Drivers pass it to the repository's scheduler hook, if any, so tests can
    choose which writer runs next. Result: ``None``.
    """

    name: str
    key: Any


@dataclass(frozen=True, slots=True)
class Call:
    """Call a user function (``modify``'s ``fn``); async drivers await a coroutine result."""

    fn: Callable[[Any], Any]
    arg: Any


@dataclass(frozen=True, slots=True)
class Effect:
    """A side effect a resolver asked for (persist a conflict, notify); result ignored.

    ``run`` is called by the driver (awaited if it returns an awaitable).
    """

    run: Callable[[], Any]
    name: str = "effect"


Step = Read | Write | Backoff | Point | Call | Effect


@dataclass(frozen=True, slots=True)
class Applied:
    """The write matched and was applied.

    ``record`` is the stored row when the driver has it (or the flow built it);
    ``value`` is the user's value when the flow already has one; ``outcome``
    is ``"written"`` or the resolver's decision (``"discarded"``, ...).
    """

    key: Any
    version: Version
    record: Record | None = None
    value: Any = None
    outcome: str = "written"
    attempts: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Missed:
    """The conditional write matched nothing (or the database aborted it).

    ``serialization`` marks MariaDB 1020 / PostgreSQL 40001 style aborts.
    """

    serialization: bool = False
