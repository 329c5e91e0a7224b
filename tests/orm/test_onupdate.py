"""Column onupdate values behave as without occ: in the ORM flush and in every repository write.

A Python-side ``onupdate`` (a callable or a value) is evaluated once per written
row, a SQL one (``func.now()``) is rendered into the UPDATE; a stale write is
refused and writes neither.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import occ
import occ.orm
import occ.sql
from tests.orm.conftest import Modes
from tests.orm.models import Doc, Note, row

docs = Doc.__table__


def add_doc(modes: Modes) -> dict[str, object]:
    session = modes.session()
    session.add(Doc(id=1, title="draft"))
    session.commit()
    stored = row(modes.engine, docs, 1)
    assert stored is not None
    assert (stored["updated_at"], stored["touched_at"], stored["tick"]) == (None, None, None)
    return stored


def test_flush_evaluates_python_onupdate_and_renders_sql_onupdate(modes: Modes) -> None:
    add_doc(modes)
    session = modes.session()
    doc = session.get(Doc, 1)
    before = dt.datetime.now().replace(microsecond=0)
    doc.title = "final"
    session.flush()
    session.commit()
    stored = row(modes.engine, docs, 1)
    assert stored is not None
    assert stored["version"] == 2
    assert stored["updated_at"] is not None
    assert stored["updated_at"] >= before
    assert stored["touched_at"] is not None
    assert stored["tick"] is not None
    assert (doc.updated_at, doc.tick, doc.version) == (
        stored["updated_at"],
        stored["tick"],
        2,
    )


def test_each_flush_evaluates_the_callable_again(modes: Modes) -> None:
    add_doc(modes)
    session = modes.session()
    doc = session.get(Doc, 1)
    ticks = []
    for title in ("a", "b", "c"):
        doc.title = title
        session.commit()
        ticks.append(row(modes.engine, docs, 1)["tick"])  # type: ignore[index]
    assert len(set(ticks)) == 3
    assert row(modes.engine, docs, 1)["version"] == 4  # type: ignore[index]


def test_an_assigned_value_wins_over_onupdate(modes: Modes) -> None:
    add_doc(modes)
    session = modes.session()
    doc = session.get(Doc, 1)
    doc.title = "x"
    doc.tick = -5
    session.commit()
    assert row(modes.engine, docs, 1)["tick"] == -5  # type: ignore[index]


def test_stale_flush_is_refused_and_writes_no_onupdate_value(modes: Modes) -> None:
    add_doc(modes)
    mine_session, their_session = modes.session(), modes.session()
    mine = mine_session.get(Doc, 1)
    theirs = their_session.get(Doc, 1)
    theirs.title = "theirs"
    their_session.commit()
    after_theirs = row(modes.engine, docs, 1)
    mine.title = "mine"
    with pytest.raises(occ.ConflictError) as info:
        mine_session.commit()
    mine_session.rollback()
    assert info.value.conflict.actual_version == 2
    assert row(modes.engine, docs, 1) == after_theirs


@pytest.mark.parametrize("how", ["save", "update", "modify"])
def test_repository_writes_evaluate_onupdate(modes: Modes, how: str) -> None:
    add_doc(modes)
    docs_repo = modes.repo(Doc)
    snap = docs_repo.get(1)
    if how == "save":
        snap.value.title = "saved"
        written = docs_repo.save(snap)
    elif how == "update":
        written = docs_repo.update(1, {"title": "updated"}, expected_version=snap.version)
        # update() returns the stored row: the values the database kept are in it.
        assert written.value.updated_at is not None
        assert written.value.tick is not None
    else:
        written = docs_repo.modify(1, lambda d: setattr(d, "title", "modified"))
    stored = row(modes.engine, docs, 1)
    assert stored is not None
    assert written.version == stored["version"] == 2
    assert stored["updated_at"] is not None
    assert stored["touched_at"] is not None
    assert stored["tick"] is not None


def test_stale_repository_write_is_refused_and_writes_no_onupdate_value(modes: Modes) -> None:
    add_doc(modes)
    docs_repo = modes.repo(Doc)
    snap = docs_repo.get(1)
    docs_repo.update(1, {"title": "theirs"}, expected_version=1)
    after_theirs = row(modes.engine, docs, 1)
    snap.value.title = "mine"
    with pytest.raises(occ.ConflictError):
        docs_repo.save(snap)
    with pytest.raises(occ.ConflictError):
        docs_repo.update(1, {"title": "mine"}, expected_version=1)
    assert row(modes.engine, docs, 1) == after_theirs


def test_sqlmodel_onupdate_is_evaluated(modes: Modes) -> None:
    session = modes.session()
    session.add(Note(id=1, text="a"))
    session.commit()
    note = session.get(Note, 1)
    note.text = "b"
    session.commit()
    stored = row(modes.engine, Note.__table__, 1)
    assert stored is not None
    assert stored["version"] == 2
    assert stored["edited_at"] is not None
    assert note.edited_at == stored["edited_at"]
    assert modes.repo(Note).update(1, {"text": "c"}, expected_version=2).version == 3
    assert row(modes.engine, Note.__table__, 1)["edited_at"] > stored["edited_at"]  # type: ignore[index]


def test_server_onupdate_is_left_to_the_database_and_reloaded(engine: sa.Engine) -> None:
    """A column the database sets itself (a trigger, MySQL's ON UPDATE) is never written by occ
    and is expired on the object, so reading it loads what the database stored."""

    class Local(DeclarativeBase):
        pass

    class Counter(Local):
        __tablename__ = "occ_orm_counters"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
        hits: Mapped[int] = mapped_column(default=0)
        doubled: Mapped[int | None] = mapped_column(sa.Computed("hits * 2", persisted=True))
        version: Mapped[int | None]

    occ.orm.versioned(Counter)
    Local.metadata.drop_all(engine)
    Local.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            session.add(Counter(id=1, hits=1))
            session.commit()
            counter = session.get_one(Counter, 1)
            assert counter.doubled == 2
            counter.hits = 5
            session.flush()
            assert counter.doubled == 10  # loaded again, as SQLAlchemy does without occ
            session.commit()
        assert (
            occ.sql.Repository(engine, Counter)
            .update(1, {"hits": 7}, expected_version=2)
            .value.doubled
            == 14
        )
    finally:
        Local.metadata.drop_all(engine)
        Local.registry.dispose()
