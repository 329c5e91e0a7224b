"""Fixtures of the MongoDB suite: one harness per client (PyMongo sync, PyMongo async, Motor).

Every test takes ``mongo`` and runs three times, once per client. Tests are
``async def``; the harness wraps the sync repository so the same test body
awaits every method whatever the client. Each test writes to its own
collection in the run's database (the default database of ``mongodb_uri``),
dropped afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pymongo
import pytest
from pymongo import monitoring, uri_parser

import occ.mongo
from tests.mongo.proxy import Proxy

CLIENTS = ("pymongo", "pymongo_async", "motor")
#: commands a driver sends on its own, not on behalf of an operation.
_BACKGROUND = frozenset({"endSessions", "hello", "isMaster", "ismaster", "ping"})
_METHODS = frozenset(
    {
        *("find", "get", "insert", "update", "save", "delete", "modify"),
        *("get_many", "query", "insert_many", "save_many", "update_many", "delete_many"),
        *("upsert", "upsert_many"),
    }
)


class CommandLog(monitoring.CommandListener):
    """Records the commands a client sends (PyMongo's CommandListener)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in _BACKGROUND:
            return
        with self._lock:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def clear(self) -> None:
        with self._lock:
            self.commands.clear()

    @property
    def names(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.commands]


class Repo:
    """A repository whose contract methods are awaitable whatever the client."""

    def __init__(self, inner: Any, is_async: bool) -> None:
        self.inner = inner
        self.is_async = is_async

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in _METHODS and not self.is_async:

            async def call(*args: Any, **kwargs: Any) -> Any:
                return attr(*args, **kwargs)

            return call
        return attr

    def bound(self, session: Any) -> Repo:
        """This repository joined to ``session``."""
        return Repo(self.inner.with_session(session), self.is_async)

    @asynccontextmanager
    async def transaction(self, **options: Any) -> AsyncIterator[Repo]:
        if self.is_async:
            async with self.inner.transaction(**options) as bound:
                yield Repo(bound, True)
        else:
            with self.inner.transaction(**options) as bound:
                yield Repo(bound, False)


class Mongo:
    """One client kind, its command log, and a fresh collection name per test."""

    def __init__(self, kind: str, client: Any, log: CommandLog, raw_db: Any, name: str) -> None:
        self.kind = kind
        self.client = client
        self.log = log
        self.is_async = kind != "pymongo"
        self.raw_db = raw_db
        self.database = raw_db.name
        self.name = name
        self._names = [name]

    def collection(self, name: str | None = None) -> Any:
        """The test's collection (or a sibling ``name``) through the client under test."""
        if name is not None and name not in self._names:
            self._names.append(name)
        return self.client[self.database][name or self.name]

    def raw(self, name: str | None = None) -> Any:
        """The same collection through a plain sync client (for inspecting what is stored)."""
        return self.raw_db[name or self.name]

    def repo(self, model: Any = None, *, collection: Any = None, **options: Any) -> Repo:
        coll = self.collection() if collection is None else collection
        cls = occ.mongo.AsyncRepository if self.is_async else occ.mongo.Repository
        return Repo(cls(coll, model, **options), self.is_async)

    async def run_transaction(
        self, body: Callable[[Any], Coroutine[Any, Any, Any]], **options: Any
    ) -> Any:
        """``occ.mongo.atransaction`` (async clients) or ``occ.mongo.transaction`` (PyMongo
        sync) over ``body(session)``: an async body, which never suspends on the sync client."""
        if self.is_async:
            return await occ.mongo.atransaction(self.client, body, **options)

        def run(session: Any) -> Any:
            coro = body(session)
            try:
                coro.send(None)
            except StopIteration as done:
                return done.value
            coro.close()
            raise AssertionError("the body suspended on a sync client")

        return occ.mongo.transaction(self.client, run, **options)

    def drop(self) -> None:
        for name in self._names:
            self.raw_db.drop_collection(name)


@pytest.fixture(scope="session")
def raw_client(mongodb_uri: str) -> Iterator[pymongo.MongoClient[dict[str, Any]]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_uri)
    yield client
    client.close()


def make_client(kind: str, uri: str, log: CommandLog) -> Any:
    if kind == "pymongo":
        return pymongo.MongoClient(uri, event_listeners=[log])
    if kind == "pymongo_async":
        return pymongo.AsyncMongoClient(uri, event_listeners=[log])
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(uri, event_listeners=[log])


async def close_client(kind: str, client: Any) -> None:
    if kind == "pymongo_async":
        await client.close()
    else:
        client.close()


@pytest.fixture(params=CLIENTS)
async def mongo(
    request: pytest.FixtureRequest, mongodb_uri: str, raw_client: Any
) -> AsyncIterator[Mongo]:
    """Each client in turn, with a command log and a collection of its own."""
    kind: str = request.param
    log = CommandLog()
    client = make_client(kind, mongodb_uri, log)
    raw_db = raw_client.get_default_database()
    harness = Mongo(kind, client, log, raw_db, f"t_{uuid.uuid4().hex[:12]}")
    try:
        yield harness
    finally:
        await close_client(kind, client)
        harness.drop()


@pytest.fixture
async def cut(mongo: Mongo, mongodb_uri: str) -> AsyncIterator[tuple[Mongo, Proxy]]:
    """The harness with its client going through a proxy that can cut connections
    (:mod:`tests.mongo.proxy`)."""
    host, port = uri_parser.parse_uri(mongodb_uri)["nodelist"][0]
    proxy = Proxy((host, port))
    log = CommandLog()
    client = make_client(mongo.kind, proxy.uri, log)
    original = mongo.client, mongo.log
    mongo.client, mongo.log = client, log
    try:
        yield mongo, proxy
    finally:
        mongo.client, mongo.log = original
        await close_client(mongo.kind, client)
        proxy.close()
