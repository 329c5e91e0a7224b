"""Open an existing conflict store, and a repository of a conflict's entity, from a URL.

Opening never creates anything: a store that does not exist, or an entity
table without a version column, is reported before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from occ._cli._common import CliError, connect_mongo, connect_sql, kind_of

__all__ = ["ENV", "OpenStore", "load_model", "open_store", "store_url"]

#: the environment variable ``occ conflicts`` reads when ``--url`` is not given.
ENV = "OCC_CONFLICTS_URL"


@dataclass
class OpenStore:
    """A conflict store and what it needs to build repositories and close."""

    store: Any
    kind: str
    handle: Any  # the Engine or the MongoClient
    database: Any = None  # the Mongo database

    def repository(
        self, entity: str, table: str | None, version_column: str, model: Any = None
    ) -> Any:
        """A repository of the conflict's entity (its table or collection).

        Args:
            entity: the conflict's entity.
            table: its table or collection, when not named like the entity.
            version_column: its version column or field.
            model: the application's model (``--model``): values are written through
                its types exactly. Without it a SQL table is reflected (see
                :mod:`occ._cli._reflected`).

        Raises:
            CliError: the table does not exist or has no version column.
        """
        name = table or entity
        if self.kind == "mongo":
            import occ.mongo

            if name not in self.database.list_collection_names():
                raise CliError(f"collection {name!r} does not exist; pass --table")
            options: dict[str, Any] = {} if model is None else {"model": model}
            return occ.mongo.Repository(
                self.database[name], version_field=version_column, **options
            )
        import sqlalchemy as sa

        import occ.sql
        from occ._cli._doctor_sql import check_table
        from occ._cli._reflected import ReflectedRepository, reflect

        if model is not None:
            return occ.sql.Repository(self.handle, model, version_column=version_column)
        if table is None and not sa.inspect(self.handle).has_table(name):
            raise CliError(
                f"no table named {name!r} (the conflict's entity); pass --table with its table"
            )
        check = check_table(self.handle, name, version_column)
        if check.status == "fail":
            raise CliError(f"{check.name}: {check.found}; {check.advice}")
        reflected = reflect(self.handle, name)
        repo: Any = occ.sql.Repository(self.handle, reflected, version_column=version_column)
        return ReflectedRepository(repo, self.handle, reflected)

    def close(self) -> None:
        """Release connections."""
        if self.kind == "mongo":
            self.handle.close()
        else:
            import occ.sql

            occ.sql.dispose(self.handle)


def load_model(spec: str) -> Any:
    """The object ``module:attribute`` names (``--model``), imported from the working directory.

    Raises:
        CliError: the module or the attribute cannot be found.
    """
    import importlib
    import sys

    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(f"--model takes module:Class (e.g. app.models:Account), got {spec!r}")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"cannot import {module_name!r} for --model: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise CliError(f"{module_name!r} has no {attribute!r} (--model {spec})")
        found = getattr(found, part)
    return found


def store_url(url: str | None) -> str:
    """``--url``, else ``$OCC_CONFLICTS_URL``.

    Raises:
        CliError: neither is set.
    """
    found = url or os.environ.get(ENV)
    if not found:
        raise CliError(f"which conflict store? pass --url URL or set {ENV}")
    return found


def open_store(url: str, name: str, *, upgrading: bool = False) -> OpenStore:
    """Open the conflict store table / collection ``name`` at ``url``.

    Args:
        url: the store's database URL.
        name: its table or collection.
        upgrading: the caller adds missing columns (otherwise they are an error).

    Raises:
        CliError: unreachable, wrong scheme, no such store, or a table that needs upgrading.
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
    from occ.conflicts._sql_table import LATER_COLUMNS

    present = {c["name"] for c in sa.inspect(engine).get_columns(name)}
    missing = [c for c in LATER_COLUMNS if c not in present]
    if missing and not upgrading:
        engine.dispose()
        raise CliError(
            f"conflict store {name!r} lacks the columns {', '.join(missing)} of this release; "
            "run: occ conflicts upgrade"
        )
    return OpenStore(ConflictStore(engine, name), "sql", engine)
