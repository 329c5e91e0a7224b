"""Session flushes of opted-in classes are versioned writes (SQLite, MariaDB, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session as SQLModelSession

import occ
import occ.orm
import occ.policies
from occ.resolvers import Overwrite
from occ.sql import Repository
from tests.adopt.models import Hero, Legacy, Order, Ticket, create_tables, stored

orders = Order.__table__


@pytest.fixture
def tdb(engine: sa.Engine) -> sa.Engine:
    create_tables(engine)
    return engine


def updates(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "DELETE")):
            seen.append(statement)

    return seen


def add_order(engine: sa.Engine, **values: Any) -> None:
    with Session(engine) as s, s.begin():
        s.add(Order(**{"id": 1, "customer": "ada", "total": 10, **values}))


def test_insert_starts_at_version_one(tdb: sa.Engine) -> None:
    add_order(tdb)
    assert stored(tdb, orders, 1) == {
        "id": 1,
        "customer": "ada",
        "total": 10,
        "note": None,
        "version": 1,
    }


def test_flush_is_one_conditional_update_that_bumps_the_version(tdb: sa.Engine) -> None:
    add_order(tdb)
    seen = updates(tdb)
    with Session(tdb) as s:
        order = s.get_one(Order, 1)
        order.total = 15
        s.commit()
        assert order.version == 2
    assert len(seen) == 1
    assert "version" in seen[0].split("WHERE")[1]
    assert stored(tdb, orders, 1)["total"] == 15  # type: ignore[index]


def test_stale_flush_raises_conflict_error_with_full_conflict(tdb: sa.Engine) -> None:
    add_order(tdb)
    with Session(tdb) as first, Session(tdb) as second:
        mine = first.get_one(Order, 1)
        theirs = second.get_one(Order, 1)
        theirs.customer = "bob"
        second.commit()
        mine.total = 99
        with pytest.raises(occ.ConflictError) as info:
            first.commit()
        first.rollback()
    c = info.value.conflict
    assert (c.entity, c.key, c.action, c.kind) == ("Order", 1, "update", "version")
    assert (c.expected_version, c.actual_version) == (1, 2)
    assert c.base == {"customer": "ada", "total": 10, "note": None}
    assert c.changes == {"total": 99}
    assert c.mine == {"customer": "ada", "total": 99, "note": None}
    assert c.theirs == {"customer": "bob", "total": 10, "note": None}
    assert stored(tdb, orders, 1) == {
        "id": 1,
        "customer": "bob",
        "total": 10,
        "note": None,
        "version": 2,
    }


def test_version_sent_back_by_a_client_is_the_expected_version(tdb: sa.Engine) -> None:
    add_order(tdb)
    with Session(tdb) as s, s.begin():
        s.get_one(Order, 1).total = 20  # someone else: version 2
    with Session(tdb) as s:
        order = s.get_one(Order, 1)  # loaded at version 2
        order.version = 1  # the version the client read, sent back with its form
        order.total = 5
        with pytest.raises(occ.ConflictError) as info:
            s.commit()
    assert (info.value.conflict.expected_version, info.value.conflict.actual_version) == (1, 2)
    assert stored(tdb, orders, 1)["total"] == 20  # type: ignore[index]


def test_merge_of_a_client_object_honours_its_version(tdb: sa.Engine) -> None:
    add_order(tdb, total=20, note="x")
    with Session(tdb) as s, s.begin():
        s.get_one(Order, 1).total = 21
    with Session(tdb) as s:
        s.merge(Order(id=1, customer="ada", total=5, note="x", version=1))
        with pytest.raises(occ.ConflictError):
            s.commit()
    with Session(tdb) as s:  # the current version passes
        s.merge(Order(id=1, customer="ada", total=5, note="x", version=2))
        s.commit()
    assert stored(tdb, orders, 1) == {
        "id": 1,
        "customer": "ada",
        "total": 5,
        "note": "x",
        "version": 3,
    }


def test_client_version_of_the_wrong_type_is_refused(tdb: sa.Engine) -> None:
    add_order(tdb)
    with Session(tdb) as s:
        order = s.get_one(Order, 1)
        order.version = "1"  # type: ignore[assignment]
        order.total = 5
        with pytest.raises(occ.ValidationError, match="must be an int"):
            s.commit()
    assert stored(tdb, orders, 1)["total"] == 10  # type: ignore[index]


def test_discard_policy_refreshes_the_object_to_the_stored_row(tdb: sa.Engine) -> None:
    with Session(tdb) as s, s.begin():
        s.add(Ticket(id=1, title="bug"))
    with Session(tdb) as first, Session(tdb) as second:
        mine = first.get_one(Ticket, 1)
        second.get_one(Ticket, 1).status = "closed"
        second.commit()
        mine.title = "feature"
        first.commit()  # discarded, no error
        assert (mine.title, mine.status, mine.version) == ("bug", "closed", 2)
    assert stored(tdb, Ticket.__table__, 1)["title"] == "bug"  # type: ignore[index]


def test_registry_policy_overwrite_writes_again_at_the_stored_version(tdb: sa.Engine) -> None:
    occ.policies.register(Order, Overwrite())
    add_order(tdb)
    with Session(tdb) as first, Session(tdb) as second:
        mine = first.get_one(Order, 1)
        second.get_one(Order, 1).customer = "bob"
        second.commit()
        mine.total = 42
        first.commit()
        assert mine.version == 3
    assert stored(tdb, orders, 1) == {
        "id": 1,
        "customer": "bob",
        "total": 42,
        "note": None,
        "version": 3,
    }


def test_stale_delete_raises_and_the_row_stays(tdb: sa.Engine) -> None:
    add_order(tdb)
    with Session(tdb) as first, Session(tdb) as second:
        mine = first.get_one(Order, 1)
        second.get_one(Order, 1).total = 11
        second.commit()
        first.delete(mine)
        with pytest.raises(occ.ConflictError) as info:
            first.commit()
    assert info.value.conflict.action == "delete"
    assert stored(tdb, orders, 1) is not None
    with Session(tdb) as s:
        s.delete(s.get_one(Order, 1))
        s.commit()
    assert stored(tdb, orders, 1) is None


def test_update_of_a_row_deleted_under_you_raises_deleted_error(tdb: sa.Engine) -> None:
    add_order(tdb)
    with Session(tdb) as first:
        mine = first.get_one(Order, 1)
        Repository(tdb, Order).delete(1, expected_version=1)
        mine.total = 1
        with pytest.raises(occ.DeletedError):
            first.commit()


def test_rows_without_a_version_are_written_as_version_zero(tdb: sa.Engine) -> None:
    with tdb.begin() as conn:
        conn.execute(orders.insert().values(id=1, customer="old", total=1, version=None))
    with Session(tdb) as s:
        order = s.get_one(Order, 1)
        order.total = 2
        s.commit()
    assert stored(tdb, orders, 1)["version"] == 1  # type: ignore[index]


def test_new_object_carrying_a_version_is_refused(tdb: sa.Engine) -> None:
    with Session(tdb) as s:
        s.add(Order(id=1, customer="ada", total=1, version=7))
        with pytest.raises(occ.ValidationError, match="already carries version 7"):
            s.commit()
    assert stored(tdb, orders, 1) is None


def test_key_change_is_refused(tdb: sa.Engine) -> None:
    add_order(tdb)
    with Session(tdb) as s:
        s.get_one(Order, 1).id = 2
        with pytest.raises(occ.ValidationError, match="key cannot change"):
            s.commit()
    assert stored(tdb, orders, 1) is not None


def test_version_id_col_model_works_unchanged_beside_a_repository(tdb: sa.Engine) -> None:
    with Session(tdb) as s, s.begin():
        s.add(Legacy(id=1, name="a"))
    repo = Repository(tdb, Legacy)
    assert repo.get(1).version == 1
    with Session(tdb) as s:
        legacy = s.get_one(Legacy, 1)
        repo.update(1, {"name": "by occ"}, expected_version=1)
        legacy.name = "by session"
        with pytest.raises(StaleDataError):  # SQLAlchemy's own behaviour, untouched
            s.commit()
    with Session(tdb) as s:
        legacy = s.get_one(Legacy, 1)
        legacy.name = "by session"
        s.commit()
    assert repo.get(1).version == 3
    assert repo.get(1).value.name == "by session"


def test_version_id_col_alone_accepts_a_stale_client_version(tdb: sa.Engine) -> None:
    """The well-known failure occ fixes: SQLAlchemy checks the loaded version, not the client's."""
    with Session(tdb) as s, s.begin():
        s.add(Legacy(id=1, name="a"))
        s.flush()
        s.get_one(Legacy, 1).name = "b"  # version 2
    with Session(tdb) as s:
        legacy = s.get_one(Legacy, 1)
        legacy.version = 1  # what a stale client sent back
        legacy.name = "stale write"
        s.commit()  # accepted
    assert stored(tdb, Legacy.__table__, 1)["name"] == "stale write"  # type: ignore[index]


