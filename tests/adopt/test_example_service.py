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
async def app(engine: sa.Engine) -> AsyncIterator[FastAPI]:
    metadata = make_tables(PREFIX).metadata
    metadata.drop_all(engine)
    application = create_app(engine.url.render_as_string(hide_password=False), prefix=PREFIX)
    yield application
    occ.sql.dispose(application.state.engine)
    metadata.drop_all(engine)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


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


async def test_stale_triage_is_409_with_the_stored_ticket_and_kept_for_review(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await client.post("/tickets", json={"status": "new"})
    assert (created.status_code, created.headers["occ-outcome"]) == (201, "written")
    first = await client.put(
        "/tickets/1", json={"status": "open", "assignee": "ana"}, headers={"If-Match": '"1"'}
    )
    assert (first.status_code, first.headers["occ-outcome"]) == (200, "written")
    late = await client.put(
        "/tickets/1", json={"status": "closed", "assignee": "bo"}, headers={"If-Match": '"1"'}
    )
    assert late.status_code == 409, late.text
    assert late.headers["etag"] == first.headers["etag"] == '"2"'
    assert (late.headers["occ-outcome"], late.headers["occ-alerted"]) == ("discarded", "true")
    assert late.json() == first.json()  # what is stored, not the discarded edit
    [kept] = app.state.review.list()
    assert kept.conflict.changes == {"status": "closed", "assignee": "bo"}
    assert kept.status == "pending"
    cached = await client.get("/tickets/1", headers={"If-None-Match": late.headers["etag"]})
    assert cached.status_code == 304


async def test_concurrent_triagers_one_wins_the_others_get_409(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/tickets", json={"status": "new"})

    async def triage(name: str) -> httpx.Response:
        edit = {"status": "open", "assignee": name}
        return await client.put("/tickets/1", json=edit, headers={"If-Match": '"1"'})

    answers = await asyncio.wait_for(
        asyncio.gather(*(triage(f"agent-{i}") for i in range(CLIENTS))), timeout=60
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * (CLIENTS - 1), [a.text for a in answers]
    [winner] = [a for a in answers if a.status_code == 200]
    stored = (await client.get("/tickets/1")).json()
    assert stored == winner.json()
    for lost in (a for a in answers if a.status_code == 409):
        assert lost.json() == stored
        assert lost.headers["etag"] == '"2"'
    kept = app.state.review.list()
    assert sorted(c.conflict.changes["assignee"] for c in kept) == sorted(
        f"agent-{i}" for i in range(CLIENTS) if f"agent-{i}" != stored["assignee"]
    )


async def test_reads_answer_304_to_a_current_etag(client: httpx.AsyncClient) -> None:
    created = await client.post("/notes", json={"title": "t"})
    etag = created.headers["etag"]
    assert (await client.get("/notes/1", headers={"If-None-Match": etag})).status_code == 304
    await client.put("/notes/1", json={"title": "u"}, headers={"If-Match": etag})
    fresh = await client.get("/notes/1", headers={"If-None-Match": etag})
    assert (fresh.status_code, fresh.json()["title"]) == (200, "u")
