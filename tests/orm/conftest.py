"""Fixtures of the ORM adoption tests: tables, and sessions or repositories of both modes.

A test body written against a sync ``Session`` (or ``Repository``) runs for the
async twin too: each coroutine method of the ``AsyncSession`` or
``AsyncRepository`` runs to completion on a loop owned by the fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

import occ.sql
from tests.backends import Backend
from tests.orm.models import create_tables
from tests.sql.drivers import Blocking


@pytest.fixture
def tdb(engine: sa.Engine) -> sa.Engine:
    """The sync engine, every model's table freshly created."""
    create_tables(engine)
    return engine


class Modes:
    """Sessions and repositories of one mode (sync, or async run to completion)."""

    def __init__(self, mode: str, backend: Backend, engine: sa.Engine) -> None:
        self.mode = mode
        self.engine = engine
        self._closing: list[Callable[[], Any]] = []
        if mode == "async":
            self.loop = asyncio.new_event_loop()
            kwargs = {"connect_args": {"timeout": 30}} if backend.name == "sqlite" else {}
            self.aengine = create_async_engine(backend.async_url, **kwargs)

    def session(self) -> Any:
        """A new session, objects kept loaded after commit (as async code needs)."""
        if self.mode == "sync":
            session = Session(self.engine, expire_on_commit=False)
            self._closing.append(session.close)
            return session
        asession = AsyncSession(self.aengine, expire_on_commit=False)
        blocking = Blocking(self.loop, asession)
        self._closing.append(blocking.close)
        return blocking

    def repo(self, model: Any, **options: Any) -> Any:
        if self.mode == "sync":
            return occ.sql.Repository(self.engine, model, **options)
        return Blocking(self.loop, occ.sql.AsyncRepository(self.aengine, model, **options))

    def close(self) -> None:
        for close in reversed(self._closing):
            close()
        if self.mode == "async":
            self.loop.run_until_complete(occ.sql.adispose(self.aengine))
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def modes(request: pytest.FixtureRequest, backend: Backend, tdb: sa.Engine) -> Iterator[Modes]:
    """Sessions and repositories of the mode under test, on the backend under test."""
    found = Modes(request.param, backend, tdb)
    yield found
    found.close()
