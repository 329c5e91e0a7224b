"""``post_update=True`` relationships: the second UPDATE SQLAlchemy makes is versioned.

The row a post update changes gets a version check and bump first (the same
flush, the same transaction); a stale object is refused with nothing written.
A post update of a row inserted in the same flush leaves it at version 1.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import selectinload

import occ
from tests.orm.conftest import Modes
from tests.orm.models import Node, row

nodes = Node.__table__
#: loaded with the parent, so async sessions never lazy-load in the test body.
with_children = selectinload(Node.children)


def add_nodes(modes: Modes) -> None:
    session = modes.session()
    session.add_all([Node(id=1, label="a"), Node(id=2, label="b")])
    session.commit()


def version(modes: Modes, key: int) -> int:
    return row(modes.engine, nodes, key)["version"]  # type: ignore[index]


def test_inserted_together_rows_stay_at_version_one(modes: Modes) -> None:
    session = modes.session()
    one, two = Node(id=1), Node(id=2)
    one.favorite = two
    one.children.append(two)
    session.add_all([one, two])
    session.commit()
    assert (version(modes, 1), version(modes, 2)) == (1, 1)
    assert row(modes.engine, nodes, 1)["favorite_id"] == 2  # type: ignore[index]
    assert row(modes.engine, nodes, 2)["parent_id"] == 1  # type: ignore[index]


def test_many_to_one_post_update_bumps_the_row_it_changes(modes: Modes) -> None:
    add_nodes(modes)
    session = modes.session()
    one, two = session.get(Node, 1), session.get(Node, 2)
    one.favorite = two
    session.commit()
    assert row(modes.engine, nodes, 1)["favorite_id"] == 2  # type: ignore[index]
    assert version(modes, 1) > 1
    assert version(modes, 2) == 1


def test_one_to_many_post_update_bumps_the_child_rows(modes: Modes) -> None:
    add_nodes(modes)
    session = modes.session()
    one, two = session.get(Node, 1, options=[with_children]), session.get(Node, 2)
    one.children.append(two)
    session.commit()
    assert row(modes.engine, nodes, 2)["parent_id"] == 1  # type: ignore[index]
    assert version(modes, 2) > 1
    assert version(modes, 1) == 1


def test_stale_many_to_one_post_update_is_refused(modes: Modes) -> None:
    add_nodes(modes)
    session, other = modes.session(), modes.session()
    one, two = session.get(Node, 1), session.get(Node, 2)
    other.get(Node, 1).label = "theirs"
    other.commit()
    after = row(modes.engine, nodes, 1)
    one.favorite = two
    with pytest.raises(occ.ConflictError):
        session.commit()
    session.rollback()
    assert row(modes.engine, nodes, 1) == after


def test_stale_one_to_many_post_update_child_is_refused(modes: Modes) -> None:
    add_nodes(modes)
    session, other = modes.session(), modes.session()
    one, two = session.get(Node, 1, options=[with_children]), session.get(Node, 2)
    other.get(Node, 2).label = "theirs"
    other.commit()
    after = row(modes.engine, nodes, 2)
    one.children.append(two)
    with pytest.raises(occ.ConflictError):
        session.commit()
    session.rollback()
    assert row(modes.engine, nodes, 2) == after


def test_delete_with_a_post_update_is_checked(modes: Modes) -> None:
    session = modes.session()
    one, two = Node(id=1), Node(id=2)
    one.favorite = two
    session.add_all([one, two])
    session.commit()
    other = modes.session()
    other.get(Node, 1).label = "theirs"
    other.commit()
    session.delete(one)
    with pytest.raises(occ.ConflictError):
        session.commit()
    session.rollback()
    assert row(modes.engine, nodes, 1)["label"] == "theirs"  # type: ignore[index]
