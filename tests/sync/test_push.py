"""Synchronous push over HTTP: the replica's apply behind occ.http, and a retrying client."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from occ.sync import (
    AsyncPushClient,
    Event,
    EventError,
    OutboxReader,
    PushClient,
    PushError,
    Replica,
    push_route,
)
from tests.conflicts.browser import served
from tests.sync.brokers import free_port
from tests.sync.helpers import Service
from tests.sync.models import profile, profile_table, unique


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


class LosesReplies:
    """An ASGI app in front of ``app`` that lets the first ``lose`` requests through but loses
    their replies (answering 502, as a proxy whose upstream connection dropped would)."""

    def __init__(self, app: Any, lose: int) -> None:
        self.app = app
        self.lose = lose

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.lose <= 0:
            await self.app(scope, receive, send)
            return
        self.lose -= 1

        async def dropped(message: Any) -> None:
            pass

        await self.app(scope, receive, dropped)  # the replica applied it; the reply is lost
        await send({"type": "http.response.start", "status": 502, "headers": []})
        await send({"type": "http.response.body", "body": b"upstream reply lost"})


def test_the_sync_client_pushes_source_writes_to_a_served_replica_end_to_end(
    engine: sa.Engine,
) -> None:
    svc = Service(engine, engine)
    replica = Replica(engine, svc.copy, entity="profiles")
    app = LosesReplies(Starlette(routes=[push_route([replica])]), lose=1)
    svc.repo.insert(profile(1))
    svc.repo.update(1, {"email": "ada@lovelace.org"}, expected_version=1)
    svc.repo.insert(profile(2, name="grace"))
    svc.repo.delete(2, expected_version=1)
    pushed = OutboxReader(engine, svc.outbox.table).pending(list(range(16)), 100)
    assert len(pushed) == 4
    with served(app) as base:
        client = PushClient(f"{base}/occ/events", backoff=(0.01, 0.05), timeout=5)
        first = [client.push(e) for e in pushed]
        again = [client.push(e) for e in pushed]  # the endpoint is idempotent
        client.close()
    # the first reply was lost after the replica applied it: the retry is told "duplicate"
    assert first[0] == "duplicate"
    assert first[1:] == ["applied"] * 3
    assert sorted(again) == ["duplicate", "duplicate", "stale", "stale"]
    assert replica.counts == {"applied": 4, "duplicate": 3, "stale": 2}
    svc.assert_converged()  # key 2 deleted on both sides, key 1 at version 2 on both


def test_the_sync_client_retries_until_the_service_comes_up(engine: sa.Engine) -> None:
    svc = Service(engine, engine)
    replica = Replica(engine, svc.copy, entity="profiles")
    svc.repo.insert(profile(1))
    (pushed,) = OutboxReader(engine, svc.outbox.table).pending(list(range(16)), 100)
    port = free_port()
    client = PushClient(f"http://127.0.0.1:{port}/occ/events", attempts=40, backoff=(0.05, 0.2))
    outcome: list[Any] = []
    pusher = threading.Thread(target=lambda: outcome.append(client.push(pushed)), daemon=True)
    pusher.start()
    time.sleep(0.5)  # connection refused, retried with backoff meanwhile
    assert pusher.is_alive()
    with served(Starlette(routes=[push_route([replica])]), port=port):
        pusher.join(20)
    client.close()
    assert outcome == ["applied"]
    svc.assert_converged()
