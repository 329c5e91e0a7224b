"""ETag / If-Match semantics through a real ASGI app (the example service) and httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request

import occ
from examples.service.app import create_app, make_tables
from occ.http import IfMatch, MalformedPrecondition, Precondition, etag, parse_if_match
from occ.sql import Repository

PREFIX = "occ_t8_http_"


@pytest.fixture
async def app(engine: sa.Engine) -> AsyncIterator[FastAPI]:
    metadata = make_tables(PREFIX).metadata
    metadata.drop_all(engine)
    application = create_app(engine.url.render_as_string(hide_password=False), prefix=PREFIX)
    yield application
    occ.sql.dispose(application.state.engine)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def note(client: httpx.AsyncClient) -> httpx.Response:
    created = await client.post("/notes", json={"title": "t", "body": "b"})
    assert created.status_code == 201
    return created


async def version_now(client: httpx.AsyncClient, key: int = 1) -> str:
    return (await client.get(f"/notes/{key}")).headers["etag"]


async def test_responses_carry_the_version_as_a_strong_etag(client: httpx.AsyncClient) -> None:
    created = await note(client)
    assert created.headers["etag"] == '"1"'
    assert created.json()["version"] == 1
    updated = await client.put("/notes/1", json={"title": "u"}, headers={"If-Match": '"1"'})
    assert (updated.status_code, updated.headers["etag"]) == (200, '"2"')


async def test_stale_if_match_is_412_with_the_current_etag(client: httpx.AsyncClient) -> None:
    await note(client)
    assert (
        await client.put("/notes/1", json={"title": "u"}, headers={"If-Match": '"1"'})
    ).is_success
    stale = await client.put("/notes/1", json={"title": "lost"}, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.headers["etag"]) == (412, '"2"')
    assert stale.json()["current_version"] == 2
    assert (await client.get("/notes/1")).json()["title"] == "u"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 428),  # guarded route without If-Match
        ({"If-Match": "1"}, 400),  # unquoted: malformed
        ({"If-Match": '"1'}, 400),
        ({"If-Match": '"1" "1"'}, 400),
        ({"If-Match": '*, "1"'}, 400),
        ({"If-Match": ""}, 400),
        ({"If-Match": 'W/"1"'}, 412),  # weak: never matches (strong comparison)
        ({"If-Match": '"abc"'}, 412),  # a valid tag that names no version
        ({"If-Match": '"01"'}, 412),
        ({"If-Match": '"-1"'}, 412),
    ],
)
async def test_bad_or_unmatched_if_match_writes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    await note(client)
    answer = await client.put("/notes/1", json={"title": "x"}, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 412:
        assert answer.headers["etag"] == '"1"'
    assert await version_now(client) == '"1"'
    assert (await client.get("/notes/1")).json()["title"] == "t"


async def test_star_matches_any_current_version_and_412_when_absent(
    client: httpx.AsyncClient,
) -> None:
    await note(client)
    star = await client.put("/notes/1", json={"title": "s"}, headers={"If-Match": "*"})
    assert (star.status_code, star.headers["etag"]) == (200, '"2"')
    missing = await client.put("/notes/9", json={"title": "s"}, headers={"If-Match": "*"})
    assert missing.status_code == 412
    assert "etag" not in missing.headers


async def test_list_with_weak_and_strong_tags_uses_the_strong_one(
    client: httpx.AsyncClient,
) -> None:
    await note(client)
    listed = await client.put(
        "/notes/1", json={"title": "l"}, headers={"If-Match": 'W/"1", , "7", "1"'}
    )
    assert (listed.status_code, listed.headers["etag"]) == (200, '"2"')
    again = await client.put("/notes/1", json={"title": "l"}, headers={"If-Match": '"7", "1"'})
    assert again.status_code == 412


async def test_check_happens_in_the_write_not_before(
    app: FastAPI, client: httpx.AsyncClient, engine: sa.Engine
) -> None:
    """A writer that gets in after the header was checked still makes the write fail."""
    await note(client)
    notes = make_tables(PREFIX).notes
    guarded: IfMatch = app.state.if_match

    def parse_then_someone_writes(request: Request) -> Precondition:
        pre = guarded(request)
        Repository(engine, notes).update(1, {"title": "other"}, expected_version=1)
        return pre

    app.dependency_overrides[guarded] = parse_then_someone_writes
    answer = await client.put("/notes/1", json={"title": "mine"}, headers={"If-Match": '"1"'})
    assert (answer.status_code, answer.headers["etag"]) == (412, '"2"')
    assert (await client.get("/notes/1")).json()["title"] == "other"


async def test_delete_is_conditional(client: httpx.AsyncClient) -> None:
    await note(client)
    assert (await client.delete("/notes/1", headers={"If-Match": '"3"'})).status_code == 412
    assert (await client.delete("/notes/1")).status_code == 428
    assert (await client.delete("/notes/1", headers={"If-Match": '"1"'})).status_code == 204
    assert (await client.get("/notes/1")).status_code == 404


async def test_optional_if_match_and_overwrite_policy(client: httpx.AsyncClient) -> None:
    await client.post("/products", json={"name": "p", "stock": 1})
    assert (await client.patch("/products/1", json={"name": "q"})).headers["etag"] == '"2"'
    # Stale If-Match under Overwrite: written again at the stored version.
    stale = await client.patch("/products/1", json={"name": "r"}, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.headers["etag"], stale.json()["name"]) == (200, '"3"', "r")


def test_parse_if_match_rules() -> None:
    assert parse_if_match("*") == Precondition(present=True, any=True)
    assert parse_if_match(' "3" ,W/"4",  "5"').versions == (3, 5)
    assert parse_if_match('"3"').expected_version == 3
    assert parse_if_match('"3", "4"').expected_version is None
    assert parse_if_match('W/"3"').versions == ()
    for bad in ["3", '"3', "W/3", '"3" x', "**", "", " , "]:
        with pytest.raises(MalformedPrecondition):
            parse_if_match(bad)
    assert etag(12) == '"12"'
    with pytest.raises(occ.ValidationError):
        etag(True)


def test_precondition_resolve() -> None:
    star = parse_if_match("*")
    assert star.resolve(4) == 4
    with pytest.raises(occ.http.PreconditionFailedError) as info:
        parse_if_match('W/"4"').resolve(4)
    assert info.value.current_version == 4
    with pytest.raises(occ.http.PreconditionFailedError):
        star.resolve(None)
    calls: list[Any] = []
    assert parse_if_match('"2"').expected(lambda: calls.append(1)) == 2
    assert calls == []  # one strong tag: no read before the write
