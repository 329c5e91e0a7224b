"""Tables the resolver tests write (prefixed ``occ_t4_``), and a conflict store per test."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from occ.conflicts.sql import ConflictStore

STORE_TABLE = "occ_t4_conflicts"


class Base(DeclarativeBase):
    pass


class Counter(Base):
    """A hot row: a counter, a high-water mark, a free-text note."""

    __tablename__ = "occ_t4_counter"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    hits: Mapped[int] = mapped_column(default=0)
    best: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(sa.String(100), default=None)
    version: Mapped[int | None] = mapped_column()


def fresh(engine: sa.Engine) -> ConflictStore:
    """Drop and create the tables; an empty conflict store."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    store = ConflictStore(engine, STORE_TABLE)
    store.drop()
    store.create()
    return store
