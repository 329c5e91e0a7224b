"""Synchronous push over HTTP: the replica's apply behind occ.http, and a retrying client."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from occ.sync import AsyncPushClient, Event, EventError, PushClient, PushError, Replica, push_route
from tests.sync.brokers import free_port
from tests.sync.models import profile_table, unique


def event(version: int, **kw: Any) -> Event:
    value = {"name": f"v{version}", "email": None, "credit": None, "born": None, "visits": 1}
    fields: dict[str, Any] = {"changes": value, "value": value}
    fields.update(kw)
    return Event(
        id=f"e{version}",
        entity="profiles",
        key=1,
        version=version,
        previous=version - 1 or None,
        operation="insert" if version == 1 else "update",
        **fields,
    )


@pytest.fixture
def app(engine: sa.Engine) -> Any:
    table = profile_table(unique("copy"))
    table.create(engine)
    replica = Replica(engine, table, entity="profiles")
    return Starlette(routes=[push_route([replica])]), replica


def asgi(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


async def test_push_applies_if_newer_and_answers_every_outcome_idempotently(app: Any) -> None:
    starlette_app, replica = app
    client = AsyncPushClient("http://svc/occ/events", client=asgi(starlette_app))
    assert await client.push(event(2)) == "applied"
    assert await client.push(event(2)) == "duplicate"
    assert await client.push(event(1)) == "stale"
    with pytest.raises(PushError, match="409: version 3 of this key is not held"):
        await client.push(event(4, value=None, changes={"visits": 4}))
    with pytest.raises(EventError, match="no replica here"):
        await client.push(
            Event(id="x", entity="orders", key=1, version=1, previous=None, operation="insert")
        )
    bad = {"name": "x", "email": None, "credit": "much", "born": None, "visits": 1}
    with pytest.raises(EventError, match="does not fit"):
        await client.push(event(3, value=bad))
    response = await asgi(starlette_app).post("/occ/events", content=b"{not json")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert replica.counts == {"applied": 1, "duplicate": 1, "stale": 1, "gap": 1}
    await client.aclose()


async def test_the_client_retries_lost_replies_and_5xx_then_gives_up(app: Any) -> None:
    starlette_app, _ = app
    answers = iter([503, 502])
    inner = asgi(starlette_app)
    tries = []

    async def handler(request: httpx.Request) -> httpx.Response:
        tries.append(request)
        status = next(answers, None)
        if status is not None:
            return httpx.Response(status, json={"detail": "busy"})
        reply = await inner.post("/occ/events", content=request.content)
        return httpx.Response(reply.status_code, content=reply.content, headers=reply.headers)

    client = AsyncPushClient(
        "http://svc/occ/events",
        backoff=(0.01, 0.02),
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    assert await client.push(event(1)) == "applied"
    assert len(tries) == 3
    down = PushClient(
        f"http://127.0.0.1:{free_port()}/occ/events", attempts=3, backoff=(0.01, 0.02), timeout=1
    )
    started = time.monotonic()
    with pytest.raises(PushError, match="failed 3 times"):
        down.push(event(2))
    assert time.monotonic() - started < 10
    down.close()
