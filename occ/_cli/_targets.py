"""Where ``occ demo`` writes: two counters tables (or collections), occ's and the naive writer's.

Each target creates both afresh, builds occ's repository with the chosen
policy, and gives the naive writer its two statements: a plain read, then an
unconditional write of what it computed in Python. Only ``occ_demo_*`` tables
/ collections (and, for ``--policy alert``, the conflict store) are touched.
"""

from __future__ import annotations

from typing import Any

from occ._cli._common import CliError, connect_mongo, connect_sql
from occ.testing import State

__all__ = ["COUNTER", "NAIVE", "MongoTarget", "SqlTarget", "Target"]

COUNTER = "occ_demo_counter"
NAIVE = "occ_demo_naive"
#: the value every key starts from.
START: dict[str, Any] = {"hits": 0, "token": ""}


class SqlTarget:
    """The demo's two tables in a SQL database (SQLite, MariaDB/MySQL, PostgreSQL).

    Args:
        url: a SQLAlchemy URL.
    """

    kind = "sql"

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.url = url
        if url.startswith("sqlite") and sa.make_url(url).database in (None, "", ":memory:"):
            raise CliError(
                "an in-memory SQLite database is private to one connection and the writers "
                "need many: give a file, e.g. --url sqlite:///demo.db"
            )
        self.engine = connect_sql(url)
        md = sa.MetaData()
        self.tables = {
            name: sa.Table(
                name,
                md,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("hits", sa.Integer, nullable=False),
                sa.Column("token", sa.String(40), nullable=False),
                sa.Column("version", sa.Integer),
            )
            for name in (COUNTER, NAIVE)
        }
        self.naive = self.tables[NAIVE]
        self._naive_read = sa.select(self.naive.c.hits, self.naive.c.version).where(
            self.naive.c.id == sa.bindparam("k")
        )
        self._naive_write = (
            sa.update(self.naive)
            .where(self.naive.c.id == sa.bindparam("k"))
            .values(hits=sa.bindparam("h"), token=sa.bindparam("t"), version=sa.bindparam("v"))
        )

    def reset(self, rows: int) -> None:
        """Create both tables afresh, each with ``rows`` counters at 0, version 1."""
        with self.engine.begin() as conn:
            for table in self.tables.values():
                table.drop(conn, checkfirst=True)
                table.create(conn)
                conn.execute(
                    table.insert(), [{"id": k, **START, "version": 1} for k in range(1, rows + 1)]
                )

    def store(self) -> Any:
        """The conflict store ``--policy alert`` persists to (created if missing)."""
        from occ.conflicts.sql import ConflictStore

        store = ConflictStore(self.engine)
        store.create()
        return store

    def repository(self, policy: Any, retry: Any) -> Any:
        """occ's repository of the counter table."""
        import occ.sql

        return occ.sql.Repository(self.engine, self.tables[COUNTER], policy=policy, retry=retry)

    def naive_read(self, key: int) -> tuple[int, int]:
        """The naive writer's read: hits and version, no guard."""
        with self.engine.connect() as conn:
            hits, version = conn.execute(self._naive_read, {"k": key}).one()
            conn.commit()
        return int(hits), int(version)

    def naive_write(self, key: int, hits: int, token: str, version: int) -> None:
        """The naive writer's write: whatever it computed, unconditionally."""
        with self.engine.begin() as conn:
            conn.execute(self._naive_write, {"k": key, "h": hits, "t": token, "v": version})

    def final(self, name: str, rows: int) -> dict[Any, State]:
        """Each key's stored state in table ``name``."""
        table = self.tables[name]
        with self.engine.connect() as conn:
            found = conn.execute(table.select().order_by(table.c.id)).mappings().all()
        return {
            row["id"]: State(row["version"], {"hits": row["hits"], "token": row["token"]})
            for row in found
        }

    def close(self) -> None:
        """Release every connection."""
        import occ.sql

        occ.sql.dispose(self.engine)


class MongoTarget:
    """The demo's two collections in MongoDB (the URI's database, else ``occ_demo``).

    Args:
        uri: a ``mongodb://`` URI.
    """

    kind = "mongo"

    def __init__(self, uri: str) -> None:
        self.url = uri
        self.client = connect_mongo(uri)
        default = self.client.get_default_database(default="occ_demo")
        self.db_name: str = default.name
        self.db = default
        self.naive = self.db[NAIVE]

    def reset(self, rows: int) -> None:
        """Create both collections afresh, each with ``rows`` counters at 0, version 1."""
        for name in (COUNTER, NAIVE):
            self.db.drop_collection(name)
            self.db[name].insert_many(
                [{"_id": k, **START, "version": 1} for k in range(1, rows + 1)]
            )

    def store(self) -> Any:
        """The MongoDB conflict store, or ``None`` while occ has none."""
        try:
            from occ.conflicts.mongo import ConflictStore
        except ImportError:
            return None
        store = ConflictStore(self.db["occ_conflicts"])
        store.create()
        return store

    def repository(self, policy: Any, retry: Any) -> Any:
        """occ's repository of the counter collection."""
        import occ.mongo

        return occ.mongo.Repository(self.db[COUNTER], policy=policy, retry=retry)

    def naive_read(self, key: int) -> tuple[int, int]:
        """The naive writer's read: hits and version, no guard."""
        doc = self.naive.find_one({"_id": key})
        if doc is None:  # pragma: no cover - the demo never deletes
            raise CliError(f"{NAIVE} {key} vanished")
        return int(doc["hits"]), int(doc["version"])

    def naive_write(self, key: int, hits: int, token: str, version: int) -> None:
        """The naive writer's write: whatever it computed, unconditionally."""
        self.naive.update_one(
            {"_id": key}, {"$set": {"hits": hits, "token": token, "version": version}}
        )

    def final(self, name: str, rows: int) -> dict[Any, State]:
        """Each key's stored state in collection ``name``."""
        return {
            doc["_id"]: State(doc["version"], {"hits": doc["hits"], "token": doc["token"]})
            for doc in self.db[name].find().sort("_id", 1)
        }

    def close(self) -> None:
        """Close the client."""
        self.client.close()


Target = SqlTarget | MongoTarget
