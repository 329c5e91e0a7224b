"""Relationships of values read through a repository, and locking re-loads.

A repository reads one row: the value it returns is *detached*, as an object
loaded and then closed. Its relationships are unloaded and raise
``DetachedInstanceError`` when read (never a silent ``None`` or empty list);
adding it to a session lets them load, and its flush expects the version the
repository read.

A locking re-load (``with_for_update``) of an object already in the session
does not change it (SQLAlchemy's identity map keeps the loaded state) and does
not raise: the flush still expects the version the object was loaded with,
so a stale write is refused there. ``session.refresh(obj, with_for_update=True)``
(or ``populate_existing()``) starts again from the locked row.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import DetachedInstanceError

import occ
from tests.orm.conftest import Modes
from tests.orm.models import Account, Doc, Entry, Profile, row


def add_account(modes: Modes) -> None:
    session = modes.session()
    session.add(Account(id=1, owner="ada", profile=Profile(bio="hi")))
    session.add_all([Entry(id=1, account_id=1, amount=5), Entry(id=2, account_id=1, amount=7)])
    session.commit()


def test_relationships_of_a_repository_value_raise_instead_of_reading_none(
    modes: Modes,
) -> None:
    add_account(modes)
    account = modes.repo(Account).get(1).value
    assert account.owner == "ada"
    with pytest.raises(DetachedInstanceError):
        _ = account.entries
    with pytest.raises(DetachedInstanceError):
        _ = account.profile
    assert sa.inspect(account).detached


def test_a_repository_value_added_to_a_session_loads_them_and_flushes_versioned(
    modes: Modes,
) -> None:
    add_account(modes)
    accounts = modes.repo(Account)
    snap = accounts.get(1)
    session = modes.session()
    session.add(snap.value)
    session.refresh(snap.value, ["entries", "profile"])
    assert sorted(e.amount for e in snap.value.entries) == [5, 7]
    assert snap.value.profile.bio == "hi"
    accounts.update(1, {"owner": "theirs"}, expected_version=snap.version)
    snap.value.owner = "stale"
    with pytest.raises(occ.ConflictError):
        session.commit()
    session.rollback()
    assert row(modes.engine, Account.__table__, 1)["owner"] == "theirs"  # type: ignore[index]


def test_a_locking_reload_keeps_the_stale_version_and_the_flush_refuses(modes: Modes) -> None:
    session = modes.session()
    session.add(Doc(id=1, title="a"))
    session.commit()
    mine = session.get(Doc, 1)
    other = modes.session()
    other.get(Doc, 1).title = "theirs"
    other.commit()
    after = row(modes.engine, Doc.__table__, 1)
    again = session.get(Doc, 1, with_for_update=True)
    assert again is mine
    assert mine.version == 1  # not refreshed: the identity map keeps what was loaded
    mine.title = "mine"
    with pytest.raises(occ.ConflictError) as info:
        session.commit()
    session.rollback()
    assert info.value.conflict.actual_version == 2
    assert row(modes.engine, Doc.__table__, 1) == after

    session.refresh(mine, with_for_update=True)  # start again from the locked row
    assert mine.version == 2
    mine.title = "mine"
    session.commit()
    assert row(modes.engine, Doc.__table__, 1)["version"] == 3  # type: ignore[index]


def test_adding_a_child_does_not_move_the_parents_version(modes: Modes) -> None:
    """Only the rows a flush writes move on: a child's foreign key is not its parent's row."""
    add_account(modes)
    session = modes.session()
    account = session.get(Account, 1, options=[sa.orm.selectinload(Account.entries)])
    account.entries.append(Entry(id=3, amount=1))
    session.commit()
    assert row(modes.engine, Account.__table__, 1)["version"] == 1  # type: ignore[index]
    assert row(modes.engine, Entry.__table__, 3)["account_id"] == 1  # type: ignore[index]
