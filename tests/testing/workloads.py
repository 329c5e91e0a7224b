"""Tables and writers the occ.testing tests run: an occ counter, and a naive one.

The naive writer reads, changes the value in Python and writes it back with an
unconditional UPDATE: exactly the lost update occ exists to prevent. It calls
``checkpoint`` at the same named points as the core flow, so schedules drive it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from occ.testing import (
    AsyncWorkload,
    State,
    Workload,
    Written,
    acheckpoint,
    checkpoint,
)

metadata = sa.MetaData()

counters = sa.Table(
    "occ_t5_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("token", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer),
)

pairs = sa.Table(
    "occ_t5_pair",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("a", sa.Integer),
    sa.Column("b", sa.String(20)),
    sa.Column("version", sa.Integer),
)

KEYS = (1, 2)


def create_tables(engine: sa.Engine) -> None:
    metadata.drop_all(engine)
    metadata.create_all(engine)


def new_counter(key: Any) -> dict[str, Any]:
    return {"id": key, "count": 0, "token": ""}


def _state(row: Any) -> State | None:
    if row is None:
        return None
    count, token, version = row
    return State(version, {"count": count, "token": token})


def _select(key: Any) -> Any:
    c = counters.c
    return sa.select(c.count, c.token, c.version).where(c.id == key)


def naive_workload(engine: sa.Engine) -> Workload:
    """Read, add one in Python, UPDATE without a version check."""

    def write(key: Any, token: str) -> Written:
        with engine.connect() as conn:
            old, _, version = conn.execute(_select(key)).one()
        checkpoint("after_read", key)
        count = old + 1
        checkpoint("before_write", key)
        with engine.begin() as conn:
            conn.execute(
                counters.update()
                .where(counters.c.id == key)
                .values(count=count, token=token, version=version + 1)
            )
        return Written(version, version + 1, {"count": count, "token": token}, {"count": 1})

    def read(key: Any) -> State | None:
        with engine.connect() as conn:
            return _state(conn.execute(_select(key)).first())

    def reset(key: Any) -> None:
        with engine.begin() as conn:
            conn.execute(counters.delete().where(counters.c.id == key))
            conn.execute(counters.insert().values(id=key, count=0, token="", version=1))

    return Workload(write=write, read=read, reset=reset, counters=("count",))


def async_naive_workload(engine: AsyncEngine) -> AsyncWorkload:
    """:func:`naive_workload` on an async engine."""

    async def write(key: Any, token: str) -> Written:
        async with engine.connect() as conn:
            old, _, version = (await conn.execute(_select(key))).one()
        await acheckpoint("after_read", key)
        count = old + 1
        await acheckpoint("before_write", key)
        async with engine.begin() as conn:
            await conn.execute(
                counters.update()
                .where(counters.c.id == key)
                .values(count=count, token=token, version=version + 1)
            )
        return Written(version, version + 1, {"count": count, "token": token}, {"count": 1})

    async def read(key: Any) -> State | None:
        async with engine.connect() as conn:
            return _state((await conn.execute(_select(key))).first())

    async def reset(key: Any) -> None:
        async with engine.begin() as conn:
            await conn.execute(counters.delete().where(counters.c.id == key))
            await conn.execute(counters.insert().values(id=key, count=0, token="", version=1))

    return AsyncWorkload(write=write, read=read, reset=reset, counters=("count",))
