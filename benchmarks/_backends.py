"""Where the benchmark databases are, the table every SQL system writes, and engines.

MariaDB and PostgreSQL are the local servers unless ``OCC_MYSQL_URL`` /
``OCC_POSTGRES_URL`` name others (the same variables as the test suite). On
each server the run creates a database of its own, ``occ_bench_<UTC
time>_<random>``, and drops it at the end (:func:`private`); SQLite runs on a
new temporary file. With ``CI`` set, a database that cannot be made is an
error, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from occ.testing.databases import private_database

__all__ = [
    "IN_CI",
    "PREFIX",
    "SQL_BACKENDS",
    "TABLE",
    "OrmItem",
    "SQLBackend",
    "item_table",
    "make_engine",
    "private",
    "reset_rows",
    "tokens_table",
]

IN_CI = bool(os.environ.get("CI"))

#: the table (and Mongo collection) every system writes, in the run's own database.
TABLE = "occ_bench_item"
#: the start of the name of each database a run creates.
PREFIX = "occ_bench_"

metadata = sa.MetaData()

#: the row every SQL system updates: three data fields and an integer version.
item_table = sa.Table(
    TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("note", sa.String(200)),
    sa.Column("version", sa.Integer, nullable=False),
)


#: the same row with a token column (``token_column="occ_tokens"``: lost replies settle).
tokens_table = sa.Table(
    f"{TABLE}_tokens",
    metadata,
    *(sa.Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False,
                nullable=c.nullable) for c in item_table.columns),
    sa.Column("occ_tokens", sa.String(135)),
)  # fmt: skip


class _Base(DeclarativeBase):
    metadata = metadata


class OrmItem(_Base):
    """The same table through the ORM with ``version_id_col`` (SQLAlchemy's own OCC)."""

    __table__ = item_table
    __mapper_args__ = {"version_id_col": item_table.c.version}

    if TYPE_CHECKING:
        id: int
        name: str
        qty: int
        note: str | None
        version: int


@dataclass(frozen=True)
class SQLBackend:
    """A SQL backend: its name in the results and its URL."""

    name: str
    url: str
    #: pessimistic SELECT ... FOR UPDATE is meaningful (row locks).
    row_locks: bool

    @property
    def memory(self) -> bool:
        return self.name == "sqlite_memory"


def sql_backends() -> tuple[SQLBackend, ...]:
    """Every SQL backend, in the order they run, each naming its server (see :func:`private`)."""
    return (
        SQLBackend("sqlite_memory", "sqlite://", row_locks=False),
        SQLBackend("sqlite", "sqlite:///bench.sqlite3", row_locks=False),
        SQLBackend(
            "mariadb",
            os.environ.get("OCC_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"),
            row_locks=True,
        ),
        SQLBackend(
            "postgresql",
            os.environ.get(
                "OCC_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
            ),
            row_locks=True,
        ),
    )


@contextmanager
def private(backend: SQLBackend) -> Iterator[SQLBackend]:
    """``backend`` on a database of this run's own, dropped on exit (``:memory:`` as it is).

    Raises:
        occ.testing.databases.DatabaseUnavailableError: the server cannot be reached
            or refuses to create the database.
    """
    if backend.memory:
        yield backend
        return
    with private_database(backend.url, prefix=PREFIX) as url:
        yield replace(backend, url=url)


SQL_BACKENDS = tuple(b.name for b in sql_backends())


def make_engine(backend: SQLBackend, *, writers: int = 1) -> sa.Engine:
    """A plain engine, as an application would create it, sized for ``writers`` threads."""
    if backend.name == "sqlite_memory":
        # One connection shared by the thread: every system sees the same database.
        return sa.create_engine(backend.url, poolclass=sa.pool.SingletonThreadPool)
    if backend.name == "sqlite":
        return sa.create_engine(backend.url, connect_args={"timeout": 30})
    return sa.create_engine(backend.url, pool_size=max(5, writers + 2), max_overflow=4)


def reset_rows(
    engine: sa.Engine,
    first: int,
    count: int,
    *,
    create: bool = False,
    table: sa.Table = item_table,
) -> None:
    """(Re)create rows ``first .. first+count-1`` at version 1 (the tables too if ``create``)."""
    if create:
        metadata.drop_all(engine)
        metadata.create_all(engine)
    rows = [
        {"id": first + i, "name": f"item-{first + i}", "qty": 0, "note": "", "version": 1}
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.id.between(first, first + count - 1)))
        conn.execute(table.insert(), rows)
