"""The source service of the live example: profiles with an outbox, on SQL or MongoDB."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import occ.sql
from occ.sync import MongoOutboxReader, Outbox, OutboxReader

__all__ = ["MongoSource", "SQLSource", "make_source", "profile_table"]

#: the entity every event carries, whatever the source stores it in.
ENTITY = "profiles"


def profile_table(name: str, fields: Sequence[str] = ("name", "clicks")) -> sa.Table:
    """A profile table (a copy keeps only some ``fields``)."""
    columns = {
        "name": sa.Column("name", sa.String(80), nullable=False),
        "clicks": sa.Column("clicks", sa.Integer, nullable=False),
    }
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        *(columns[f] for f in fields),
        sa.Column("version", sa.Integer),
    )


class SQLSource:
    """Profiles in a SQL table; their events in an outbox table of the same database."""

    def __init__(self, url: str) -> None:
        sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"connect_args": {"timeout": 30}} if sqlite else {"pool_size": 20}
        self.engine = sa.create_engine(url, **options)
        suffix = uuid.uuid4().hex[:6]
        self.table = profile_table(f"live_profiles_{suffix}")
        self.table.create(self.engine)
        self.outbox = Outbox(table=f"live_outbox_{suffix}", entity=ENTITY)
        self.repo: Any = occ.sql.Repository(self.engine, self.table, outbox=self.outbox)
        self.key = "id"

    def reader(self) -> Any:
        return OutboxReader(self.engine, self.outbox.table)

    def close(self) -> None:
        with self.engine.begin() as conn:
            for name in (self.table.name, self.outbox.table, f"{self.outbox.table}_leases"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        self.engine.dispose()


class MongoSource:
    """Profiles in a MongoDB collection; their events in the documents themselves (a
    standalone server) or in the outbox collection in each write's transaction (a replica
    set)."""

    def __init__(self, uri: str) -> None:
        import pymongo

        import occ.mongo

        self.client: Any = pymongo.MongoClient(uri)
        self.db = self.client.get_default_database()
        suffix = uuid.uuid4().hex[:6]
        self.name = f"live_profiles_{suffix}"
        self.outbox = Outbox(table=f"live_outbox_{suffix}", entity=ENTITY)
        self.repo: Any = occ.mongo.Repository(self.db[self.name], outbox=self.outbox)
        self.key = "_id"

    def reader(self) -> Any:
        return MongoOutboxReader(self.db, self.outbox.table, collections=[self.name])

    def close(self) -> None:
        for name in (self.name, self.outbox.table, f"{self.outbox.table}_leases"):
            self.db.drop_collection(name)
        self.client.close()


def make_source(url: str | None, workdir: Path | None = None) -> SQLSource | MongoSource:
    """The source on ``url`` (default: a SQLite file in ``workdir`` or a temporary directory)."""
    if url is None:
        where = workdir or Path(tempfile.mkdtemp(prefix="occ-live-"))
        url = f"sqlite:///{where / 'accounts.db'}"
    if url.startswith(("mongodb://", "mongodb+srv://")):
        return MongoSource(url)
    return SQLSource(url)
