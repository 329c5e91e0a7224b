"""Run one contract test through both drivers: ``Repository`` and ``AsyncRepository``.

The async repository is driven from a sync test through an event loop owned
by the fixture, so the same test body proves the same behaviour for both.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import occ.sql
from tests.backends import Backend


class Blocking:
    """A sync view of an AsyncRepository: each coroutine runs to completion on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, repo: Any) -> None:
        self._loop = loop
        self._repo = repo

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._repo, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(attr(*args, **kwargs))

        return call


@pytest.fixture(params=["sync", "async"])
def make_repo(
    request: pytest.FixtureRequest, backend: Backend, db: sa.Engine
) -> Iterator[Callable[..., Any]]:
    """``make_repo(model, **options)``: a repository of the driver under test."""
    if request.param == "sync":
        yield lambda model, **kw: occ.sql.Repository(db, model, **kw)
        return
    loop = asyncio.new_event_loop()
    kwargs = {"connect_args": {"timeout": 30}} if backend.name == "sqlite" else {}
    aengine = create_async_engine(backend.async_url, **kwargs)
    yield lambda model, **kw: Blocking(loop, occ.sql.AsyncRepository(aengine, model, **kw))
    loop.run_until_complete(occ.sql.adispose(aengine))
    loop.close()