def test_sqlmodel_flush_is_versioned(tdb: sa.Engine) -> None:
    with SQLModelSession(tdb) as s:
        s.add(Hero(id=1, name="ada"))
        s.commit()
    with SQLModelSession(tdb) as first, SQLModelSession(tdb) as second:
        mine = first.get(Hero, 1)
        theirs = second.get(Hero, 1)
        assert mine is not None
        assert theirs is not None
        assert mine.version == 1
        theirs.power = 3
        second.add(theirs)
        second.commit()
        mine.name = "stale"
        first.add(mine)
        with pytest.raises(occ.ConflictError) as info:
            first.commit()
    assert info.value.conflict.theirs == {"name": "ada", "power": 3}
    assert stored(tdb, Hero.__table__, 1) == {"id": 1, "name": "ada", "power": 3, "version": 2}
    assert Repository(tdb, Hero).update(1, {"power": 4}, expected_version=2).version == 3


async def test_async_session_flush_is_versioned(
    async_engine: AsyncEngine, engine: sa.Engine
) -> None:
    create_tables(engine)
    add_order(engine)
    async with AsyncSession(async_engine) as first, AsyncSession(async_engine) as second:
        mine = await first.get_one(Order, 1)
        theirs = await second.get_one(Order, 1)
        theirs.total = 2
        await second.commit()
        mine.total = 3
        with pytest.raises(occ.ConflictError):
            await first.commit()


