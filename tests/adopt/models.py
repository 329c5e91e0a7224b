"""Models of the adoption tests: an existing app's classes, opted in to occ."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlmodel import Field, SQLModel

import occ.orm
from occ.resolvers import Discard


class Base(DeclarativeBase):
    pass


@occ.orm.versioned
class Order(Base):
    """Opted in with one line (here as a decorator); default policy: raise."""

    __tablename__ = "occ_t8_orders"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customer: Mapped[str] = mapped_column(sa.String(50))
    total: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(sa.String(200), default=None)
    version: Mapped[int | None] = mapped_column()


class Ticket(occ.orm.VersionedMixin, Base):
    """Opted in with the mixin, under the Discard policy (the store wins)."""

    __tablename__ = "occ_t8_tickets"
    __occ_policy__ = Discard()
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    version: Mapped[int | None] = mapped_column()


class Legacy(Base):
    """An existing model that uses SQLAlchemy's own version_id_col: left as it is."""

    __tablename__ = "occ_t8_legacy"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(50))
    version: Mapped[int] = mapped_column(nullable=False)
    __mapper_args__: Any = {"version_id_col": version}


class Hero(SQLModel, table=True):
    """A SQLModel table model, opted in below."""

    __tablename__ = "occ_t8_heroes"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    power: int = 0
    version: int | None = None


occ.orm.versioned(Hero)

TABLES = [Order.__table__, Ticket.__table__, Legacy.__table__, Hero.__table__]


def create_tables(engine: sa.Engine) -> None:
    Base.metadata.drop_all(engine, tables=TABLES[:3])
    SQLModel.metadata.drop_all(engine, tables=[Hero.__table__])  # type: ignore[list-item]
    Base.metadata.create_all(engine, tables=TABLES[:3])
    SQLModel.metadata.create_all(engine, tables=[Hero.__table__])  # type: ignore[list-item]


def stored(engine: sa.Engine, table: Any, key: Any) -> dict[str, Any] | None:
    """The row as stored now, read on a fresh connection."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == key)).mappings().first()
    return None if row is None else dict(row)
