"""The outbox of ``occ.orm`` flushes: one event per INSERT, UPDATE and DELETE of a versioned
object, written on the flush's connection, so it commits and rolls back with the session."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import occ
import occ.orm
import occ.policies
from occ.sync import Outbox, OutboxReader, Replica, outbox_table
from tests.sql.models import clear_tombstones
from tests.sync.models import outbox_rows, unique


class Base(DeclarativeBase):
    pass


@occ.orm.versioned
class Member(Base):
    """A versioned ORM class of an app that opted in to the outbox."""

    __tablename__ = "occ_sync_orm_members"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str | None] = mapped_column(sa.String(120))
    version: Mapped[int | None]


@pytest.fixture
def outbox(engine: sa.Engine) -> Iterator[Outbox]:
    """A fresh members table and an outbox of this test's own, registered for ``Member``."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    clear_tombstones(engine)
    box = Outbox(table=unique("ob"), entity="members")
    outbox_table(box.table).create(engine)
    occ.policies.register_outbox(Member, box)
    yield box
    Base.metadata.drop_all(engine)


def events(engine: sa.Engine, outbox: Outbox) -> list[tuple[str, int, int | None]]:
    return [(r.operation, r.version, r.previous) for r in outbox_rows(engine, outbox.table)]


def test_each_insert_update_and_delete_flush_emits_exactly_one_event(
    engine: sa.Engine, outbox: Outbox
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        ada = Member(id=1, name="ada", email="ada@example.org")
        session.add_all([ada, Member(id=2, name="grace")])
        session.commit()
        assert events(engine, outbox) == [("insert", 1, None), ("insert", 1, None)]
        ada.email = "ada@lovelace.org"
        session.commit()
        session.commit()  # nothing changed: no flush, no event
        session.delete(ada)
        session.commit()
    rows = outbox_rows(engine, outbox.table)
    assert [(r.operation, r.entity_key) for r in rows] == [
        ("insert", "[1]"),
        ("insert", "[2]"),
        ("update", "[1]"),
        ("delete", "[1]"),
    ]
    update, delete = rows[2], rows[3]
    assert (update.version, update.previous) == (2, 1)
    assert json.loads(update.changes) == {"email": "ada@lovelace.org"}
    assert json.loads(update.value) == {"name": "ada", "email": "ada@lovelace.org"}
    assert json.loads(rows[0].value) == {"name": "ada", "email": "ada@example.org"}
    # the flush checks and bumps the version before SQLAlchemy deletes the row
    assert (delete.version, delete.previous, delete.value) == (3, 3, None)
    assert {r.entity for r in rows} == {"members"}
    assert len({r.event_id for r in rows}) == 4


def test_a_rolled_back_session_emits_no_event(engine: sa.Engine, outbox: Outbox) -> None:
    with Session(engine) as session:
        session.add(Member(id=1, name="ada"))
        session.flush()
        session.rollback()
    assert events(engine, outbox) == []
    with Session(engine) as session:
        session.add(Member(id=1, name="ada"))
        session.commit()
    for delete in (False, True):  # an update, then a delete, each flushed and rolled back
        with Session(engine) as session:
            member = session.get(Member, 1)
            assert member is not None
            if delete:
                session.delete(member)
            else:
                member.name = "rolled back"
            session.flush()
            session.rollback()
    assert events(engine, outbox) == [("insert", 1, None)]
    with engine.connect() as conn:
        assert conn.execute(sa.select(Member.name, Member.version)).one() == ("ada", 1)


def test_the_event_is_written_inside_the_flushs_transaction(
    engine: sa.Engine, outbox: Outbox
) -> None:
    table = outbox_table(outbox.table)
    with Session(engine) as session:
        session.add(Member(id=1, name="ada"))
        session.flush()
        inside = session.execute(sa.select(sa.func.count()).select_from(table)).scalar()
        assert inside == 1  # the flush's connection sees its event...
        with engine.connect() as other:  # ...no other connection does before the commit
            assert other.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
        session.commit()
    assert events(engine, outbox) == [("insert", 1, None)]


def test_a_stale_flush_raises_and_emits_no_event(engine: sa.Engine, outbox: Outbox) -> None:
    with Session(engine) as session:
        session.add(Member(id=1, name="ada"))
        session.commit()
    with Session(engine) as mine, Session(engine) as theirs:
        stale = mine.get(Member, 1)
        fresh = theirs.get(Member, 1)
        assert stale is not None
        assert fresh is not None
        fresh.name = "theirs"
        theirs.commit()
        stale.name = "mine"
        with pytest.raises(occ.ConflictError):
            mine.commit()
    assert events(engine, outbox) == [("insert", 1, None), ("update", 2, 1)]


def test_a_replica_fed_the_flushes_events_ends_equal_to_the_table(
    engine: sa.Engine, outbox: Outbox
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        members = [Member(id=k, name=f"m{k}") for k in range(1, 5)]
        session.add_all(members)
        session.commit()
        members[0].email = "one@example.org"
        members[1].name = "two"
        session.delete(members[2])
        session.commit()
    copy = sa.Table(
        unique("copy"),
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(80)),
        sa.Column("email", sa.String(120)),
        sa.Column("version", sa.Integer),
    )
    copy.create(engine)
    replica = Replica(engine, copy, entity="members")
    reader = OutboxReader(engine, outbox.table)
    pending = reader.pending(list(range(16)), 100)
    assert [replica.apply(e) for e in pending].count("applied") == len(pending) == 7
    with engine.connect() as conn:
        source = conn.execute(sa.select(Member.__table__).order_by(Member.id)).all()
        assert conn.execute(sa.select(copy).order_by(copy.c.id)).all() == source


async def test_async_session_flushes_emit_the_same_events(
    async_engine: AsyncEngine, engine: sa.Engine, outbox: Outbox
) -> None:
    async with AsyncSession(async_engine, expire_on_commit=False) as session:
        member = Member(id=1, name="ada")
        session.add(member)
        await session.commit()
        member.name = "ada lovelace"
        await session.commit()
        await session.delete(member)
        await session.flush()
        await session.rollback()  # the delete and its event are gone
    assert events(engine, outbox) == [("insert", 1, None), ("update", 2, 1)]
