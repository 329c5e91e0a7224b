"""Killing the server session of a connection the test opened: MariaDB and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.backends import Backend
from tests.faults import Proxy, SessionKiller, session_id
from tests.faults.conftest import Probe

SERVER_ID = {"mariadb": "SELECT CONNECTION_ID()", "postgresql": "SELECT pg_backend_pid()"}


def test_session_id_is_the_servers_own_id_for_sync_and_async_connections(
    server: Backend,
) -> None:
    engine = sa.create_engine(server.url)
    with engine.connect() as conn:
        assert session_id(conn) == conn.execute(sa.text(SERVER_ID[server.name])).scalar_one()
        assert session_id(conn.connection.driver_connection) == session_id(conn)
    engine.dispose()


async def test_session_id_of_an_async_connection(server: Backend) -> None:
    engine = create_async_engine(server.async_url)
    async with engine.connect() as conn:
        expected = (await conn.execute(sa.text(SERVER_ID[server.name]))).scalar_one()
        assert session_id(conn) == expected
    await engine.dispose()


def test_killed_session_fails_its_next_statement_and_is_gone(
    server: Backend, session_killer: SessionKiller
) -> None:
    engine = sa.create_engine(server.url)
    with engine.connect() as conn:
        victim = session_killer.kill(conn)
        assert session_killer.killed == [victim]
        with pytest.raises(sa.exc.DBAPIError) as info:
            conn.execute(sa.text("SELECT 1"))
        assert info.value.connection_invalidated
    with engine.connect() as conn:  # the pool replaces the dead connection
        assert session_id(conn) != victim
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_killing_a_session_rolls_back_its_open_transaction(
    probe: Probe, session_killer: SessionKiller
) -> None:
    with probe.direct.connect() as conn:
        probe.bump(conn)  # inside the connection's transaction, not committed
        session_killer.kill(conn)
        with pytest.raises(sa.exc.DBAPIError):
            conn.commit()
    assert probe.n() == 0


def test_a_session_blocked_in_a_statement_is_killed_mid_statement(
    probe: Probe, session_killer: SessionKiller
) -> None:
    """A writer waiting for a row lock gets an error as soon as its session is killed."""
    engine = probe.engine(probe.backend.url)
    blocked = engine.connect()
    if probe.backend.name == "postgresql":
        blocked.execute(sa.text("SET lock_timeout = '20s'"))
    else:
        blocked.execute(sa.text("SET SESSION innodb_lock_wait_timeout = 20"))
    errors: list[BaseException] = []

    def write() -> None:
        try:
            probe.bump(blocked)
        except sa.exc.DBAPIError as exc:
            errors.append(exc)

    with probe.direct.connect() as holder:
        probe.bump(holder)  # holds the row lock
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(0.3)
        assert writer.is_alive()  # waiting for the lock
        began = time.monotonic()
        session_killer.kill(blocked)
        writer.join(10)
        assert not writer.is_alive()
        assert time.monotonic() - began < 10
        holder.rollback()
    assert len(errors) == 1
    assert probe.n() == 0
    blocked.close()
    engine.dispose()


def test_a_session_behind_a_proxy_is_killed_through_the_servers_own_url(
    probe: Probe, session_killer: SessionKiller
) -> None:
    with Proxy.for_url(probe.backend.url) as proxy:
        engine = probe.engine(proxy.url(probe.backend.url))
        with engine.connect() as conn:
            session_killer.kill(conn, url=probe.backend.url)
            with pytest.raises(sa.exc.DBAPIError):
                conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    assert proxy.alive_threads() == 0
