"""The tables and collections one test's ``occ_repository`` creates, and only those, dropped after.

They live in a scratch database (a private database of the session, or a new
SQLite file); a table or collection that already exists there was not created
by this test and is refused, untouched.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from occ.errors import OCCError


class NotOwnedError(OCCError, RuntimeError):
    """``occ_repository`` would have to replace a table or collection it did not create."""


def tables_of(model: Any) -> list[sa.Table]:
    """The tables of ``model``: itself if a ``Table``, its mapper's tables if a mapped class."""
    if isinstance(model, sa.Table):
        return [model]
    try:
        mapper = sa.inspect(model)
    except sa.exc.NoInspectionAvailable:
        raise TypeError(f"occ_repository takes a Table or a mapped class, not {model!r}") from None
    return [t for t in mapper.tables if isinstance(t, sa.Table)]


def key_of(table: sa.Table) -> str:
    """The single primary-key column of ``table`` (the key of its dict values)."""
    keys = [c.key for c in table.primary_key.columns]
    if len(keys) != 1:
        raise TypeError(f"{table.name}: occ_repository needs a single-column primary key")
    return keys[0]


class Scratch:
    """Creates tables and collections on request, refuses existing ones, drops its own at close."""

    def __init__(self) -> None:
        self._engines: dict[str, sa.Engine] = {}
        self._tables: list[tuple[sa.Engine, sa.Table]] = []
        self._clients: dict[str, Any] = {}
        self._collections: list[Any] = []

    def engine(self, url: str) -> sa.Engine:
        """One engine per scratch database URL, disposed at :meth:`close`."""
        if url not in self._engines:
            self._engines[url] = sa.create_engine(url)
        return self._engines[url]

    def _owns(self, engine: sa.Engine, table: sa.Table) -> bool:
        return any(e is engine and t.name == table.name for e, t in self._tables)

    def create_tables(self, url: str, model: Any) -> sa.Engine:
        """Create the tables of ``model`` in the scratch database ``url``; its engine.

        Raises:
            NotOwnedError: a table has an explicit schema (it would land outside the
                scratch database) or already exists there; nothing was created.
        """
        engine = self.engine(url)
        tables = [t for t in tables_of(model) if not self._owns(engine, t)]
        existing = set(sa.inspect(engine).get_table_names())
        for table in tables:
            if table.schema is not None:
                raise NotOwnedError(
                    f"table {table.name!r} names schema {table.schema!r}: occ_repository "
                    "creates tables only in its own scratch database; drop the schema= "
                    "(or use schema_translate_map) for tests"
                )
            if table.name in existing:
                raise NotOwnedError(
                    f"table {table.name!r} already exists in the scratch database "
                    f"{engine.url.render_as_string(hide_password=True)} and occ_repository "
                    "did not create it: it is left as it is (nothing was dropped or changed)"
                )
        for table in tables:
            table.create(engine)
            self._tables.append((engine, table))
        return engine

    def collection(self, uri: str, table: sa.Table) -> Any:
        """The collection named like ``table`` in the default database of ``uri``, created empty.

        Raises:
            NotOwnedError: it already exists and was not created here (left as it is).
        """
        import pymongo

        if uri not in self._clients:
            self._clients[uri] = pymongo.MongoClient(uri)
        database = self._clients[uri].get_default_database()
        collection = database[table.name]
        if any(c.full_name == collection.full_name for c in self._collections):
            return collection
        if table.name in database.list_collection_names():
            raise NotOwnedError(
                f"collection {table.name!r} already exists in database {database.name!r} "
                "and occ_repository did not create it: it is left as it is"
            )
        database.create_collection(table.name)
        self._collections.append(collection)
        return collection

    def close(self) -> None:
        """Drop what was created here (last first), then close engines and clients."""
        import occ.sql

        try:
            for engine in self._engines.values():
                occ.sql.dispose(engine)  # the repositories' connections (and autocommit twin)
            for engine, table in reversed(self._tables):
                table.drop(engine, checkfirst=True)
            for collection in reversed(self._collections):
                collection.drop()
        finally:
            for engine in self._engines.values():
                engine.dispose()
            for client in self._clients.values():
                client.close()
            self._tables.clear()
            self._collections.clear()
            self._engines.clear()
            self._clients.clear()
