"""Inheritance: the whole hierarchy is versioned, with the version on the base table.

Single-table (``Vehicle`` → ``Car``, ``Bike``) and joined-table (``Employee`` →
``Engineer``, ``Manager``) hierarchies, through the ORM and through
repositories: subclass rows start at version 1, a stale write of any table of
the row is refused with nothing written, a repository of a subclass sees only
its rows, and a repository of the base returns each row as its own class.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import occ
import occ.orm
import occ.sql
from tests.orm.conftest import Modes
from tests.orm.models import Bike, Car, Circle, Employee, Engineer, Manager, Shape, Vehicle, row

vehicles = Vehicle.__table__
employees = Employee.__table__
engineers = Engineer.__table__


def add(modes: Modes, *objects: Any) -> None:
    session = modes.session()
    session.add_all(objects)
    session.commit()


def both(modes: Modes, key: int) -> tuple[Any, Any]:
    return row(modes.engine, employees, key), row(modes.engine, engineers, key)


def test_every_subclass_is_versioned() -> None:
    for cls in (Vehicle, Car, Bike, Employee, Engineer, Manager, Circle):
        assert occ.orm.is_versioned(cls), cls
    assert not occ.orm.is_versioned(Shape)


def test_subclass_rows_start_at_version_one(modes: Modes) -> None:
    add(modes, Car(id=1, name="a", doors=3), Bike(id=2, name="b"), Engineer(id=3, name="c"))
    add(modes, Circle(id=4, radius=2))
    assert row(modes.engine, vehicles, 1)["version"] == 1  # type: ignore[index]
    assert row(modes.engine, vehicles, 2)["version"] == 1  # type: ignore[index]
    assert both(modes, 3)[0]["version"] == 1
    assert row(modes.engine, Shape.__table__, 4)["version"] == 1  # type: ignore[index]


def test_single_table_subclass_flush_is_checked(modes: Modes) -> None:
    add(modes, Car(id=1, name="a", doors=3))
    first, second = modes.session(), modes.session()
    mine, theirs = first.get(Car, 1), second.get(Car, 1)
    theirs.doors = 5
    second.commit()
    after = row(modes.engine, vehicles, 1)
    assert after["version"] == 2  # type: ignore[index]
    mine.name = "stale"
    with pytest.raises(occ.ConflictError) as info:
        first.commit()
    first.rollback()
    assert (info.value.conflict.entity, info.value.conflict.actual_version) == ("Car", 2)
    assert row(modes.engine, vehicles, 1) == after


@pytest.mark.parametrize("field", ["language", "name"])
def test_joined_subclass_write_of_either_table_bumps_the_base_version(
    modes: Modes, field: str
) -> None:
    add(modes, Engineer(id=1, name="ada", language="c"))
    first, second = modes.session(), modes.session()
    mine, theirs = first.get(Engineer, 1), second.get(Engineer, 1)
    setattr(theirs, field, "new")
    second.commit()
    after = both(modes, 1)
    assert after[0]["version"] == 2
    mine.language = "stale"  # a column of the subclass table only
    with pytest.raises(occ.ConflictError) as info:
        first.commit()
    first.rollback()
    assert info.value.conflict.expected_version == 1
    assert both(modes, 1) == after


def test_joined_subclass_update_and_delete(modes: Modes) -> None:
    add(modes, Engineer(id=1, name="ada", language="c"))
    session = modes.session()
    engineer = session.get(Engineer, 1)
    engineer.language = "python"  # the subclass table only: the base row is written too
    session.commit()
    assert engineer.version == 2
    assert both(modes, 1)[1]["language"] == "python"
    assert engineer.updated_at is not None  # the base table's onupdate, evaluated
    assert engineer.updated_at == both(modes, 1)[0]["updated_at"]
    stale = modes.session()
    old = stale.get(Engineer, 1)
    engineer.name = "ada l."
    session.commit()
    stale.delete(old)
    with pytest.raises(occ.ConflictError):
        stale.commit()
    stale.rollback()
    assert both(modes, 1)[1] is not None
    session.delete(engineer)
    session.commit()
    assert both(modes, 1) == (None, None)


def test_only_an_opted_in_subclass_is_checked(modes: Modes) -> None:
    add(modes, Circle(id=1, radius=1))
    first, second = modes.session(), modes.session()
    mine, theirs = first.get(Circle, 1), second.get(Circle, 1)
    theirs.radius = 2
    second.commit()
    mine.radius = 3
    with pytest.raises(occ.ConflictError):
        first.commit()
    first.rollback()
    assert row(modes.engine, Circle.__table__, 1)["radius"] == 2  # type: ignore[index]


# -- repositories ------------------------------------------------------------------


def test_subclass_repository_sees_only_its_rows(modes: Modes) -> None:
    add(modes, Car(id=1, name="car", doors=3), Bike(id=2, name="bike", gears=7))
    bikes = modes.repo(Bike)
    assert bikes.find(1) is None
    with pytest.raises(occ.NotFoundError):
        bikes.get(1)
    with pytest.raises(occ.NotFoundError):
        bikes.update(1, {"name": "x"}, expected_version=1)
    with pytest.raises(occ.NotFoundError):
        bikes.delete(1, expected_version=1)
    assert row(modes.engine, vehicles, 1) == {
        "id": 1,
        "kind": "car",
        "name": "car",
        "version": 1,
        "doors": 3,
        "gears": None,
    }
    bike = bikes.get(2)
    assert type(bike.value) is Bike
    assert (bike.value.gears, bike.version) == (7, 1)


def test_base_repository_returns_each_row_as_its_class(modes: Modes) -> None:
    add(modes, Car(id=1, name="car", doors=3), Bike(id=2, name="bike", gears=7))
    add(modes, Engineer(id=3, name="eng", language="c"), Manager(id=4, name="boss", reports=2))
    add(modes, Employee(id=5, name="plain"))
    found = [modes.repo(Vehicle).get(k).value for k in (1, 2)]
    found += [modes.repo(Employee).get(k).value for k in (3, 4, 5)]
    assert [type(v) for v in found] == [Car, Bike, Engineer, Manager, Employee]
    assert (found[0].doors, found[1].gears, found[2].language, found[3].reports) == (3, 7, "c", 2)
    assert modes.repo(Vehicle).get(2).base == {"kind": "bike", "name": "bike", "gears": 7}


def test_base_repository_saves_a_subclass_value_in_every_table(modes: Modes) -> None:
    add(modes, Engineer(id=1, name="eng", language="c"))
    staff = modes.repo(Employee)
    snap = staff.get(1)
    snap.value.language = "rust"
    snap.value.name = "eng 2"
    assert staff.save(snap).version == 2
    assert both(modes, 1)[1]["language"] == "rust"
    assert both(modes, 1)[0]["name"] == "eng 2"


def test_joined_repository_insert_update_save_delete(modes: Modes) -> None:
    engineers_repo = modes.repo(Engineer)
    created = engineers_repo.insert(Engineer(name="new", language="go"))
    key = created.key
    assert isinstance(key, int)
    assert created.version == 1
    assert both(modes, key)[0]["type"] == "engineer"
    updated = engineers_repo.update(key, {"language": "zig"}, expected_version=1)
    assert (updated.version, updated.value.language, updated.value.name) == (2, "zig", "new")
    snap = engineers_repo.get(key)
    snap.value.name = "renamed"
    assert engineers_repo.save(snap).version == 3
    engineers_repo.delete(key, expected_version=3)
    assert both(modes, key) == (None, None)


def test_stale_joined_repository_writes_are_refused_in_every_table(modes: Modes) -> None:
    add(modes, Engineer(id=1, name="eng", language="c"))
    engineers_repo = modes.repo(Engineer)
    snap = engineers_repo.get(1)
    engineers_repo.update(1, {"name": "theirs"}, expected_version=1)
    after = both(modes, 1)
    snap.value.language = "stale"
    with pytest.raises(occ.ConflictError):
        engineers_repo.save(snap)
    with pytest.raises(occ.ConflictError):
        engineers_repo.update(1, {"language": "stale", "name": "x"}, expected_version=1)
    with pytest.raises(occ.ConflictError):
        engineers_repo.delete(1, expected_version=1)
    assert both(modes, 1) == after


def test_base_repository_inserts_a_subclass_value(modes: Modes) -> None:
    modes.repo(Vehicle).insert(Car(id=1, name="car", doors=5))
    modes.repo(Employee).insert(Manager(id=2, name="boss", reports=3))
    assert row(modes.engine, vehicles, 1)["kind"] == "car"  # type: ignore[index]
    assert row(modes.engine, Manager.__table__, 2)["reports"] == 3  # type: ignore[index]
    assert type(modes.repo(Employee).get(2).value) is Manager


def test_a_row_cannot_change_class_nor_take_a_subclass_column_through_the_base(
    modes: Modes,
) -> None:
    add(modes, Car(id=1, name="car", doors=3))
    base = modes.repo(Vehicle)
    with pytest.raises(occ.ValidationError, match="discriminator"):
        base.update(1, {"kind": "bike"}, expected_version=1)
    with pytest.raises(occ.ValidationError, match="Repository\\(engine, Subclass\\)"):
        base.update(1, {"doors": 4}, expected_version=1)
    snap = base.get(1)
    snap.value.kind = "bike"
    with pytest.raises(occ.ValidationError, match="discriminator"):
        base.save(snap)
    assert row(modes.engine, vehicles, 1)["version"] == 1  # type: ignore[index]


def test_a_joined_row_deleted_and_inserted_again_never_repeats_a_version(modes: Modes) -> None:
    engineers_repo = modes.repo(Engineer)
    engineers_repo.insert(Engineer(id=1, name="a", language="c"))
    engineers_repo.update(1, {"language": "go"}, expected_version=1)
    engineers_repo.delete(1, expected_version=2)
    again = engineers_repo.insert(Engineer(id=1, name="b", language="zig"))
    assert again.version > 2
    with pytest.raises(occ.ConflictError):
        engineers_repo.update(1, {"language": "stale"}, expected_version=2)
    assert both(modes, 1)[1]["language"] == "zig"


def test_base_repository_in_a_caller_transaction_reads_the_conflict_locked(
    tdb: sa.Engine,
) -> None:
    """Inside a caller's transaction a conflict is classified by a locking read of the base
    table (outer-joined subclass tables are read, not locked)."""
    with Session(tdb) as session:
        session.add(Engineer(id=1, name="eng", language="c"))
        session.commit()
        staff = occ.sql.Repository(session, Employee)
        staff.update(1, {"name": "first"}, expected_version=1)
        with pytest.raises(occ.ConflictError) as info:
            staff.update(1, {"name": "stale"}, expected_version=1)
        session.rollback()
    theirs = info.value.conflict.theirs
    assert theirs is not None
    assert (theirs["name"], theirs["language"]) == ("first", "c")  # read as an Engineer
    assert row(tdb, employees, 1)["name"] == "eng"  # type: ignore[index]
