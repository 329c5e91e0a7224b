"""The async side of the demo's targets (``occ demo --async``).

Tables and collections are set up and read back by the sync target; the
writers (occ's repository and the naive writer) run on the async driver:
aiosqlite / aiomysql / psycopg, or ``pymongo.AsyncMongoClient``.
"""

from __future__ import annotations

from typing import Any

from occ._cli._common import CliError, async_sql_url, first_line
from occ._cli._targets import COUNTER, NAIVE, MongoTarget, SqlTarget, Target

__all__ = ["AsyncMongoWriters", "AsyncSqlWriters", "AsyncWriters", "async_writers"]


class AsyncSqlWriters:
    """occ's ``AsyncRepository`` and the naive writer over an ``AsyncEngine``."""

    def __init__(self, target: SqlTarget) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        self.target = target
        url = async_sql_url(target.url)
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        try:
            self.engine = create_async_engine(url, **kwargs)
        except Exception as exc:  # a missing async driver
            raise CliError(f"cannot use {url} for --async: {first_line(exc)}") from exc

    def repository(self, policy: Any, retry: Any) -> Any:
        """occ's async repository of the counter table."""
        import occ.sql

        return occ.sql.AsyncRepository(
            self.engine, self.target.tables[COUNTER], policy=policy, retry=retry
        )

    async def naive_read(self, key: int) -> tuple[int, int]:
        """The naive writer's read: hits and version, no guard."""
        async with self.engine.connect() as conn:
            result = await conn.execute(self.target._naive_read, {"k": key})
            hits, version = result.one()
            await conn.commit()
        return int(hits), int(version)

    async def naive_write(self, key: int, hits: int, token: str, version: int) -> None:
        """The naive writer's write: whatever it computed, unconditionally."""
        async with self.engine.begin() as conn:
            await conn.execute(
                self.target._naive_write, {"k": key, "h": hits, "t": token, "v": version}
            )

    async def close(self) -> None:
        """Release every connection."""
        import occ.sql

        await occ.sql.adispose(self.engine)


class AsyncMongoWriters:
    """occ's async repository and the naive writer over ``pymongo.AsyncMongoClient``."""

    def __init__(self, target: MongoTarget) -> None:
        from pymongo import AsyncMongoClient

        self.target = target
        self.client: Any = AsyncMongoClient(target.url, serverSelectionTimeoutMS=3000)
        self.db = self.client[target.db_name]

    def repository(self, policy: Any, retry: Any) -> Any:
        """occ's async repository of the counter collection."""
        import occ.mongo

        return occ.mongo.AsyncRepository(self.db[COUNTER], policy=policy, retry=retry)

    async def naive_read(self, key: int) -> tuple[int, int]:
        """The naive writer's read: hits and version, no guard."""
        doc = await self.db[NAIVE].find_one({"_id": key})
        if doc is None:  # pragma: no cover - the demo never deletes
            raise CliError(f"{NAIVE} {key} vanished")
        return int(doc["hits"]), int(doc["version"])

    async def naive_write(self, key: int, hits: int, token: str, version: int) -> None:
        """The naive writer's write: whatever it computed, unconditionally."""
        await self.db[NAIVE].update_one(
            {"_id": key}, {"$set": {"hits": hits, "token": token, "version": version}}
        )

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()


AsyncWriters = AsyncSqlWriters | AsyncMongoWriters


def async_writers(target: Target) -> AsyncWriters:
    """The async writers for ``target``."""
    if isinstance(target, SqlTarget):
        return AsyncSqlWriters(target)
    return AsyncMongoWriters(target)
