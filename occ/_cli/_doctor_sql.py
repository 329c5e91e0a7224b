"""``occ doctor`` on a SQL database: server, isolation, rowcount, RETURNING, timestamps,
and the cluster or replication it is part of (:mod:`occ._cli._doctor_topology`).

Everything it writes goes to one scratch table, ``occ_doctor_<random>``,
created at the start and dropped at the end.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from occ._cli._checks import Check, failed, passed, warned
from occ._cli._common import CliError, first_line
from occ._cli._doctor_topology import topology_checks

__all__ = ["check_table", "sql_checks"]

_MYSQL = ("mysql", "mariadb")


def _is_mariadb(engine: sa.Engine) -> bool:
    return bool(getattr(engine.dialect, "is_mariadb", False))


def _version_text(conn: sa.Connection) -> str:
    name = conn.dialect.name
    if name == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    if name in _MYSQL:
        text = str(conn.execute(sa.text("SELECT VERSION()")).scalar_one())
        return ("MariaDB " if "mariadb" in text.lower() else "MySQL ") + text
    return str(conn.execute(sa.text("SELECT version()")).scalar_one()).split(" on ")[0]


def _server(engine: sa.Engine, conn: sa.Connection) -> Check:
    found = _version_text(conn)
    info = tuple(engine.dialect.server_version_info or ())
    name = engine.dialect.name
    if name == "sqlite" and info < (3, 35):
        return warned(
            "server version",
            found,
            "SQLite < 3.35 has no RETURNING: update() needs a read-back; upgrade Python's sqlite3",
        )
    if name in _MYSQL and not _is_mariadb(engine) and info < (8, 0):
        return warned("server version", found, "MySQL 5.7 is end-of-life; occ is tested on 8.0+")
    if name == "postgresql" and info < (13,):
        return warned("server version", found, "PostgreSQL < 13 is end-of-life; upgrade")
    return passed("server version", found)


def _isolation(conn: sa.Connection) -> Check:
    level = str(conn.get_isolation_level())
    name = conn.dialect.name
    if level == "READ UNCOMMITTED":
        return warned(
            "isolation level",
            level,
            "occ's conditional writes stay safe, but reads may see uncommitted data that is "
            "rolled back later: use READ COMMITTED or stronger",
        )
    if name == "postgresql" and level in ("REPEATABLE READ", "SERIALIZABLE"):
        advice = "serialization failures (SQLSTATE 40001) are reported as conflicts and retried"
    elif name in _MYSQL and level == "REPEATABLE READ":
        advice = (
            "the check lives in the write and every retry reads in a fresh transaction, "
            "so InnoDB's old snapshots do no harm"
        )
    else:
        advice = ""
    return passed("isolation level", level, advice)


def _scratch_table(engine: sa.Engine) -> sa.Table:
    name = f"occ_doctor_{uuid.uuid4().hex[:8]}"
    fine = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("note", sa.String(20), nullable=False),
        sa.Column("fine", fine),
        sa.Column("coarse", sa.DateTime),
    )


def _rowcount(engine: sa.Engine, t: sa.Table) -> Check:
    name = "matched rowcount"
    if not engine.dialect.supports_sane_rowcount:
        return failed(
            name,
            f"the {engine.dialect.name} driver reports no reliable rowcount",
            "occ detects a stale write by its rowcount: use a driver with sane rowcounts",
        )
    with engine.begin() as conn:
        conn.execute(t.insert().values(id=1, version=1, note="same"))
    with engine.begin() as conn:
        noop = conn.execute(t.update().where(t.c.id == 1).values(note="same")).rowcount
        fresh = conn.execute(
            t.update().where(t.c.id == 1, t.c.version == 1).values(version=2)
        ).rowcount
        stale = conn.execute(
            t.update().where(t.c.id == 1, t.c.version == 1).values(version=3)
        ).rowcount
    found = f"no-op UPDATE: {noop}, versioned UPDATE: {fresh}, stale UPDATE: {stale}"
    if (fresh, stale) != (1, 0):
        return failed(
            name,
            found,
            "a versioned UPDATE must report 1 row and a stale one 0: occ cannot tell a conflict "
            "from a success here; check proxies and custom connection code",
        )
    if noop != 1:
        return failed(
            name,
            found,
            "rowcount reports changed rows, not matched rows: the connection lacks "
            "CLIENT_FOUND_ROWS (a create_engine(creator=...) or a proxy dropped it). occ "
            "always changes the version, so its own writes count right, but other code "
            "reading rowcount will not: create connections with "
            "client_flag=pymysql.constants.CLIENT.FOUND_ROWS",
        )
    return passed(name, found)


def _returning(engine: sa.Engine, t: sa.Table) -> Check:
    name = "UPDATE ... RETURNING"
    if not engine.dialect.update_returning:
        return warned(
            name,
            "not supported",
            "update() reads the row it just locked back in the same transaction: one more "
            "round trip (save() and delete() stay one statement)",
        )
    with engine.begin() as conn:
        got = conn.execute(
            t.update().where(t.c.id == 1).values(version=t.c.version + 1).returning(t.c.version)
        ).scalar_one()
    if got != 3:
        return failed(name, f"returned {got!r}, expected 3", "report this database to occ")
    return passed(name, "supported: update() is one statement")


def _timestamps(engine: sa.Engine, t: sa.Table) -> Check:
    name = "timestamp precision"
    stamp = dt.datetime(2024, 5, 17, 12, 30, 45, 123456)
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == 1).values(fine=stamp, coarse=stamp))
        fine, coarse = conn.execute(sa.select(t.c.fine, t.c.coarse).where(t.c.id == 1)).one()
    if fine != stamp:
        return warned(
            name,
            f"stored {stamp.isoformat()} as {fine}",
            "timestamps lose microseconds: two writes in one second would share a version; "
            "use integer versions (the default)",
        )
    if coarse != stamp:
        return passed(
            name,
            "microseconds kept by DATETIME(6); plain DATETIME drops them",
            "declare timestamp version columns as DATETIME(6) (occ refuses coarser ones)",
        )
    return passed(name, "microseconds kept")


def _snapshot_isolation(conn: sa.Connection) -> Check:
    name = "innodb_snapshot_isolation"
    row = conn.execute(sa.text("SHOW VARIABLES LIKE 'innodb_snapshot_isolation'")).first()
    if row is None:
        return passed(
            name,
            "absent (an older MariaDB)",
            "occ's conditional writes do not depend on it",
        )
    if str(row[1]).upper() == "ON":
        return passed(
            name,
            "ON",
            "a stale write in a REPEATABLE READ transaction fails with error 1020; occ "
            "reports it as a conflict",
        )
    return warned(
        name,
        "OFF",
        "occ's writes are safe, but other code that reads then writes in one REPEATABLE READ "
        "transaction can lose updates; SET GLOBAL innodb_snapshot_isolation=ON (the default "
        "from MariaDB 11.6)",
    )


def check_table(engine: sa.Engine, table: str, version_column: str) -> Check:
    """Check that ``table`` has a usable version column.

    Raises:
        CliError: the table does not exist or has no such column (nothing is written).
    """
    inspector = sa.inspect(engine)
    if not inspector.has_table(table):
        raise CliError(f"table {table!r} does not exist in {engine.url.database or 'the database'}")
    columns = {c["name"]: c for c in inspector.get_columns(table)}
    if version_column not in columns:
        raise CliError(
            f"table {table!r} has no version column {version_column!r} (columns: "
            f"{', '.join(columns)}); add one: ALTER TABLE {table} ADD COLUMN {version_column} "
            "INTEGER NOT NULL DEFAULT 1, or pass --version-column"
        )
    kind = columns[version_column]["type"]
    name = f"table {table}"
    if isinstance(kind, sa.Integer):
        return passed(name, f"version column {version_column} {kind}")
    if isinstance(kind, sa.DateTime):
        return warned(
            name,
            f"version column {version_column} {kind} (a timestamp)",
            "pass version_type='timestamp' to the repository; integer versions cannot collide",
        )
    return failed(
        name,
        f"version column {version_column} is {kind}",
        "a version column must be an INTEGER (or a DATETIME with microseconds)",
    )


def sql_checks(engine: sa.Engine) -> list[Check]:
    """Run every SQL check; the scratch table is dropped whatever happens."""
    with engine.connect() as conn:
        checks = [_server(engine, conn), _isolation(conn)]
        if _is_mariadb(engine):
            checks.append(_snapshot_isolation(conn))
        checks += topology_checks(conn)
        conn.rollback()
    t = _scratch_table(engine)
    try:
        t.create(engine)
    except Exception as exc:  # no CREATE privilege, read-only database
        checks.append(
            failed(
                "scratch table",
                f"cannot create {t.name}: {first_line(exc)}",
                "run occ doctor as a user that may create and drop a table",
            )
        )
        return checks
    try:
        checks += [_rowcount(engine, t), _returning(engine, t), _timestamps(engine, t)]
    finally:
        t.drop(engine, checkfirst=True)
    return checks
