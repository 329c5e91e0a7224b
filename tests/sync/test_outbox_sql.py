"""The SQL outbox: one event per write that changes a row, in the write's transaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

import occ
import occ.policies
import occ.sql
from occ.resolvers import Discard
from occ.sync import Outbox, event_headers
from tests.sync.models import make_source, outbox_rows, profile


def count_statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    return seen


@pytest.mark.parametrize("value", ["full", "changes"])
def test_every_write_records_one_event_with_versions_and_fields(
    engine: sa.Engine, value: str
) -> None:
    table, outbox = make_source(engine, value=value)
    repo = occ.sql.Repository(engine, table, outbox=outbox)
    repo.insert(profile(1))
    repo.update(1, {"email": "a@b.c"}, expected_version=1)
    snap = repo.get(1)
    snap.value["visits"] = 5
    repo.save(snap)
    repo.delete(1, expected_version=3)
    rows = outbox_rows(engine, outbox.table)
    assert [(r.operation, r.version, r.previous) for r in rows] == [
        ("insert", 1, None),
        ("update", 2, 1),
        ("update", 3, 2),
        ("delete", 3, 3),
    ]
    assert json.loads(rows[1].changes) == {"email": "a@b.c"}
    assert json.loads(rows[2].changes) == {"visits": 5}
    assert {r.entity for r in rows} == {table.name}
    assert {r.entity_key for r in rows} == {"[1]"}
    assert len({r.event_id for r in rows}) == 4
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert all(r.published_at is None and r.created_at is not None for r in rows)
    if value == "full":
        full = json.loads(rows[2].value)
        assert full == {
            "name": "ada",
            "email": "a@b.c",
            "credit": "10.50",
            "born": "1990-01-02",
            "visits": 5,
        }
        assert json.loads(rows[1].value)["email"] == "a@b.c"
    else:
        assert [r.value for r in rows] == [None] * 4
    assert rows[3].value is None


def test_writes_that_write_nothing_record_no_event(engine: sa.Engine) -> None:
    table, outbox = make_source(engine)
    repo = occ.sql.Repository(engine, table, outbox=outbox)
    first = repo.insert(profile(1))
    with pytest.raises(occ.ConflictError):
        repo.update(1, {"name": "x"}, expected_version=7)  # a failed conditional write
    unchanged = repo.save(first)  # nothing differs from what was read
    assert unchanged.outcome == "unchanged"
    discarding = occ.sql.Repository(engine, table, outbox=outbox, policy=Discard())
    repo.update(1, {"name": "theirs"}, expected_version=1)
    stale = discarding.update(1, {"name": "mine"}, expected_version=1)
    assert stale.outcome == "discarded"
    with pytest.raises(occ.AlreadyExistsError):
        repo.insert(profile(1))
    with pytest.raises(occ.ConflictError):
        repo.delete(1, expected_version=1)
    ops = [(r.operation, r.version) for r in outbox_rows(engine, outbox.table)]
    assert ops == [("insert", 1), ("update", 2)]


def test_events_join_the_callers_transaction_and_roll_back_with_it(engine: sa.Engine) -> None:
    table, outbox = make_source(engine)
    occ.sql.Repository(engine, table, outbox=outbox).insert(profile(1))
    with engine.connect() as conn:
        joined = occ.sql.Repository(conn, table, outbox=outbox)
        joined.update(1, {"name": "rolled back"}, expected_version=1)
        conn.rollback()
        joined.update(1, {"name": "kept"}, expected_version=1)
        conn.commit()
    rows = outbox_rows(engine, outbox.table)
    assert [(r.operation, r.version) for r in rows] == [("insert", 1), ("update", 2)]
    assert json.loads(rows[1].changes) == {"name": "kept"}


def test_the_outbox_declared_in_policies_applies_to_new_repositories(engine: sa.Engine) -> None:
    table, outbox = make_source(engine)
    occ.policies.register_outbox(table.name, outbox)
    occ.sql.Repository(engine, table).insert(profile(1))
    assert len(outbox_rows(engine, outbox.table)) == 1
    with pytest.raises(TypeError, match="Outbox"):
        occ.policies.register_outbox(table, True)


def test_headers_of_the_context_and_of_the_outbox_travel_with_the_event(
    engine: sa.Engine,
) -> None:
    table, outbox = make_source(engine)
    traced = Outbox(table=outbox.table, headers=lambda: {"service": "accounts"})
    repo = occ.sql.Repository(engine, table, outbox=traced)
    with event_headers({"traceparent": "00-abc-def-01"}):
        repo.insert(profile(1))
    repo.update(1, {"name": "b"}, expected_version=1)
    rows = outbox_rows(engine, outbox.table)
    assert json.loads(rows[0].headers) == {"service": "accounts", "traceparent": "00-abc-def-01"}
    assert json.loads(rows[1].headers) == {"service": "accounts"}


def test_round_trips_of_a_blind_update_with_its_event(engine: sa.Engine) -> None:
    """PostgreSQL: one statement (a data-modifying CTE); elsewhere the update and the
    event's INSERT in one transaction."""
    table, outbox = make_source(engine, value="changes")
    repo = occ.sql.Repository(engine, table, outbox=outbox)
    repo.insert(profile(1))
    snap = repo.get(1)
    seen = count_statements(engine)
    repo.update(1, {"name": "b"}, expected_version=1)
    snap.value["name"] = "b"
    expected = 1 if engine.dialect.name == "postgresql" else 2
    if engine.dialect.name == "mysql":
        expected = 3  # UPDATE, the row read back (no RETURNING), the event
    assert len(seen) == expected, seen
    seen.clear()
    repo.delete(1, expected_version=2)
    assert len(seen) == (1 if engine.dialect.name == "postgresql" else 3), seen
    assert len(outbox_rows(engine, outbox.table)) == 3


def test_an_outbox_needs_integer_versions_and_tombstones(engine: sa.Engine) -> None:
    table, outbox = make_source(engine)
    with pytest.raises(occ.ConfigurationError, match="tombstones"):
        occ.sql.Repository(engine, table, outbox=outbox, tombstones=False)
    with pytest.raises(occ.ConfigurationError, match="Outbox"):
        occ.sql.Repository(engine, table, outbox="yes")  # type: ignore[arg-type]
