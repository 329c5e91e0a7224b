"""End to end: concurrent clients against the example service; nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

import occ.sql
from examples.service.app import create_app, make_tables

PREFIX = "occ_t8_e2e_"
CLIENTS = 8


@pytest.fixture
async def client(engine: sa.Engine) -> AsyncIterator[httpx.AsyncClient]:
    metadata = make_tables(PREFIX).metadata
    metadata.drop_all(engine)
    app: FastAPI = create_app(engine.url.render_as_string(hide_password=False), prefix=PREFIX)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    occ.sql.dispose(app.state.engine)


async def test_concurrent_editors_under_if_match_lose_no_edit(client: httpx.AsyncClient) -> None:
    """Each client appends its line: read, PUT with If-Match, on 412 read again."""
    await client.post("/notes", json={"title": "log", "body": ""})
    history: list[tuple[int, int]] = []  # (version read, version written) of acknowledged writes
    refused = 0

    async def editor(name: str) -> None:
        nonlocal refused
        while True:
            read = await client.get("/notes/1")
            body = read.json()["body"] + f"{name}\n"
            put = await client.put(
                "/notes/1",
                json={"title": "log", "body": body},
                headers={"If-Match": read.headers["etag"]},
            )
            if put.status_code == 200:
                history.append((read.json()["version"], put.json()["version"]))
                return
            assert put.status_code == 412, put.text
            assert put.headers["etag"] != read.headers["etag"]
            refused += 1

    await asyncio.wait_for(
        asyncio.gather(*(editor(f"client-{i}") for i in range(CLIENTS))), timeout=60
    )
    final = (await client.get("/notes/1")).json()
    lines = final["body"].splitlines()
    assert sorted(lines) == sorted(f"client-{i}" for i in range(CLIENTS))  # nothing lost
    reads = [r for r, _ in history]
    assert len(set(reads)) == len(reads)  # no two committed writes read the same version
    assert sorted(w for _, w in history) == list(range(2, CLIENTS + 2))  # no gap in the chain
    assert all(w == r + 1 for r, w in history)
    assert final["version"] == CLIENTS + 1


async def test_concurrent_stock_adjustments_add_up(client: httpx.AsyncClient) -> None:
    await client.post("/products", json={"name": "widget", "stock": 100})
    deltas = [3 if i % 3 else -2 for i in range(CLIENTS * 4)]  # no zero: each one writes

    async def adjust(delta: int) -> int:
        answer = await client.post("/products/1/stock", json={"delta": delta})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["version"])

    versions = await asyncio.wait_for(asyncio.gather(*(adjust(d) for d in deltas)), timeout=60)
    final = (await client.get("/products/1")).json()
    assert final["stock"] == 100 + sum(deltas)
    assert sorted(versions) == list(range(2, len(deltas) + 2))
