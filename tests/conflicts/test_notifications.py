"""Webhook and e-mail sinks: real local servers, retries, digests, links, nothing lost."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import occ.sql
from occ import Conflict, resolvers
from occ.conflicts import ConflictEvent, EmailSink, WebhookSink
from occ.conflicts.sql import ConflictStore
from tests.conflicts.servers import free_port, smtp_server, webhook_endpoint

pytestmark = pytest.mark.timeout(60)

REVIEW = "https://app.example/review"
ACCOUNT = sa.Table(
    "account",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner", sa.String(40)),
    sa.Column("version", sa.Integer),
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[sa.Engine, ConflictStore]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    ACCOUNT.create(engine)
    store = ConflictStore(engine)
    store.create()
    yield engine, store
    occ.sql.dispose(engine)


def stale_writes(engine: sa.Engine, sink: Any, store: ConflictStore, n: int = 1) -> list[str]:
    """``n`` rows, each written stale once under Alert(store, sink): the results' outcomes."""
    repo = occ.sql.Repository(
        engine, ACCOUNT, policy=resolvers.Alert(store, sink, then=resolvers.Discard())
    )
    outcomes = []
    for key in range(1, n + 1):
        repo.insert({"id": key, "owner": "ada"})
        repo.update(key, {"owner": "bob"}, expected_version=1)
        outcomes.append(repo.update(key, {"owner": "cy"}, expected_version=1).outcome)
    return outcomes


def event(n: int) -> ConflictEvent:
    conflict = Conflict(
        "account", n, "update", "version", {}, {"owner": "x"}, {"owner": "x"}, {}, 1, 2, 1
    )
    return ConflictEvent(conflict, "discarded", {}, f"{n:032x}")


def test_webhook_posts_each_conflict_with_a_link_to_its_page(
    app: tuple[sa.Engine, ConflictStore],
) -> None:
    engine, store = app
    with webhook_endpoint() as hook:
        sink = WebhookSink(hook.url, review_url=REVIEW, every=0)
        assert stale_writes(engine, sink, store) == ["discarded"]
        assert sink.flush(10)
        sink.close()
    (stored,) = store.list()
    (body,) = hook.bodies
    (item,) = body["conflicts"]
    assert item["id"] == stored.id
    assert item["url"] == f"{REVIEW}/c/{stored.id}"
    assert (item["entity"], item["key"], item["changed"]) == ("account", 1, ["owner"])
    assert f"{REVIEW}/c/{stored.id}" in body["text"]
    assert "cy" not in body["text"]  # values stay on the review page


def test_webhook_retries_server_errors_then_delivers_once() -> None:
    with webhook_endpoint(fail_first=2, status=503) as hook:
        sink = WebhookSink(hook.url, every=0, retries=3, backoff=0.01)
        sink(event(1))
        assert sink.flush(10)
        sink.close()
    assert hook.requests == 3
    assert len(hook.bodies) == 1
    assert (sink.courier.sent, sink.courier.failed) == (1, 0)


def test_webhook_does_not_retry_a_refusal(caplog: pytest.LogCaptureFixture) -> None:
    with webhook_endpoint(fail_first=1, status=400) as hook, caplog.at_level(logging.WARNING):
        sink = WebhookSink(hook.url, every=0, retries=3, backoff=0.01)
        sink(event(1))
        assert sink.flush(10)
        sink.close()
    assert (hook.requests, sink.courier.failed) == (1, 1)
    assert "could not deliver" in caplog.text


def test_a_burst_becomes_one_digest_that_accounts_for_every_conflict() -> None:
    with webhook_endpoint() as hook:
        sink = WebhookSink(hook.url, every=1.0, max_items=10)
        sink(event(0))
        assert sink.flush(10)  # the first goes out at once
        for n in range(1, 201):  # a burst well within the next second
            sink(event(n))
        assert sink.flush(10)
        sink.close()
    first, digest = hook.bodies  # two messages, not 201
    assert [c["key"] for c in first["conflicts"]] == [0]
    assert (len(digest["conflicts"]), digest["more"]) == (10, 190)
    assert digest["text"].startswith("[occ] 200 conflicts on account, ...")
    assert "... and 190 more" in digest["text"]


def test_a_failing_sink_never_loses_the_stored_conflict(
    app: tuple[sa.Engine, ConflictStore], caplog: pytest.LogCaptureFixture
) -> None:
    engine, store = app
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/", every=0, retries=1, backoff=0.01)
    with caplog.at_level(logging.WARNING):
        assert stale_writes(engine, sink, store, n=3) == ["discarded"] * 3
        assert sink.flush(10)
    sink.close()
    assert store.count(status="pending") == 3
    assert sink.courier.failed >= 1
    assert "they are in the conflict store" in caplog.text


def test_email_sink_mails_a_link_to_the_conflict(app: tuple[sa.Engine, ConflictStore]) -> None:
    engine, store = app
    with smtp_server() as box:
        sink = EmailSink(
            "127.0.0.1",
            port=box.port,
            starttls=False,
            sender="occ@app.example",
            to=["support@app.example"],
            review_url=REVIEW,
            every=0,
        )
        stale_writes(engine, sink, store)
        assert sink.flush(10)
        sink.close()
    (stored,) = store.list()
    ((recipients, message),) = box.messages
    assert recipients == ["support@app.example"]
    assert message["Subject"] == "[occ] conflict on account 1"
    assert f"{REVIEW}/c/{stored.id}" in message.get_content()


def test_email_digest_of_a_burst(app: tuple[sa.Engine, ConflictStore]) -> None:
    with smtp_server() as box:
        sink = EmailSink(
            "127.0.0.1",
            port=box.port,
            starttls=False,
            sender="occ@app.example",
            to=["support@app.example"],
            review_url=REVIEW,
            every=1.0,
            max_items=5,
        )
        sink(event(0))
        assert sink.flush(10)
        for n in range(1, 41):
            sink(event(n))
        assert sink.flush(10)
        sink.close()
    assert len(box.messages) == 2
    digest = box.messages[1][1]
    assert digest["Subject"] == "[occ] 40 conflicts on account, ..."
    body = digest.get_content()
    assert body.count(f"{REVIEW}/c/") == 5
    assert "... and 35 more" in body
