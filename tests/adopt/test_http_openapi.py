"""What FastAPI's OpenAPI schema says about conditional routes, read over the ASGI app.

Before, ``Depends(IfMatch())`` read the raw request: the schema showed no
``If-Match`` header, so Swagger UI's "Try it out" could not send one (always
428), and no 412/428/304 answer nor ``ETag`` header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import occ.sql
from examples.service.app import create_app


@pytest.fixture
async def schema(tmp_path: Any) -> AsyncIterator[dict[str, Any]]:
    app: FastAPI = create_app(f"sqlite:///{tmp_path}/openapi.db")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/openapi.json")
        assert answer.status_code == 200
        yield answer.json()
        again = await client.get("/openapi.json")
        assert again.json() == answer.json()  # documented once, not twice
    occ.sql.dispose(app.state.engine)


def header(operation: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [p for p in operation.get("parameters", []) if p["in"] == "header"]
    return next((p for p in found if p["name"] == name), None)


def problem(answer: dict[str, Any]) -> dict[str, Any]:
    return dict(answer["content"]["application/problem+json"]["schema"])


def test_a_guarded_write_declares_if_match_and_its_answers(schema: dict[str, Any]) -> None:
    put = schema["paths"]["/notes/{key}"]["put"]
    if_match = header(put, "If-Match")
    assert if_match is not None
    assert if_match["required"] is True
    assert if_match["schema"]["type"] == "string"
    answers = put["responses"]
    assert set(answers) >= {"200", "400", "409", "412", "428"}
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    for code in ("400", "412", "428"):
        assert problem(answers[code]) == ref
    assert "ETag" in answers["412"]["headers"]
    assert set(answers["200"]["headers"]) == {"ETag", "Occ-Outcome", "Occ-Alerted"}
    discarded = answers["409"]
    assert set(discarded["content"]) == {"application/problem+json", "application/json"}
    assert "ETag" in discarded["headers"]
    assert "Occ-Outcome" in discarded["headers"]
    props = schema["components"]["schemas"]["ProblemDetails"]["properties"]
    assert {"type", "title", "status", "detail", "instance", "current_version"} <= set(props)


def test_an_optional_if_match_is_declared_optional_without_428(schema: dict[str, Any]) -> None:
    patch = schema["paths"]["/products/{key}"]["patch"]
    if_match = header(patch, "If-Match")
    assert if_match is not None
    assert if_match["required"] is False
    assert "428" not in patch["responses"]
    assert "412" in patch["responses"]


def test_a_read_declares_if_none_match_304_and_etag(schema: dict[str, Any]) -> None:
    get = schema["paths"]["/notes/{key}"]["get"]
    assert header(get, "If-None-Match") is not None
    assert header(get, "If-Match") is None
    answers = get["responses"]
    assert "ETag" in answers["304"]["headers"]
    assert "ETag" in answers["200"]["headers"]
    assert "412" not in answers
    assert "Occ-Outcome" not in answers["200"]["headers"]


def test_routes_without_preconditions_are_left_alone(schema: dict[str, Any]) -> None:
    post = schema["paths"]["/notes"]["post"]
    assert header(post, "If-Match") is None
    assert set(post["responses"]) == {"201", "422"}
    assert "headers" not in post["responses"]["201"]


async def test_try_it_out_sends_the_declared_header_and_the_write_passes(tmp_path: Any) -> None:
    """A request built from the schema alone, as Swagger UI builds it, reaches the check."""
    app: FastAPI = create_app(f"sqlite:///{tmp_path}/try.db")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        put = (await client.get("/openapi.json")).json()["paths"]["/notes/{key}"]["put"]
        created = await client.post("/notes", json={"title": "t"})
        declared = {p["name"] for p in put["parameters"] if p["in"] == "header"}
        headers = dict.fromkeys(declared, created.headers["etag"])
        tried = await client.put("/notes/1", json={"title": "u"}, headers=headers)
        assert (tried.status_code, tried.headers["etag"]) == (200, '"2"'), tried.text
        stale = await client.put("/notes/1", json={"title": "v"}, headers=headers)
        assert stale.status_code == 412
    occ.sql.dispose(app.state.engine)