# -- models that cannot be versioned ------------------------------------------------


class Plain:
    pass


@pytest.fixture
def base() -> Iterator[type[DeclarativeBase]]:
    class Local(DeclarativeBase):
        pass

    yield Local
    Local.registry.dispose()


def test_unmapped_class_is_refused() -> None:
    with pytest.raises(occ.ConfigurationError, match="not a SQLAlchemy mapped class"):
        occ.orm.versioned(Plain)


def test_table_without_primary_key_is_refused(base: type[DeclarativeBase]) -> None:
    table = sa.Table(
        "occ_t8_nopk", base.metadata, sa.Column("a", sa.Integer), sa.Column("version", sa.Integer)
    )

    class NoKey(base):  # type: ignore[valid-type, misc]
        __table__ = table
        __mapper_args__: Any = {"primary_key": [table.c.a]}

    sa.orm.configure_mappers()
    with pytest.raises(occ.ConfigurationError, match="no primary key"):
        occ.orm.versioned(NoKey)
    assert not occ.orm.is_versioned(NoKey)


def test_version_column_that_cannot_version_is_refused(base: type[DeclarativeBase]) -> None:
    class Texty(base):  # type: ignore[valid-type, misc]
        __tablename__ = "occ_t8_texty"
        id: Mapped[int] = mapped_column(primary_key=True)
        version: Mapped[str] = mapped_column(sa.String(10))

    sa.orm.configure_mappers()
    with pytest.raises(occ.ConfigurationError, match="integer versions need an Integer"):
        occ.orm.versioned(Texty)


def test_mixin_class_with_a_bad_version_column_fails_when_configured(
    base: type[DeclarativeBase],
) -> None:
    class Bad(occ.orm.VersionedMixin, base):  # type: ignore[valid-type, misc]
        __tablename__ = "occ_t8_bad"
        id: Mapped[int] = mapped_column(primary_key=True)
        rev: Mapped[int | None]

    with pytest.raises(occ.ConfigurationError, match="no version column 'version'"):
        sa.orm.configure_mappers()
