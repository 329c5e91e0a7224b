"""Where the benchmark databases are, the table every SQL system writes, and engines.

MariaDB and PostgreSQL default to the local ``occ_bench`` databases and follow
``OCC_MYSQL_URL`` / ``OCC_POSTGRES_URL`` when set (the same variables as the
test suite). With ``CI`` set, an unreachable database is an error, not a skip.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from occ.testing.databases import unreachable

__all__ = [
    "IN_CI",
    "SQL_BACKENDS",
    "TABLE",
    "OrmItem",
    "SQLBackend",
    "drop_table",
    "item_table",
    "make_engine",
    "reset_rows",
    "unreachable",
]

IN_CI = bool(os.environ.get("CI"))

#: the table (and Mongo collection) the benchmark owns: it drops and recreates it.
#: The smoke test sets a name of its own, so it never touches a full run's table.
TABLE = os.environ.get("OCC_BENCH_TABLE", "occ_bench_item")

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


def _sqlite_file_url() -> str:
    directory = tempfile.mkdtemp(prefix="occ-bench-")
    return f"sqlite:///{os.path.join(directory, 'bench.sqlite3')}"


def sql_backends() -> tuple[SQLBackend, ...]:
    """Every SQL backend, in the order they run."""
    return (
        SQLBackend("sqlite_memory", "sqlite://", row_locks=False),
        SQLBackend("sqlite", _sqlite_file_url(), row_locks=False),
        SQLBackend(
            "mariadb",
            os.environ.get("OCC_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/occ_bench"),
            row_locks=True,
        ),
        SQLBackend(
            "postgresql",
            os.environ.get(
                "OCC_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/occ_bench"
            ),
            row_locks=True,
        ),
    )


SQL_BACKENDS = tuple(b.name for b in sql_backends())


def make_engine(backend: SQLBackend, *, writers: int = 1) -> sa.Engine:
    """A plain engine, as an application would create it, sized for ``writers`` threads."""
    if backend.name == "sqlite_memory":
        # One connection shared by the thread: every system sees the same database.
        return sa.create_engine(backend.url, poolclass=sa.pool.SingletonThreadPool)
    if backend.name == "sqlite":
        return sa.create_engine(backend.url, connect_args={"timeout": 30})
    return sa.create_engine(backend.url, pool_size=max(5, writers + 2), max_overflow=4)


def drop_table(engine: sa.Engine) -> None:
    """Drop the benchmark's table (after a smoke run)."""
    metadata.drop_all(engine)


def reset_rows(engine: sa.Engine, first: int, count: int, *, create: bool = False) -> None:
    """(Re)create rows ``first .. first+count-1`` at version 1 (the table too if ``create``)."""
    if create:
        metadata.drop_all(engine)
        metadata.create_all(engine)
    rows = [
        {"id": first + i, "name": f"item-{first + i}", "qty": 0, "note": "", "version": 1}
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(item_table.delete().where(item_table.c.id.between(first, first + count - 1)))
        conn.execute(item_table.insert(), rows)
