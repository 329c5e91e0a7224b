"""SQL replicas: apply if newer, on SQLite, MariaDB and PostgreSQL, sync and async."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import occ
from occ.sync import AsyncReplica, Event, EventError, Replica
from tests.sync.models import profile_table, unique

SOURCE = "profiles"


def event(
    version: int,
    key: Any = 1,
    *,
    op: str = "update",
    previous: int | None = None,
    value: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    full: bool = True,
) -> Event:
    if op == "insert":
        previous = None
    elif previous is None:
        previous = version if op == "delete" else version - 1
    body = value or {
        "name": f"v{version}",
        "email": None,
        "credit": "1.50",
        "born": "1990-01-02",
        "visits": version,
    }
    return Event(
        id=f"e{key}-{version}-{op}",
        entity=SOURCE,
        key=key,
        version=version,
        previous=previous,
        operation=op,  # type: ignore[arg-type]
        changes=changes if changes is not None else ({} if op == "delete" else body),
        value=None if op == "delete" or not full else body,
    )


@pytest.fixture
def table(engine: sa.Engine) -> sa.Table:
    t = profile_table(unique("copy"))
    t.create(engine)
    return t


def held(engine: sa.Engine, table: sa.Table, key: int = 1) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(table).where(table.c.id == key)).first()


def test_apply_inserts_updates_if_newer_and_discards_stale_and_duplicates(
    engine: sa.Engine, table: sa.Table
) -> None:
    replica = Replica(engine, table, entity=SOURCE)
    assert replica.apply(event(1, op="insert")) == "applied"
    assert replica.apply(event(3)) == "applied"
    assert replica.apply(event(2)) == "stale"
    assert replica.apply(event(3)) == "duplicate"
    row = held(engine, table)
    assert (row.version, row.name, row.visits) == (3, "v3", 3)
    assert row.credit == decimal.Decimal("1.50")
    assert row.born == dt.date(1990, 1, 2)
    assert replica.counts == {"applied": 2, "stale": 1, "duplicate": 1}


def test_a_delete_leaves_a_tombstone_no_late_update_brings_back(
    engine: sa.Engine, table: sa.Table
) -> None:
    replica = Replica(engine, table, entity=SOURCE)
    replica.apply(event(2))
    assert replica.apply(event(2, op="delete")) == "applied"
    assert held(engine, table) is None
    assert replica.apply(event(2)) == "stale"  # the live v2 is older than its delete
    assert replica.apply(event(1, op="insert")) == "stale"
    assert replica.apply(event(2, op="delete")) == "duplicate"
    assert held(engine, table) is None
    assert replica.apply(event(3, op="insert")) == "applied"  # inserted again, past the tombstone
    assert held(engine, table).version == 3
    # A delete that arrives before anything else still leaves its tombstone.
    assert replica.apply(event(4, key=2, op="delete")) == "applied"
    assert replica.apply(event(3, key=2)) == "stale"
    assert held(engine, table, 2) is None
    assert replica.purge_tombstones(dt.timedelta(0)) == 2


def test_two_replicas_of_one_entity_in_one_database_keep_their_own_tombstones(
    engine: sa.Engine, table: sa.Table
) -> None:
    other = profile_table(unique("copy"))
    other.create(engine)
    ahead, behind = Replica(engine, table, entity=SOURCE), Replica(engine, other, entity=SOURCE)
    for replica in (ahead, behind):
        assert replica.apply(event(1, op="insert")) == "applied"
    assert ahead.apply(event(2)) == "applied"
    assert ahead.apply(event(2, op="delete")) == "applied"
    # the other replica has not seen the delete: its events apply to it as they come
    assert behind.apply(event(2)) == "applied"
    assert held(engine, other).version == 2
    assert behind.apply(event(2, op="delete")) == "applied"
    assert ahead.purge_tombstones(dt.timedelta(0)) == 1  # its own, not the other's
    assert behind.apply(event(2)) == "stale"


def test_changes_only_events_never_apply_over_a_gap(engine: sa.Engine, table: sa.Table) -> None:
    replica = Replica(engine, table, entity=SOURCE)
    assert replica.apply(event(1, op="insert", full=False)) == "applied"
    v3 = event(3, changes={"visits": 33}, full=False)
    assert replica.apply(v3) == "gap"
    assert held(engine, table).version == 1
    assert replica.apply(event(2, changes={"name": "two"}, full=False)) == "applied"
    assert replica.apply(v3) == "applied"
    row = held(engine, table)
    assert (row.version, row.name, row.visits) == (3, "two", 33)
    assert replica.apply(event(2, changes={"name": "old"}, full=False)) == "stale"
    assert replica.apply(v3) == "duplicate"


def test_a_gap_is_fetched_from_the_source_when_a_fetcher_is_given(
    engine: sa.Engine, table: sa.Table
) -> None:
    asked: list[Event] = []

    def fetch(missing: Event) -> Event:
        asked.append(missing)
        return event(5)

    replica = Replica(engine, table, entity=SOURCE, fetch=fetch)
    replica.apply(event(1, op="insert"))
    assert replica.apply(event(4, changes={"visits": 4}, full=False)) == "applied"
    assert [e.version for e in asked] == [4]
    assert held(engine, table).version == 5


def test_a_replica_keeps_only_the_fields_it_names(engine: sa.Engine) -> None:
    t = sa.Table(
        unique("names"),
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(80)),
        sa.Column("version", sa.Integer),
    )
    t.create(engine)
    replica = Replica(engine, t, entity=SOURCE, fields=["name"])
    assert replica.apply(event(1, op="insert")) == "applied"
    assert replica.apply(event(2)) == "applied"
    with engine.connect() as conn:
        assert conn.execute(sa.select(t)).one() == (1, "v2", 2)
    with pytest.raises(occ.ConfigurationError, match="no fields"):
        Replica(engine, t, entity=SOURCE, fields=["email"])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"entity": "orders"}, "applies 'profiles' events"),
        ({"key": (1, 2)}, "1 part"),
        ({"key": "x"}, "does not fit int"),
        (
            {"value": {"name": "n", "email": None, "credit": "lots", "born": None, "visits": 1}},
            "credit",
        ),
        ({"value": {"name": "n"}}, "has no field"),
        (
            {"value": {"name": None, "email": None, "credit": None, "born": None, "visits": 1}},
            "cannot be null",
        ),
    ],
)
def test_bad_events_are_rejected_with_a_clear_error_and_write_nothing(
    engine: sa.Engine, table: sa.Table, bad: dict[str, Any], message: str
) -> None:
    replica = Replica(engine, table, entity=SOURCE)
    good = event(1, op="insert")
    fields = {f: getattr(good, f) for f in good.__dataclass_fields__}
    with pytest.raises(EventError, match=message):
        replica.apply(Event(**{**fields, **bad}))
    with pytest.raises(EventError, match=message):
        replica.apply_many([event(1, key=5, op="insert"), Event(**{**fields, **bad})])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


def test_apply_many_is_two_selects_and_one_upsert_and_reports_each_outcome(
    engine: sa.Engine, table: sa.Table
) -> None:
    replica = Replica(engine, table, entity=SOURCE)
    replica.apply(event(5, key=1))
    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    batch = [event(v, key=k) for k in range(1, 21) for v in (2, 6, 6)]
    outcomes = replica.apply_many(batch)
    assert outcomes[:3] == ["stale", "applied", "duplicate"]
    assert outcomes[3:6] == ["stale", "applied", "duplicate"]
    assert len([s for s in statements if s.lstrip().upper().startswith(("INSERT", "SELECT"))]) == 3
    with engine.connect() as conn:
        versions = conn.execute(sa.select(table.c.version)).scalars().all()
    assert sorted(versions) == [6] * 20


async def test_the_async_replica_applies_the_same_rule(
    async_engine: AsyncEngine, engine: sa.Engine
) -> None:
    t = profile_table(unique("acopy"))
    t.create(engine)
    replica = AsyncReplica(async_engine, t, entity=SOURCE)
    assert await replica.apply(event(2)) == "applied"
    assert await replica.apply(event(1)) == "stale"
    assert await replica.apply_many([event(3), event(3, op="delete")]) == ["applied", "applied"]
    assert held(engine, t) is None
