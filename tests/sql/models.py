"""Models the SQL tests write: a declarative class, a dataclass-mapped class, a Table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A plain declarative model with an integer version."""

    __tablename__ = "occ_account"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(sa.String(50))
    balance: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(sa.String(200), default=None)
    version: Mapped[int | None] = mapped_column()


class DataBase(MappedAsDataclass, DeclarativeBase):
    pass


class Item(DataBase):
    """A dataclass-mapped model with a custom version column name and an autoincrement key."""

    __tablename__ = "occ_item"
    sku: Mapped[str] = mapped_column(sa.String(40))
    qty: Mapped[int] = mapped_column(default=0)
    id: Mapped[int | None] = mapped_column(primary_key=True, default=None)
    rev: Mapped[int | None] = mapped_column(default=None)


metadata = sa.MetaData()

#: a plain Table with a composite key; values are dicts.
stock = sa.Table(
    "occ_stock",
    metadata,
    sa.Column("warehouse", sa.String(20), primary_key=True),
    sa.Column("sku", sa.String(40), primary_key=True),
    sa.Column("qty", sa.Integer, nullable=False, default=0),
    sa.Column("version", sa.Integer),
)

#: timestamp versions: DATETIME(6) on MySQL/MariaDB keeps microseconds.
stamped = sa.Table(
    "occ_stamped",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body", sa.String(100)),
    sa.Column("updated", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")),
)

#: a timestamp column that drops microseconds on MySQL/MariaDB: refused there.
coarse = sa.Table(
    "occ_coarse",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("updated", sa.DateTime()),
)

#: another unique index beside the key.
users = sa.Table(
    "occ_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email", sa.String(100), unique=True),
    sa.Column("version", sa.Integer),
)

ALL_METADATA = (Base.metadata, DataBase.metadata, metadata)


def create_all(engine: sa.Engine) -> None:
    """Fresh test tables, and no tombstones left by earlier tests' deletes."""
    for md in ALL_METADATA:
        md.drop_all(engine)
        md.create_all(engine)
    clear_tombstones(engine)


def clear_tombstones(engine: sa.Engine) -> None:
    """Forget every deleted key's last version (tests re-create tables under old keys)."""
    from occ.sql._records import TOMBSTONES

    with engine.begin() as conn:
        TOMBSTONES.create(conn, checkfirst=True)
        conn.execute(TOMBSTONES.delete())


def row_count(engine: sa.Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
