"""Tables the sync tests write: a source table and an outbox, named per test."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import sqlalchemy as sa

import occ.sync


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def profile_table(name: str, metadata: sa.MetaData | None = None) -> sa.Table:
    """A user profile: what the account service owns and the others copy."""
    return sa.Table(
        name,
        metadata if metadata is not None else sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("email", sa.String(120)),
        sa.Column("credit", sa.Numeric(10, 2)),
        sa.Column("born", sa.Date),
        sa.Column("visits", sa.Integer, default=0),
        sa.Column("version", sa.Integer),
    )


def profile(key: int, name: str = "ada", **extra: Any) -> dict[str, Any]:
    value = {
        "id": key,
        "name": name,
        "email": f"{name}@example.org",
        "credit": decimal.Decimal("10.50"),
        "born": dt.date(1990, 1, 2),
        "visits": 0,
    }
    value.update(extra)
    return value


def outbox_rows(engine: sa.Engine, outbox: str) -> list[sa.Row[Any]]:
    table = occ.sync.outbox_table(outbox)
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.id)))


def make_source(engine: sa.Engine, **outbox: Any) -> tuple[sa.Table, occ.sync.Outbox]:
    """A fresh profile table and the outbox configuration of this test."""
    table = profile_table(unique("src"))
    table.create(engine)
    return table, occ.sync.Outbox(table=unique("ob"), **outbox)
