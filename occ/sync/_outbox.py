"""The outbox: which entities emit change events, and the table that holds them.

An entity opts in with ``outbox=Outbox(...)`` on its repository, or once in
:mod:`occ.policies` (``occ.policies.register_outbox(Model, Outbox())``).
Every write that changes a row then records one :class:`~occ.sync.Event`
in the outbox table, in the same transaction as the write; a relay
publishes it after commit.
"""

from __future__ import annotations

import contextlib
import contextvars
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from occ.errors import ConfigurationError

__all__ = ["PARTITIONS", "Outbox", "event_headers", "outbox_table", "partition_of"]

#: the outbox's partitions: a relay leases partitions, and a key always falls in one.
PARTITIONS = 16

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
    """

    table: str = "occ_outbox"
    value: Literal["full", "changes"] = "full"
    entity: str | None = None
    headers: Callable[[], Mapping[str, str]] | None = None

    def __post_init__(self) -> None:
        if self.value not in ("full", "changes"):
            raise ConfigurationError(f"Outbox(value=) is 'full' or 'changes', got {self.value!r}")
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


def partition_of(entity: str, key_text: str) -> int:
    """The outbox partition of a key (stable across processes and versions of Python)."""
    return zlib.crc32(f"{entity}\x00{key_text}".encode()) % PARTITIONS


_tables: dict[str, sa.Table] = {}


def outbox_table(name: str = "occ_outbox", metadata: sa.MetaData | None = None) -> sa.Table:
    """The outbox table's definition (for Alembic migrations, or your own metadata).

    ``id`` orders events: per key it follows commit order (the row's lock is
    taken before the event row is inserted). ``published_at`` is NULL while
    the event waits for the relay.
    """
    if metadata is None:
        cached = _tables.get(name)
        if cached is not None:
            return cached
    md = metadata if metadata is not None else sa.MetaData()
    micro = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")
    table = sa.Table(
        name,
        md,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("partition_no", sa.SmallInteger, nullable=False),
        sa.Column("entity", sa.String(200), nullable=False),
        sa.Column("entity_key", sa.String(500), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("previous", sa.BigInteger),
        sa.Column("operation", sa.String(10), nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("headers", sa.Text),
        sa.Column("created_at", micro, nullable=False),
        sa.Column("published_at", micro),
        sa.Index(f"{name}_pending", "partition_no", "published_at", "id"),
        sa.Index(f"{name}_published", "published_at"),
    )
    if metadata is None:
        _tables[name] = table
    return table


def lease_table(name: str = "occ_outbox", metadata: sa.MetaData | None = None) -> sa.Table:
    """The relays' lease table of outbox ``name``: one row per partition."""
    md = metadata if metadata is not None else sa.MetaData()
    return sa.Table(
        f"{name}_leases",
        md,
        sa.Column("partition_no", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("owner", sa.String(100)),
        sa.Column("expires", sa.Double, nullable=False, default=0.0),
        sa.Column("version", sa.BigInteger, nullable=False, default=1),
    )


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
