"""The SQL tables of an outbox: its events, and the leases of the relays that read them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

__all__ = ["lease_table", "outbox_table"]

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
