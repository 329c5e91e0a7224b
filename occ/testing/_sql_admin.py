"""Databases on a SQL server (MariaDB/MySQL, PostgreSQL) or SQLite files: reach, create, drop.

The names given here come from :func:`occ.testing.databases.private_name`
(letters, digits, ``_``) and are checked again before they reach a statement.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: seconds MariaDB waits for a lock before giving up on a DROP (never forever).
LOCK_WAIT_SECONDS = 30


def describe(url: str) -> str:
    """``url`` without its password, for messages."""
    return sa.make_url(url).render_as_string(hide_password=True)


def unreachable(url: str) -> str | None:
    """Why the database at ``url`` does not answer ``SELECT 1``, or ``None`` if it does."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect or to answer
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` on the same server, same driver and credentials."""
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _check(name: str) -> str:
    if not SAFE_NAME.match(name):
        raise ValueError(f"{name!r} is not a scratch database name (a-z, 0-9, _)")
    return name


def _admin_urls(url: str) -> list[sa.URL]:
    """Where to connect to run CREATE/DROP DATABASE: the server, not a database in it."""
    u = sa.make_url(url)
    if u.get_backend_name() == "postgresql":
        # PostgreSQL always connects to a database: the one named, else the maintenance ones.
        names = dict.fromkeys(n for n in (u.database, "postgres", "template1") if n)
        return [u.set(database=n) for n in names]
    return [u._replace(database=None)]  # URL.set(database=None) would keep the database


@contextmanager
def _admin(url: str) -> Iterator[sa.Connection]:
    """An autocommit connection to the server of ``url`` (CREATE DATABASE refuses transactions)."""
    failure: Exception | None = None
    for admin_url in _admin_urls(url):
        engine = sa.create_engine(
            admin_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
        )
        try:
            conn = engine.connect()
        except Exception as exc:  # this maintenance database may not exist: try the next
            failure = exc
            engine.dispose()
            continue
        try:
            if conn.dialect.name in ("mysql", "mariadb"):
                conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
            yield conn
        finally:
            conn.close()
            engine.dispose()
        return
    assert failure is not None
    raise failure


def list_names(url: str) -> list[str]:
    """Every database on the server of ``url``."""
    with _admin(url) as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql("SELECT datname FROM pg_database")
        else:
            rows = conn.exec_driver_sql("SHOW DATABASES")
        return [str(row[0]) for row in rows]


def create(url: str, name: str) -> None:
    """Create database ``name`` on the server of ``url``; fails if it exists."""
    with _admin(url) as conn:
        quoted = conn.dialect.identifier_preparer.quote(_check(name))
        conn.exec_driver_sql(f"CREATE DATABASE {quoted}")


def drop(url: str, name: str) -> None:
    """Drop database ``name`` on the server of ``url`` if it exists (its sessions ended)."""
    with _admin(url) as conn:
        quoted = conn.dialect.identifier_preparer.quote(_check(name))
        force = ""
        if conn.dialect.name == "postgresql" and (conn.dialect.server_version_info or ()) >= (13,):
            force = " WITH (FORCE)"  # a leaked connection must not keep the database alive
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")


def sqlite_file(url: str, name: str) -> tuple[str, str]:
    """A new SQLite file for database ``name``: its URL (same driver) and its directory."""
    directory = tempfile.mkdtemp(prefix=f"{_check(name)}-")
    path = os.path.join(directory, f"{name}.sqlite3")
    return sa.make_url(url).set(database=path).render_as_string(hide_password=False), directory
