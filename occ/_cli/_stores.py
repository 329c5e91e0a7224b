"""Open an existing conflict store, and a repository of a conflict's entity, from a URL.

Opening never creates anything: a store that does not exist, or an entity
table without a version column, is reported before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from occ._cli._common import CliError, connect_mongo, connect_sql, kind_of

__all__ = ["ENV", "OpenStore", "open_store"]

#: the environment variable ``occ conflicts`` reads when ``--url`` is not given.
ENV = "OCC_CONFLICTS_URL"


@dataclass
class OpenStore:
    """A conflict store and what it needs to build repositories and close."""

    store: Any
    kind: str
    handle: Any  # the Engine or the MongoClient
    database: Any = None  # the Mongo database

    def repository(self, entity: str, table: str | None, version_column: str) -> Any:
        """A repository of the conflict's entity (its table or collection).

        Raises:
            CliError: the table does not exist or has no version column.
        """
        name = table or entity
        if self.kind == "mongo":
            import occ.mongo

            if name not in self.database.list_collection_names():
                raise CliError(f"collection {name!r} does not exist; pass --table")
            return occ.mongo.Repository(self.database[name], version_field=version_column)
        import sqlalchemy as sa

        import occ.sql
        from occ._cli._doctor_sql import check_table

        if table is None and not sa.inspect(self.handle).has_table(name):
            raise CliError(
                f"no table named {name!r} (the conflict's entity); pass --table with its table"
            )
        check = check_table(self.handle, name, version_column)
        if check.status == "fail":
            raise CliError(f"{check.name}: {check.found}; {check.advice}")
        reflected = sa.Table(name, sa.MetaData(), autoload_with=self.handle)
        return occ.sql.Repository(self.handle, reflected, version_column=version_column)

    def close(self) -> None:
        """Release connections."""
        if self.kind == "mongo":
            self.handle.close()
        else:
            import occ.sql

            occ.sql.dispose(self.handle)


def store_url(url: str | None) -> str:
    """``--url``, else ``$OCC_CONFLICTS_URL``.

    Raises:
        CliError: neither is set.
    """
    found = url or os.environ.get(ENV)
    if not found:
        raise CliError(f"which conflict store? pass --url URL or set {ENV}")
    return found


def open_store(url: str, name: str) -> OpenStore:
    """Open the conflict store table / collection ``name`` at ``url``.

    Raises:
        CliError: unreachable, wrong scheme, or no such store.
    """
    if kind_of(url) == "mongo":
        from occ.conflicts.mongo import ConflictStore as MongoStore

        client = connect_mongo(url)
        db = client.get_default_database(default="occ_demo")
        if name not in db.list_collection_names():
            client.close()
            raise CliError(f"no conflict store: collection {name!r} does not exist in {db.name!r}")
        return OpenStore(MongoStore(db[name]), "mongo", client, db)
    import sqlalchemy as sa

    from occ.conflicts.sql import ConflictStore

    engine = connect_sql(url)
    if not sa.inspect(engine).has_table(name):
        engine.dispose()
        raise CliError(
            f"no conflict store: table {name!r} does not exist (conflicts are stored there by "
            "Alert(store) or Discard(archive=store); see ConflictStore.create)"
        )
    return OpenStore(ConflictStore(engine, name), "sql", engine)
