"""The outbox: which entities emit change events, and where (pure, no database driver).

An entity opts in with ``outbox=Outbox(...)`` on its repository, or once in
:mod:`occ.policies` (``occ.policies.register_outbox(Model, Outbox())``).
Every write that changes a row then records one :class:`~occ.sync.Event`
atomically with the write: a row of the outbox table in the same
transaction (SQL, see :mod:`occ.sync._tables`), a document of the outbox
collection in the same transaction, or a pending event inside the written
document itself (MongoDB, see :mod:`occ.sync._mongo_outbox`); a relay
publishes it afterwards.
"""

from __future__ import annotations

import contextlib
import contextvars
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from occ.errors import ConfigurationError

__all__ = ["MONGO_MODES", "PARTITIONS", "Outbox", "OutboxStatus", "event_headers", "partition_of"]

#: the outbox's partitions: a relay leases partitions, and a key always falls in one.
PARTITIONS = 16
#: where a MongoDB repository keeps an event until the relay publishes it.
MONGO_MODES = ("auto", "collection", "document")

_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "occ_event_headers", default=None
)


@contextlib.contextmanager
def event_headers(headers: Mapping[str, str]) -> Iterator[None]:
    """Attach ``headers`` (e.g. ``traceparent``) to every event written in this block::

    with occ.sync.event_headers({"traceparent": tp}):
        accounts.update(1, {"email": e}, expected_version=3)
    """
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise TypeError("event headers map strings to strings")
    outer = _headers.get()
    token = _headers.set({**(outer or {}), **headers})
    try:
        yield
    finally:
        _headers.reset(token)


@dataclass(frozen=True)
class Outbox:
    """How an entity emits change events.

    Args:
        table: the outbox table's name (one per service database; created on
            first use). A relay reads the same name.
        value: ``"full"`` (each event carries the whole new value) or
            ``"changes"`` (the changed fields only: smaller events; a replica
            then applies version v+1 only on top of v).
        entity: the entity name events carry (default: the table or collection name).
        headers: called for each event; returns headers to attach (e.g. the
            current trace context), merged under those of :func:`event_headers`.
        mongo: where a MongoDB repository keeps the event until a relay
            publishes it: ``"collection"`` (a document of the outbox
            collection ``table``, inserted in the write's transaction: replica
            sets and sharded clusters), ``"document"`` (inside the written
            document, field ``_occ_outbox``, set by the same conditional
            update: any server, standalone ones too), or ``"auto"`` (the
            collection where the server has transactions, else the document;
            asked once, at the first write). SQL repositories ignore it.
    """

    table: str = "occ_outbox"
    value: Literal["full", "changes"] = "full"
    entity: str | None = None
    headers: Callable[[], Mapping[str, str]] | None = None
    mongo: Literal["auto", "collection", "document"] = "auto"

    def __post_init__(self) -> None:
        if self.value not in ("full", "changes"):
            raise ConfigurationError(f"Outbox(value=) is 'full' or 'changes', got {self.value!r}")
        if self.mongo not in MONGO_MODES:
            raise ConfigurationError(
                f"Outbox(mongo=) is one of {', '.join(map(repr, MONGO_MODES))}, got {self.mongo!r}"
            )
        if not self.table.replace("_", "").isalnum():
            raise ConfigurationError(
                f"an outbox table name is letters, digits and _: {self.table!r}"
            )

    @property
    def full(self) -> bool:
        """Whether events carry the whole new value."""
        return self.value == "full"

    def event_headers(self) -> dict[str, str]:
        """The headers of an event written now."""
        out: dict[str, str] = dict(self.headers()) if self.headers is not None else {}
        out.update(_headers.get() or {})
        return out


@dataclass(frozen=True)
class OutboxStatus:
    """What ``occ sync status`` shows: pending events, their lag, published events, leases.

    Attributes:
        pending: events not yet published.
        lag: seconds since the oldest pending event was written (0 when none is).
        published: published events still kept (until the retention period).
        leases: the relay holding each partition (``None``: free).
    """

    pending: int
    lag: float
    published: int
    leases: dict[int, str | None]


def partition_of(entity: str, key_text: str) -> int:
    """The outbox partition of a key (stable across processes and versions of Python)."""
    return zlib.crc32(f"{entity}\x00{key_text}".encode()) % PARTITIONS


def headers_of(outbox: Outbox) -> dict[str, str] | None:
    """The headers of an event written now, ``None`` when there are none."""
    return outbox.event_headers() or None


def as_outbox(value: Any) -> Outbox | None:
    """``outbox=`` of a repository: an :class:`Outbox`, ``True`` (its defaults), or none."""
    if value is None or value is False:
        return None
    if value is True:
        return Outbox()
    if isinstance(value, Outbox):
        return value
    raise ConfigurationError(f"outbox= takes an occ.sync.Outbox or True, got {value!r}")
