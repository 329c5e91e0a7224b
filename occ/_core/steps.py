"""Steps the core flow yields, and the results drivers send back.

A flow is a generator: it yields a step, the driver performs it (SQL, Mongo,
memory; sync or async) and sends the result back. Only drivers do IO.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from occ._core.model import Conflict, Record, Version

__all__ = [
    "Applied",
    "Archive",
    "Backoff",
    "Call",
    "Effect",
    "Hold",
    "Lost",
    "Missed",
    "Notify",
    "Point",
    "Read",
    "ReadMany",
    "Release",
    "Step",
    "Stored",
    "Write",
    "WriteMany",
]

#: ``commute``: the commutative fast path, atomic operations without a version check.
WriteAction = Literal["insert", "update", "delete", "commute"]


@dataclass(frozen=True, slots=True)
class Stored:
    """A row or document as stored: its key, version and fields.

    ``tokens`` are the write tokens of its most recent writes, newest first,
    when the backend keeps them (``None``: it keeps none).
    """

    key: Any
    version: Version
    record: Record
    tokens: tuple[str, ...] | None = None


class Hold:
    """A row lock a flow holds across steps: a transaction the driver opens at the first
    :class:`Read` that carries it (``SELECT ... FOR UPDATE``), runs the :class:`Write`
    that carries it in, and ends at :class:`Release`. ``state`` is the driver's (its
    connection); the flow never looks inside.
    """

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: Any = None


@dataclass(frozen=True, slots=True)
class Read:
    """Read the current value by key in a fresh transaction; result: ``Stored | None``.

    ``locking`` asks for a locking read (``FOR SHARE``) when the read must see
    the latest committed row inside a caller's transaction. ``primary``: the
    read must see the latest committed version (it classifies a conflict, or
    re-reads after one), so a backend that routes reads to replicas sends it
    to the primary.
    """

    key: Any
    locking: bool = False
    primary: bool = False
    #: read under a row lock held until :class:`Release` (the lock fallback on hot keys).
    hold: Hold | None = None


@dataclass(frozen=True, slots=True)
class Write:
    """One conditional write; result: :class:`Applied` or :class:`Missed`.

    ``expected_version`` is ``None`` for inserts and commutative writes (whose
    ``changes`` are :class:`~occ._core.commutative.FieldOp` by field).
    ``base`` is the stored record at ``expected_version`` when the flow knows
    it (a backend may write nested changes relative to it). ``returning`` asks
    the driver for the stored row after the write; otherwise it may answer
    with ``record=None``. ``token`` is this write's random token: a backend
    that keeps recent tokens stores it, so a write whose reply was lost can be
    recognised later (a resend carries the same token).
    """

    action: WriteAction
    key: Any
    expected_version: Version | None
    new_version: Version | None
    changes: Mapping[str, Any]
    base: Record | None = None
    returning: bool = False
    token: str | None = None
    #: an insert under a key generated for it: no earlier row can have had the key.
    fresh: bool = False
    #: runs in the transaction of the row lock a :class:`Read` took.
    hold: Hold | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """End the transaction of ``hold`` (commit or roll back) and free its row lock."""

    hold: Hold
    commit: bool


@dataclass(frozen=True, slots=True)
class ReadMany:
    """Read several keys at once; result: one ``Stored | None`` per key, in order.

    A backend reads them in a constant number of round trips (one query by a
    list of keys); ``locking`` and ``primary`` as for :class:`Read`. Batch
    flows (:mod:`occ._core.lockstep`) yield it for the reads their items need
    together.
    """

    keys: tuple[Any, ...]
    locking: bool = False
    primary: bool = False


@dataclass(frozen=True, slots=True)
class WriteMany:
    """Several conditional writes of one action, sent together.

    Result: one outcome per write, in order: :class:`Applied`, :class:`Missed`,
    :class:`Lost`, or the exception that write alone met (it fails that item
    only). Each write keeps its own guard and token; a backend performs them
    in a constant number of round trips where it can, and attributes each
    outcome to its write. An error of the whole batch is raised.
    """

    writes: tuple[Write, ...]


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
class Archive:
    """Persist ``conflict`` in a conflict store with ``status``; result ignored.

    A store that fails fails the write: nothing submitted is lost silently.
    """

    store: Any
    conflict: Conflict
    status: str
    outcome: str
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Notify:
    """Persist ``conflict`` (status ``pending``) in every store, then tell every sink.

    Each sink is bounded by ``timeout`` seconds; one that raises or hangs is
    logged and skipped. Result ignored.
    """

    stores: tuple[Any, ...]
    sinks: tuple[Any, ...]
    conflict: Conflict
    outcome: str
    details: Mapping[str, Any]
    timeout: float | None


#: what a resolver may ask the driver to do before its decision applies.
Effect = Archive | Notify

Step = Read | Write | Release | Backoff | Point | Call | Archive | Notify | ReadMany | WriteMany


@dataclass(frozen=True, slots=True)
class Applied:
    """The write matched and was applied.

    ``record`` is the stored row when the driver has it (or the flow built it);
    ``value`` is the user's value when the flow already has one; ``outcome``
    is ``"written"`` or what a policy decided (``"discarded"``, ...);
    ``based_on`` is the version the successful write expected (``None`` if it
    wrote nothing or needed none); ``alerted``: a conflict was persisted for review.
    """

    key: Any
    version: Version
    record: Record | None = None
    value: Any = None
    outcome: str = "written"
    attempts: int = 1
    based_on: Version | None = None
    alerted: bool = False
    #: established after a lost reply: ``record`` is what is stored now (maybe newer).
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Missed:
    """The conditional write matched nothing (or the database aborted it).

    ``serialization`` marks MariaDB 1020 / PostgreSQL 40001 style aborts;
    ``duplicate``: an insert found its key taken.
    """

    serialization: bool = False
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Lost:
    """The write was sent, or may have been, and its reply was lost (the connection
    failed): it may or may not have applied. The flow establishes which."""
