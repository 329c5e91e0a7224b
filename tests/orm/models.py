"""Models of existing apps, opted in to occ: timestamps, hierarchies, relationships."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlmodel import Field, SQLModel

import occ.orm
from tests.sql.models import clear_tombstones

#: DATETIME(6) on MySQL/MariaDB keeps microseconds.
Stamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

_ticks = itertools.count(1)


def next_tick() -> int:
    """A Python-side onupdate: a different value at each write, known to the test."""
    return next(_ticks)


class Base(DeclarativeBase):
    pass


@occ.orm.versioned
class Doc(Base):
    """Timestamps as most apps keep them: Python and SQL onupdate, and a counter."""

    __tablename__ = "occ_orm_docs"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(sa.String(50))
    updated_at: Mapped[dt.datetime | None] = mapped_column(Stamp, onupdate=dt.datetime.now)
    touched_at: Mapped[dt.datetime | None] = mapped_column(Stamp, onupdate=sa.func.now())
    tick: Mapped[int | None] = mapped_column(onupdate=next_tick)
    version: Mapped[int | None]


@occ.orm.versioned(version_type="timestamp", version_column="changed")
class Event(Base):
    """Timestamp versions (microseconds kept on every backend)."""

    __tablename__ = "occ_orm_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    what: Mapped[str] = mapped_column(sa.String(50))
    changed: Mapped[dt.datetime | None] = mapped_column(Stamp)


# -- single-table inheritance ---------------------------------------------------------


class Vehicle(occ.orm.VersionedMixin, Base):
    """A single-table hierarchy, versioned from its base (the mixin)."""

    __tablename__ = "occ_orm_vehicles"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(50))
    version: Mapped[int | None]
    __mapper_args__: Any = {"polymorphic_on": "kind", "polymorphic_identity": "vehicle"}


class Car(Vehicle):
    doors: Mapped[int | None] = mapped_column(default=None)
    __mapper_args__: Any = {"polymorphic_identity": "car"}


class Bike(Vehicle):
    gears: Mapped[int | None] = mapped_column(default=None)
    __mapper_args__: Any = {"polymorphic_identity": "bike"}


# -- joined-table inheritance ---------------------------------------------------------


class Employee(Base):
    """A joined-table hierarchy: the version on the base table, subclass columns beside."""

    __tablename__ = "occ_orm_employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(50))
    updated_at: Mapped[dt.datetime | None] = mapped_column(Stamp, onupdate=dt.datetime.now)
    version: Mapped[int | None]
    __mapper_args__: Any = {"polymorphic_on": "type", "polymorphic_identity": "employee"}


occ.orm.versioned(Employee)  # reaches every subclass


class Engineer(Employee):
    __tablename__ = "occ_orm_engineers"
    id: Mapped[int] = mapped_column(sa.ForeignKey("occ_orm_employees.id"), primary_key=True)
    language: Mapped[str | None] = mapped_column(sa.String(20), default=None)
    __mapper_args__: Any = {"polymorphic_identity": "engineer"}


class Manager(Employee):
    __tablename__ = "occ_orm_managers"
    id: Mapped[int] = mapped_column(sa.ForeignKey("occ_orm_employees.id"), primary_key=True)
    reports: Mapped[int] = mapped_column(default=0)
    __mapper_args__: Any = {"polymorphic_identity": "manager"}


class Shape(Base):
    """A joined hierarchy where only a subclass is opted in."""

    __tablename__ = "occ_orm_shapes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(sa.String(20))
    version: Mapped[int | None]
    __mapper_args__: Any = {"polymorphic_on": "type", "polymorphic_identity": "shape"}


@occ.orm.versioned
class Circle(Shape):
    __tablename__ = "occ_orm_circles"
    id: Mapped[int] = mapped_column(sa.ForeignKey("occ_orm_shapes.id"), primary_key=True)
    radius: Mapped[int]
    __mapper_args__: Any = {"polymorphic_identity": "circle"}


# -- relationships ---------------------------------------------------------------------


@occ.orm.versioned
class Node(Base):
    """post_update relationships both ways (a cycle SQLAlchemy breaks with a second UPDATE)."""

    __tablename__ = "occ_orm_nodes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(sa.String(20), default="")
    favorite_id: Mapped[int | None] = mapped_column(sa.ForeignKey("occ_orm_nodes.id"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("occ_orm_nodes.id"))
    version: Mapped[int | None]
    favorite: Mapped[Node | None] = relationship(
        remote_side=[id], foreign_keys=[favorite_id], post_update=True
    )
    children: Mapped[list[Node]] = relationship(
        foreign_keys=[parent_id], post_update=True, cascade="save-update"
    )


@occ.orm.versioned
class Account(Base):
    """A parent whose one-to-one profile is keyed by the account's key."""

    __tablename__ = "occ_orm_accounts"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(sa.String(50))
    version: Mapped[int | None]
    profile: Mapped[Profile | None] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )
    entries: Mapped[list[Entry]] = relationship(back_populates="account")


@occ.orm.versioned
class Profile(Base):
    __tablename__ = "occ_orm_profiles"
    id: Mapped[int] = mapped_column(sa.ForeignKey("occ_orm_accounts.id"), primary_key=True)
    bio: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[int | None]
    account: Mapped[Account] = relationship(back_populates="profile")


class Entry(Base):
    __tablename__ = "occ_orm_entries"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("occ_orm_accounts.id"))
    amount: Mapped[int]
    account: Mapped[Account] = relationship(back_populates="entries")


# -- SQLModel ---------------------------------------------------------------------------


class Note(SQLModel, table=True):
    """A SQLModel table model with a Python-side onupdate timestamp."""

    __tablename__ = "occ_orm_notes"
    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=100)
    edited_at: dt.datetime | None = Field(
        default=None, sa_type=Stamp, sa_column_kwargs={"onupdate": dt.datetime.now}
    )
    version: int | None = None


occ.orm.versioned(Note)

TABLES: list[Any] = [
    Doc.__table__,
    Event.__table__,
    Vehicle.__table__,
    Employee.__table__,
    Engineer.__table__,
    Manager.__table__,
    Shape.__table__,
    Circle.__table__,
    Node.__table__,
    Account.__table__,
    Profile.__table__,
    Entry.__table__,
]


def create_tables(engine: sa.Engine) -> None:
    """Drop and create every table of these models; forget earlier tests' tombstones."""
    Base.metadata.drop_all(engine, tables=TABLES)
    SQLModel.metadata.drop_all(engine, tables=[Note.__table__])  # type: ignore[list-item]
    Base.metadata.create_all(engine, tables=TABLES)
    SQLModel.metadata.create_all(engine, tables=[Note.__table__])  # type: ignore[list-item]
    clear_tombstones(engine)


def row(engine: sa.Engine, table: Any, key: Any) -> dict[str, Any] | None:
    """The row as stored now, read on a fresh connection."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(table).where(table.c.id == key)).mappings().first()
    return None if found is None else dict(found)
