"""Where ``occ demo`` writes: occ's counters and the naive writer's twin, in SQL or MongoDB.

A target creates both tables (or collections) afresh with the sync driver,
and hands each mode (threads or tasks) its :class:`Writers`: occ's
repositories and the naive writer's unconditional write. Only ``occ_demo_*``
tables / collections (and, for ``--policy alert``, the conflict store
``occ_conflicts``) are touched. Drivers are imported when a target needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from occ._cli._common import (
    CliError,
    async_sql_url,
    connect_mongo,
    connect_sql,
    first_line,
    kind_of,
    safe_uri,
)

__all__ = ["COUNTER", "NAIVE", "MongoTarget", "SqlTarget", "Target", "Writers", "open_target"]

COUNTER = "occ_demo_counter"
NAIVE = "occ_demo_naive"


def _start_rows(rows: int, key: str) -> list[dict[str, Any]]:
    return [{key: k, "hits": 0, "token": "", "version": 1} for k in range(1, rows + 1)]


def _nothing() -> None:
    """Close nothing: the sync writers share the target's connections."""


@dataclass(frozen=True)
class Writers:
    """What the writers of one mode use; under ``--async`` each call returns an awaitable.

    Attributes:
        repository: ``repository(name, **options)``: an occ repository of table ``name``.
        overwrite: ``overwrite(key, values)``: the naive writer's unconditional write.
        close: release what the mode opened.
    """

    repository: Callable[..., Any]
    overwrite: Callable[[Any, Mapping[str, Any]], Any]
    close: Callable[[], Any]


class SqlTarget:
    """The demo's tables in a SQL database.

    Args:
        url: a SQLAlchemy URL (a file for SQLite: the writers need many connections).

    Raises:
        CliError: an in-memory SQLite URL, or a database that cannot be reached.
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        if url.startswith("sqlite") and sa.make_url(url).database in (None, "", ":memory:"):
            raise CliError(
                "an in-memory SQLite database is private to one connection and the writers "
                "need many: give a file, e.g. --url sqlite:///demo.db"
            )
        self.url = url
        self.engine = connect_sql(url)
        self.backend: str = self.engine.dialect.name
        self.shown: str = self.engine.url.render_as_string(hide_password=True)
        fields: dict[str, Any] = {"hits": sa.Integer, "token": sa.String(40), "version": sa.Integer}
        md = sa.MetaData()
        self.tables = {
            name: sa.Table(
                name,
                md,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                *(sa.Column(field, kind, nullable=False) for field, kind in fields.items()),
            )
            for name in (COUNTER, NAIVE)
        }
        naive = self.tables[NAIVE]
        self._overwrite = sa.update(naive).where(naive.c.id == sa.bindparam("key"))

    def reset(self, rows: int) -> None:
        """Create both tables afresh, each with ``rows`` counters at 0, version 1."""
        with self.engine.begin() as conn:
            for table in self.tables.values():
                table.drop(conn, checkfirst=True)
                table.create(conn)
                conn.execute(table.insert(), _start_rows(rows, "id"))

    def store(self) -> Any:
        """The conflict store table ``occ_conflicts``."""
        from occ.conflicts.sql import ConflictStore

        store = ConflictStore(self.engine)
        store.create()
        return store

    def writers(self, use_async: bool) -> Writers:
        """Repositories on the sync engine, or on an ``AsyncEngine`` for ``--async``."""
        import occ.sql

        if not use_async:
            repository = partial(self._repository, occ.sql.Repository, self.engine)
            return Writers(repository, self._write, _nothing)
        from sqlalchemy.ext.asyncio import create_async_engine

        url = async_sql_url(self.url)
        options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        try:
            engine = create_async_engine(url, **options)
        except Exception as exc:  # a missing async driver
            raise CliError(f"cannot use {self.shown} for --async: {first_line(exc)}") from exc
        return Writers(
            partial(self._repository, occ.sql.AsyncRepository, engine),
            partial(self._awrite, engine),
            partial(occ.sql.adispose, engine),
        )

    def _repository(self, cls: Any, engine: Any, name: str, **options: Any) -> Any:
        return cls(engine, self.tables[name], **options)

    def _write(self, key: Any, values: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._overwrite, {"key": key, **values})

    async def _awrite(self, engine: Any, key: Any, values: Mapping[str, Any]) -> None:
        async with engine.begin() as conn:
            await conn.execute(self._overwrite, {"key": key, **values})

    def close(self) -> None:
        """Release every connection of the sync engine."""
        import occ.sql

        occ.sql.dispose(self.engine)


class MongoTarget:
    """The demo's collections in the URI's database (default ``occ_demo``).

    Args:
        uri: a ``mongodb://`` URI.

    Raises:
        CliError: PyMongo is missing or the server does not answer.
    """

    backend = "mongodb"

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.shown = safe_uri(uri)
        self.client = connect_mongo(uri)
        self.db = self.client.get_default_database(default="occ_demo")

    def reset(self, rows: int) -> None:
        """Create both collections afresh, each with ``rows`` counters at 0, version 1."""
        for name in (COUNTER, NAIVE):
            self.db.drop_collection(name)
            self.db[name].insert_many(_start_rows(rows, "_id"))

    def store(self) -> Any:
        """The conflict store collection ``occ_conflicts``."""
        from occ.conflicts.mongo import ConflictStore

        store = ConflictStore(self.db["occ_conflicts"])
        store.create()
        return store

    def writers(self, use_async: bool) -> Writers:
        """Repositories on this client, or on a ``pymongo.AsyncMongoClient`` for ``--async``."""
        import occ.mongo

        client: Any = self.client
        cls: Any = occ.mongo.Repository
        if use_async:
            from pymongo import AsyncMongoClient

            client = AsyncMongoClient(self.uri, serverSelectionTimeoutMS=3000)
            cls = occ.mongo.AsyncRepository
        db = client[self.db.name]

        def repository(name: str, **options: Any) -> Any:
            return cls(db[name], **options)

        def overwrite(key: Any, values: Mapping[str, Any]) -> Any:
            return db[NAIVE].update_one({"_id": key}, {"$set": dict(values)})

        return Writers(repository, overwrite, client.close if use_async else _nothing)

    def close(self) -> None:
        """Close the sync client."""
        self.client.close()


Target = SqlTarget | MongoTarget


def open_target(url: str) -> Target:
    """The SQL or MongoDB target at ``url``, connected.

    Raises:
        CliError: the URL is unusable (see :mod:`occ._cli._common`).
    """
    return MongoTarget(url) if kind_of(url) == "mongo" else SqlTarget(url)
