"""Bulk ORM writes of a versioned class: versioned, or refused saying what to use instead.

Versioned: ``session.execute(update(Model), rows)`` (a row that carries its
version is checked, every row gets the next version), ``session.execute(
update(Model).where(...).values(...))`` (every changed row gets the next
version), ``session.execute(insert(Model), rows)``, ``bulk_insert_mappings`` and
new objects in ``bulk_save_objects`` (version 1). Refused: ``bulk_update_mappings``
and persistent objects in ``bulk_save_objects`` (SQLAlchemy's legacy bulk API
fires no event, so the versions cannot be checked), and new rows carrying a
version other than the first.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session as SQLModelSession

import occ
from tests.orm.conftest import Modes
from tests.orm.models import Car, Doc, Engineer, Event, Note, Vehicle, row

docs = Doc.__table__


def add_docs(modes: Modes) -> None:
    session = modes.session()
    session.add_all([Doc(id=1, title="a"), Doc(id=2, title="b")])
    session.commit()


def stored(modes: Modes) -> list[tuple[Any, ...]]:
    with modes.engine.connect() as conn:
        select = sa.select(docs.c.id, docs.c.title, docs.c.version).order_by(docs.c.id)
        return [tuple(r) for r in conn.execute(select)]


def test_bulk_update_by_primary_key_checks_rows_that_carry_a_version(modes: Modes) -> None:
    add_docs(modes)
    session = modes.session()
    session.execute(
        sa.update(Doc),
        [{"id": 1, "title": "a2", "version": 1}, {"id": 2, "title": "b2", "version": None}],
    )
    session.commit()
    assert stored(modes) == [(1, "a2", 2), (2, "b2", 2)]
    assert row(modes.engine, docs, 1)["tick"] is not None  # type: ignore[index]


def test_stale_row_of_a_bulk_update_is_refused_and_nothing_is_written(modes: Modes) -> None:
    add_docs(modes)
    modes.repo(Doc).update(1, {"title": "theirs"}, expected_version=1)
    before = stored(modes)
    session = modes.session()
    with pytest.raises(occ.ConflictError) as info:
        session.execute(
            sa.update(Doc),
            [{"id": 2, "title": "b2", "version": 1}, {"id": 1, "title": "stale", "version": 1}],
        )
    session.rollback()
    assert (info.value.conflict.key, info.value.conflict.actual_version) == (1, 2)
    assert stored(modes) == before


def test_bulk_update_where_bumps_every_row_it_changes(modes: Modes) -> None:
    add_docs(modes)
    session = modes.session()
    stale = modes.session()
    copy = stale.get(Doc, 1)
    session.execute(sa.update(Doc).where(Doc.id >= 1).values(title="all"))
    session.commit()
    assert stored(modes) == [(1, "all", 2), (2, "all", 2)]
    copy.title = "stale"  # loaded before the bulk update: refused, not silently applied
    with pytest.raises(occ.ConflictError):
        stale.commit()
    stale.rollback()
    assert stored(modes) == [(1, "all", 2), (2, "all", 2)]


def test_bulk_update_where_keeps_the_session_objects_current(modes: Modes) -> None:
    add_docs(modes)
    session = modes.session()
    doc = session.get(Doc, 1)
    session.execute(sa.update(Doc).where(Doc.id == 1).values(title="bulk"))
    doc.title = "after"
    session.commit()
    assert stored(modes)[0] == (1, "after", 3)


def test_bulk_inserts_start_at_version_one(modes: Modes) -> None:
    session = modes.session()
    session.execute(sa.insert(Doc), [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}])
    session.commit()
    sync = modes.engine
    with sa.orm.Session(sync) as plain:
        plain.bulk_insert_mappings(Doc, [{"id": 3, "title": "c"}])  # type: ignore[arg-type]
        plain.bulk_save_objects([Doc(id=4, title="d")])
        plain.commit()
    assert [r[2] for r in stored(modes)] == [1, 1, 1, 1]


def test_bulk_inserts_carrying_a_version_are_refused(modes: Modes) -> None:
    session = modes.session()
    with pytest.raises(occ.ValidationError, match="starts at the first version"):
        session.execute(sa.insert(Doc), [{"id": 1, "title": "a", "version": 7}])
    session.rollback()
    with sa.orm.Session(modes.engine) as plain:
        with pytest.raises(occ.ValidationError, match="starts at the first version"):
            plain.bulk_insert_mappings(Doc, [{"id": 2, "title": "b", "version": 7}])  # type: ignore[arg-type]
        plain.rollback()
    assert stored(modes) == []


def update_mappings(session: sa.orm.Session, doc: Doc) -> None:
    session.bulk_update_mappings(Doc, [{"id": 1, "title": "x", "version": 1}])  # type: ignore[arg-type]


def save_objects(session: sa.orm.Session, doc: Doc) -> None:
    session.bulk_save_objects([doc])


@pytest.mark.parametrize("api", [update_mappings, save_objects])
def test_legacy_bulk_updates_are_refused_naming_the_alternative(modes: Modes, api: Any) -> None:
    add_docs(modes)
    before = stored(modes)
    with sa.orm.Session(modes.engine) as session:
        doc = session.get_one(Doc, 1)
        doc.title = "x"
        with pytest.raises(occ.ValidationError, match=r"session.execute\(sa.update\(Doc\), rows\)"):
            api(session, doc)
        session.rollback()
    assert stored(modes) == before


def test_bulk_update_of_a_hierarchy_is_versioned(modes: Modes) -> None:
    session = modes.session()
    session.add_all([Car(id=1, name="a", doors=3), Engineer(id=2, name="e", language="c")])
    session.commit()
    session.execute(sa.update(Car), [{"id": 1, "doors": 5, "version": 1}])
    session.execute(sa.update(Engineer), [{"id": 2, "language": "go", "version": 1}])
    session.commit()
    assert row(modes.engine, Vehicle.__table__, 1)["version"] == 2  # type: ignore[index]
    assert row(modes.engine, Engineer.__table__, 2)["language"] == "go"  # type: ignore[index]
    with pytest.raises(occ.ConflictError):
        session.execute(sa.update(Engineer), [{"id": 2, "language": "stale", "version": 1}])
    session.rollback()
    assert row(modes.engine, Engineer.__table__, 2)["language"] == "go"  # type: ignore[index]


def test_sqlmodel_bulk_update_is_versioned(tdb: sa.Engine) -> None:
    with SQLModelSession(tdb) as session:
        session.add(Note(id=1, text="a"))
        session.commit()
        session.exec(sa.update(Note), params=[{"id": 1, "text": "b", "version": 1}])  # type: ignore[call-overload]
        session.commit()
        with pytest.raises(occ.ConflictError):
            session.exec(sa.update(Note), params=[{"id": 1, "text": "c", "version": 1}])  # type: ignore[call-overload]
        session.rollback()
    assert row(tdb, Note.__table__, 1)["text"] == "b"  # type: ignore[index]
    assert row(tdb, Note.__table__, 1)["version"] == 2  # type: ignore[index]


def test_bulk_writes_of_timestamp_versions_start_and_move_them(modes: Modes) -> None:
    session = modes.session()
    session.execute(sa.insert(Event), [{"id": 1, "what": "a"}])
    session.commit()
    first = row(modes.engine, Event.__table__, 1)["changed"]  # type: ignore[index]
    assert first is not None
    session.execute(sa.update(Event).where(Event.id == 1).values(what="b"))
    session.commit()
    second = row(modes.engine, Event.__table__, 1)["changed"]  # type: ignore[index]
    assert second > first
    with pytest.raises(occ.ConflictError):
        modes.repo(Event, version_column="changed", version_type="timestamp").update(
            1, {"what": "stale"}, expected_version=first
        )
