"""Every statement occ sends reaches the listeners, echo and instrumentation of the user's engine.

occ writes single statements through an autocommit sibling of the user's
engine, and runs them on raw pooled connections while nothing observes the
engine; these tests prove that whatever the user registers on their own
engine *instance* (before or after building the repository) sees all of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

import occ
from occ.sql import AsyncRepository, Repository
from tests.sql.models import Account


def _verbs(statements: list[str]) -> list[str]:
    return [s.split()[0].upper() for s in statements]


@pytest.fixture
def recorded(db: sa.Engine) -> Iterator[list[str]]:
    """Statements seen by a listener on the user's engine instance."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    yield seen
    if event.contains(db, "before_cursor_execute", record):
        event.remove(db, "before_cursor_execute", record)


def _contract(repo: Repository[Account]) -> None:
    repo.insert(Account(id=1, owner="ada", balance=0))
    snap = repo.get(1)
    snap.value.balance = 5
    snap = repo.save(snap)
    snap = repo.update(1, {"owner": "bob"}, expected_version=snap.version)
    snap = repo.modify(1, lambda a: setattr(a, "balance", a.balance + 1))
    repo.delete(1, expected_version=snap.version)


def test_an_instance_listener_added_after_the_repository_sees_every_statement(
    db: sa.Engine,
) -> None:
    repo = Repository(db, Account, tombstones=False)
    repo.insert(Account(id=9, owner="warm", balance=0))  # the sibling and its pool exist now
    seen: list[str] = []
    event.listen(db, "before_cursor_execute", lambda c, cur, stmt, *a: seen.append(stmt))
    _contract(repo)
    verbs = _verbs(seen)
    # insert, get, save, update (+ read on MySQL), modify (read + write), delete
    assert verbs.count("INSERT") == 1
    assert verbs.count("UPDATE") == 3
    assert verbs.count("DELETE") == 1
    assert verbs.count("SELECT") >= 2


def test_statements_are_seen_once_by_a_listener_on_the_engine_class(db: sa.Engine) -> None:
    repo = Repository(db, Account, tombstones=False)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        repo.insert(Account(id=1, owner="ada", balance=0))
        snap = repo.get(1)
        snap.value.balance = 1
        repo.save(snap)
    finally:
        event.remove(sa.Engine, "before_cursor_execute", record)
    assert _verbs(seen) == ["INSERT", "SELECT", "UPDATE"]


def test_the_fast_path_resumes_and_stays_correct_after_a_listener_is_removed(
    db: sa.Engine,
) -> None:
    repo = Repository(db, Account, tombstones=False)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db, "before_cursor_execute", record)
    repo.insert(Account(id=1, owner="ada", balance=0))
    event.remove(db, "before_cursor_execute", record)
    snap = repo.get(1)
    snap.value.balance = 3
    saved = repo.save(snap)
    assert _verbs(seen) == ["INSERT"]
    assert repo.get(1).version == saved.version == 2
    with pytest.raises(occ.ConflictError):
        repo.save(snap)  # stale: still one conditional statement, still checked


def test_echo_of_the_user_engine_logs_occ_statements(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import make_engine
    from tests.sql.models import create_all

    plain = make_engine(backend)
    create_all(plain)
    plain.dispose()
    engine = sa.create_engine(backend.url, echo=True)
    try:
        repo = Repository(engine, Account)
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            repo.insert(Account(id=1, owner="ada", balance=0))
            snap = repo.get(1)
            snap.value.balance = 2
            repo.save(snap)
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "INSERT INTO occ_account" in logged
        assert "UPDATE occ_account" in logged
    finally:
        occ.sql.dispose(engine)


def test_opentelemetry_sqlalchemy_instrumentation_traces_occ_writes(db: sa.Engine) -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = SQLAlchemyInstrumentor()
    # Its declared range stops below SQLAlchemy 2.1; the event hooks it uses are unchanged.
    instrumentor.instrument(engine=db, tracer_provider=provider, skip_dep_check=True)
    try:
        repo = Repository(db, Account, tombstones=False)
        _contract(repo)
    finally:
        instrumentor.uninstrument()
    statements = [
        span.attributes.get("db.statement", span.name) for span in exporter.get_finished_spans()
    ]
    verbs = _verbs([str(s) for s in statements])
    assert verbs.count("UPDATE") == 3, statements
    assert verbs.count("INSERT") == 1
    assert verbs.count("DELETE") == 1


async def test_an_instance_listener_on_an_async_engine_sees_every_statement(
    adb: AsyncEngine,
) -> None:
    repo = AsyncRepository(adb, Account, tombstones=False)
    seen: list[str] = []
    event.listen(
        adb.sync_engine, "before_cursor_execute", lambda c, cur, stmt, *a: seen.append(stmt)
    )
    await repo.insert(Account(id=1, owner="ada", balance=0))
    snap = await repo.get(1)
    snap.value.balance = 4
    await repo.save(snap)
    assert _verbs(seen)[:1] == ["INSERT"]
    assert "UPDATE" in _verbs(seen)
