"""Row switch: an object deleted and a new one added under its key in one flush.

SQLAlchemy turns the pair into an UPDATE of the row; `occ` writes it as a
versioned update expecting the version the deleted object was loaded with:
the version moves on (never back to 1) and a stale switch is refused.
"""

from __future__ import annotations

import pytest

import occ
from tests.orm.conftest import Modes
from tests.orm.models import Account, Doc, Note, Profile, row

docs = Doc.__table__


def test_row_switch_is_an_update_that_moves_the_version_on(modes: Modes) -> None:
    session = modes.session()
    session.add(Doc(id=1, title="first"))
    session.commit()
    session.delete(session.get(Doc, 1))
    replacement = Doc(id=1, title="second")
    session.add(replacement)
    session.commit()
    stored = row(modes.engine, docs, 1)
    assert stored is not None
    assert (stored["title"], stored["version"]) == ("second", 2)
    assert replacement.version == 2
    assert stored["tick"] is not None  # written as an UPDATE: onupdate applies


def test_stale_row_switch_is_refused_and_writes_nothing(modes: Modes) -> None:
    first = modes.session()
    first.add(Doc(id=1, title="first"))
    first.commit()
    old = first.get(Doc, 1)
    second = modes.session()
    second.get(Doc, 1).title = "theirs"
    second.commit()
    after = row(modes.engine, docs, 1)
    first.delete(old)
    first.add(Doc(id=1, title="mine"))
    with pytest.raises(occ.ConflictError) as info:
        first.commit()
    first.rollback()
    assert (info.value.conflict.expected_version, info.value.conflict.actual_version) == (1, 2)
    assert row(modes.engine, docs, 1) == after


def test_replacing_a_one_to_one_child_keyed_by_its_parent_is_checked(modes: Modes) -> None:
    session = modes.session()
    session.add(Account(id=1, owner="ada", profile=Profile(bio="one")))
    session.commit()
    account = session.get(Account, 1)
    modes_profile = modes.session()
    other = modes_profile.get(Profile, 1)
    other.bio = "theirs"
    modes_profile.commit()
    after = row(modes.engine, Profile.__table__, 1)
    assert after is not None
    assert after["version"] == 2
    loaded = session.get(Profile, 1)
    assert loaded.version == 1  # this session's copy is stale
    account.profile = Profile(bio="mine")  # the old one is deleted as an orphan: row switch
    with pytest.raises(occ.ConflictError):
        session.commit()
    session.rollback()
    assert row(modes.engine, Profile.__table__, 1) == after

    fresh = modes.session()
    account = fresh.get(Account, 1)
    fresh.get(Profile, 1)
    account.profile = Profile(bio="current")
    fresh.commit()
    stored = row(modes.engine, Profile.__table__, 1)
    assert stored is not None
    assert (stored["bio"], stored["version"]) == ("current", 3)


def test_sqlmodel_row_switch_is_checked(modes: Modes) -> None:
    session = modes.session()
    session.add(Note(id=1, text="first"))
    session.commit()
    old = session.get(Note, 1)
    other = modes.session()
    theirs = other.get(Note, 1)
    theirs.text = "theirs"
    other.add(theirs)
    other.commit()
    session.delete(old)
    session.add(Note(id=1, text="mine"))
    with pytest.raises(occ.ConflictError):
        session.commit()
    session.rollback()
    stored = row(modes.engine, Note.__table__, 1)
    assert stored is not None
    assert (stored["text"], stored["version"]) == ("theirs", 2)

    current = modes.session()
    current.delete(current.get(Note, 1))
    current.add(Note(id=1, text="replaced"))  # its version field defaults to None
    current.commit()
    stored = row(modes.engine, Note.__table__, 1)
    assert stored is not None
    assert (stored["text"], stored["version"]) == ("replaced", 3)
