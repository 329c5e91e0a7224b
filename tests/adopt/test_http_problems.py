"""Clients get RFC 9457 problem details; the developer's advice goes to the log.

Also: a duplicate insert is 409 (it was a 500), ``If-None-Match`` answers 304,
and ``Precondition.expected`` refuses an async reader that ``aexpected`` awaits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Response
from sqlalchemy.ext.asyncio import AsyncEngine

import occ
import occ.sql
from occ.http import (
    IfMatch,
    IfNoneMatch,
    NoneMatch,
    Precondition,
    add_exception_handlers,
    answer,
    parse_if_match,
    parse_if_none_match,
    set_etag,
)
from occ.sql import AsyncRepository, Repository

metadata = sa.MetaData()
items = sa.Table(
    "occ_h5_http_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("label", sa.String(50), nullable=False),
    sa.Column("version", sa.Integer),
)
Guarded = Annotated[Precondition, Depends(IfMatch())]
Cached = Annotated[NoneMatch, Depends(IfNoneMatch())]
PROBLEM = "application/problem+json"


def items_app(repo: Repository[dict[str, Any]]) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app, type_base="https://api.example.com/problems/")

    @app.post("/items", status_code=201)
    def create(item: dict[str, Any], response: Response) -> dict[str, Any]:
        return answer(response, repo.insert(item))

    @app.get("/items/{key}")
    def read(key: int, response: Response, cached: Cached) -> dict[str, Any]:
        found = repo.get(key)
        cached.check(found.version)
        set_etag(response, found.version)
        return found.value

    @app.patch("/items/{key}")
    def edit(key: int, changes: dict[str, Any], response: Response, pre: Guarded) -> Any:
        assert pre.expected_version is not None
        return answer(response, repo.update(key, changes, expected_version=pre.expected_version))

    return app


@pytest.fixture
async def client(engine: sa.Engine) -> AsyncIterator[httpx.AsyncClient]:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    app = items_app(Repository(engine, items))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    metadata.drop_all(engine)


async def test_stale_write_is_a_problem_without_developer_advice(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.post("/items", json={"id": 1, "label": "a"})
    await client.patch("/items/1", json={"label": "b"}, headers={"If-Match": '"1"'})
    with caplog.at_level(logging.INFO, logger="occ.http"):
        stale = await client.patch("/items/1", json={"label": "c"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert stale.headers["etag"] == '"2"'
    body = stale.json()
    assert body["type"] == "https://api.example.com/problems/stale-version"
    assert (body["title"], body["status"], body["instance"]) == (
        "Precondition Failed",
        412,
        "/items/1",
    )
    assert body["current_version"] == 2
    assert "version 2" in body["detail"]
    assert "If-Match" in body["detail"]
    for secret in ("policy", "occ_h5_http_items", "attempt"):
        assert secret not in stale.text
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "occ.http")
    assert "pick a conflict policy" in logged
    assert "occ_h5_http_items" in logged


async def test_duplicate_insert_is_409(client: httpx.AsyncClient) -> None:
    assert (await client.post("/items", json={"id": 1, "label": "a"})).status_code == 201
    again = await client.post("/items", json={"id": 1, "label": "b"})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["type"].endswith("already-exists")
    assert "update()" not in again.text  # developer advice stays in the log
    create_only = await client.post(
        "/items", json={"id": 1, "label": "b"}, headers={"If-None-Match": "*"}
    )
    assert create_only.status_code == 412
    assert (await client.get("/items/1")).json()["label"] == "a"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "slug"),
    [
        ("PATCH", "/items/1", {}, 428, "precondition-required"),
        ("PATCH", "/items/1", {"If-Match": "1"}, 400, "malformed-precondition"),
        ("GET", "/items/1", {"If-None-Match": "1"}, 400, "malformed-precondition"),
        ("GET", "/items/9", {}, 404, "not-found"),
        ("PATCH", "/items/1", {"If-Match": '"1"', "X-Bad": "column"}, 422, "invalid"),
    ],
)
async def test_every_occ_error_is_a_problem(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    slug: str,
) -> None:
    await client.post("/items", json={"id": 1, "label": "a"})
    body = {"nope": 1} if "X-Bad" in headers else {"label": "z"}
    got = await client.request(method, path, headers=headers, json=body)
    assert got.status_code == status, got.text
    assert got.headers["content-type"] == PROBLEM
    problem = got.json()
    assert problem["type"] == f"https://api.example.com/problems/{slug}"
    assert problem["status"] == status
    assert problem["detail"]
    assert "occ_h5_http_items" not in got.text
    assert (await client.get("/items/1")).json()["label"] == "a"


async def test_if_none_match_answers_304_for_a_current_copy(client: httpx.AsyncClient) -> None:
    await client.post("/items", json={"id": 1, "label": "a"})
    for held in ['"1"', 'W/"1"', '"7", "1"', "*"]:
        cached = await client.get("/items/1", headers={"If-None-Match": held})
        assert (cached.status_code, cached.headers["etag"], cached.content) == (304, '"1"', b"")
    await client.patch("/items/1", json={"label": "b"}, headers={"If-Match": '"1"'})
    fresh = await client.get("/items/1", headers={"If-None-Match": '"1"'})
    assert (fresh.status_code, fresh.headers["etag"]) == (200, '"2"')
    assert fresh.json()["label"] == "b"


def test_parse_if_none_match_uses_the_weak_comparison() -> None:
    assert parse_if_none_match('W/"3", "4"').versions == (3, 4)
    assert parse_if_none_match("*").matches(9)
    assert not parse_if_none_match('"3"').matches(4)
    assert not parse_if_none_match("*").matches(None)
    assert not NoneMatch().matches(1)
    assert parse_if_match('W/"3", "4"').versions == (4,)  # If-Match stays strong


async def test_expected_refuses_an_async_reader_and_aexpected_awaits_it() -> None:
    async def current() -> int:
        return 4

    star = parse_if_match("*")
    with pytest.raises(occ.ConfigurationError, match="aexpected"):
        star.expected(current)  # type: ignore[arg-type]
    with pytest.raises(occ.ConfigurationError, match="aexpected"):
        star.expected(lambda: current())  # type: ignore[arg-type,return-value]
    with pytest.raises(occ.ConfigurationError):  # caught before any header needs it
        parse_if_match('"4"').expected(current)  # type: ignore[arg-type]
    assert await star.aexpected(current) == 4
    assert await star.aexpected(lambda: 5) == 5
    assert await parse_if_match('"2"').aexpected(current) == 2


async def test_an_async_endpoint_resolves_if_match_star_with_an_async_read(
    async_engine: AsyncEngine, engine: sa.Engine
) -> None:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    repo: AsyncRepository[dict[str, Any]] = AsyncRepository(async_engine, items)
    await repo.insert({"id": 1, "label": "a"})
    app = FastAPI()
    add_exception_handlers(app)

    async def version_of(key: int) -> int | None:
        found = await repo.find(key)
        return None if found is None else int(found.version)

    @app.put("/items/{key}")
    async def put(key: int, item: dict[str, Any], response: Response, pre: Guarded) -> Any:
        expected = await pre.aexpected(lambda: version_of(key))
        return answer(response, await repo.update(key, item, expected_version=expected))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        star = await http.put("/items/1", json={"label": "b"}, headers={"If-Match": "*"})
        assert (star.status_code, star.headers["etag"]) == (200, '"2"'), star.text
        gone = await http.put("/items/9", json={"label": "b"}, headers={"If-Match": "*"})
        assert gone.status_code == 412
    metadata.drop_all(engine)
