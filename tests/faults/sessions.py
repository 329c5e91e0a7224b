"""Kill the server session behind a connection the test opened itself (never a server restart).

MariaDB: ``KILL CONNECTION <thread id>``; PostgreSQL:
``pg_terminate_backend(<pid>)``. The id comes from the connection object the
test holds (the driver knows it from the handshake: no round trip, nothing
sent on the connection about to die), so only that session can be killed.
The kill is issued from an admin connection of the killer's own, which
refuses to kill itself, and waits until the server has removed the session.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

__all__ = ["SessionKiller", "session_id"]


def _driver_connection(connection: Any) -> Any:
    """The driver's connection under a SQLAlchemy sync/async connection, or itself."""
    if hasattr(connection, "sync_connection"):  # sqlalchemy.ext.asyncio.AsyncConnection
        if connection.sync_connection is None:
            raise ValueError("the async connection is not started: use `async with`")
        connection = connection.sync_connection
    if isinstance(connection, sa.Connection):
        connection = connection.connection  # the pool's proxy; connects if needed
    return getattr(connection, "driver_connection", connection)


def session_id(connection: Any) -> int:
    """The server session id of an open connection.

    Args:
        connection: a ``sqlalchemy.Connection`` or ``AsyncConnection``, or a
            PyMySQL, aiomysql or psycopg (sync or async) connection.

    Returns:
        The MariaDB thread id or the PostgreSQL backend pid.

    Raises:
        TypeError: the connection is of no driver this module knows.
    """
    raw = _driver_connection(connection)
    info = getattr(raw, "info", None)
    if info is not None and hasattr(info, "backend_pid"):  # psycopg 3
        return int(info.backend_pid)
    thread_id = getattr(raw, "thread_id", None)  # PyMySQL, aiomysql
    if callable(thread_id):
        return int(thread_id())
    raise TypeError(f"cannot tell the server session of {type(raw).__name__}")


def _url_of(connection: Any) -> sa.URL:
    engine = getattr(connection, "engine", None)
    if engine is None:
        raise ValueError("pass url=: a driver connection does not say where it is connected")
    url: sa.URL = engine.url
    return url


def _sync_url(url: sa.URL) -> sa.URL:
    name = url.get_backend_name()
    driver = {"mysql": "pymysql", "mariadb": "pymysql", "postgresql": "psycopg"}.get(name)
    if driver is None:
        raise ValueError(f"sessions of {name!r} cannot be killed (MariaDB and PostgreSQL only)")
    return url.set(drivername=f"{name}+{driver}")


class SessionKiller:
    """Kills the server sessions of given connections, through admin connections of its own.

    Args:
        wait: seconds to wait for the server to remove a killed session.
    """

    def __init__(self, *, wait: float = 10.0) -> None:
        self.wait = wait
        self.killed: list[int] = []
        self._engines: dict[str, sa.Engine] = {}

    def _engine(self, url: sa.URL) -> sa.Engine:
        key = url.render_as_string(hide_password=False)
        if key not in self._engines:
            # Autocommit: PostgreSQL caches pg_stat_activity for a whole transaction.
            self._engines[key] = sa.create_engine(
                url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
            )
        return self._engines[key]

    def kill(self, connection: Any, *, url: str | sa.URL | None = None) -> int:
        """Kill the session of ``connection`` and wait until the server has dropped it.

        The connection object stays open on the client side; its next use
        fails with a connection error (SQLAlchemy invalidates it).

        Args:
            connection: an open connection the test made (see :func:`session_id`).
            url: where to connect to kill it; defaults to the connection's engine URL.
                Pass the server's own URL when the connection goes through a proxy.

        Returns:
            The session id killed.

        Raises:
            TimeoutError: the session was still there after ``wait`` seconds.
        """
        victim = session_id(connection)
        target = sa.make_url(url) if url is not None else _url_of(connection)
        engine = self._engine(_sync_url(target))
        postgres = engine.dialect.name == "postgresql"
        own = "SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()"
        alive = (
            "SELECT count(*) FROM pg_stat_activity WHERE pid = :id"
            if postgres
            else "SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID = :id"
        )
        with engine.connect() as admin:
            if admin.execute(sa.text(own)).scalar_one() == victim:
                raise ValueError(f"session {victim} is the killer's own")
            if postgres:
                admin.execute(sa.text("SELECT pg_terminate_backend(:id)"), {"id": victim})
            else:
                admin.exec_driver_sql(f"KILL CONNECTION {int(victim)}")
            deadline = time.monotonic() + self.wait
            while admin.execute(sa.text(alive), {"id": victim}).scalar_one():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"session {victim} still alive {self.wait}s after the kill")
                time.sleep(0.02)
        self.killed.append(victim)
        return victim

    def close(self) -> None:
        """Dispose of the admin engines."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
