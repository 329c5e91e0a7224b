"""Conflict stores archive every value a model can hold and give it back exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import occ
import occ.sql
from occ import Conflict
from occ.conflicts import ArchiveError
from occ.conflicts._archive import ArchivedEnum, Unarchivable, dumps, loads
from occ.conflicts.mongo import ConflictStore as MongoStore
from occ.conflicts.sql import ConflictStore
from tests.backends import Backend
from tests.conflicts.values import Colour, bson_scalars, nested, records, same, sql_scalars

pytestmark = pytest.mark.timeout(300)

SQL_VALUES = nested(sql_scalars)
MONGO_VALUES = nested(st.one_of(sql_scalars, bson_scalars))
FEW = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def conflict_of(base: dict[str, Any], mine: dict[str, Any], key: Any = 1) -> Conflict:
    return Conflict(
        entity="thing",
        key=key,
        action="update",
        kind="version",
        base=base,
        mine={**base, **mine},
        changes=mine,
        theirs=base,
        expected_version=1,
        actual_version=2,
        attempt=1,
    )


def assert_restored(stored: Conflict, original: Conflict) -> None:
    for name in ("key", "base", "mine", "changes", "theirs"):
        assert same(getattr(stored, name), getattr(original, name)), name


@settings(max_examples=300, deadline=None)
@given(MONGO_VALUES)
def test_every_value_reads_back_exactly(value: Any) -> None:
    assert same(loads(dumps(value)), value)


@pytest.mark.parametrize(
    "value",
    [{"$date": "2020-01-01"}, {"$set": [1, 2]}, {"$repr": "x"}, {"$tuple": []}, {"a": {"$x": 1}}],
)
def test_a_dict_that_looks_like_a_tag_stays_a_dict(value: dict[str, Any]) -> None:
    assert same(loads(dumps(value)), value)


def test_an_enum_is_archived_by_class_not_by_repr() -> None:
    text = dumps(Colour.RED)
    assert "repr" not in text
    assert loads(text) is Colour.RED


def test_an_enum_whose_module_is_not_loaded_reads_back_as_what_it_was() -> None:
    text = dumps(Colour.RED).replace("tests.conflicts.values", "not.imported.here")
    found = loads(text)
    assert found == ArchivedEnum("not.imported.here:Colour", "RED", "red")


@pytest.mark.parametrize("value", [object(), {"a": [1, object()]}, sa.func.now()])
def test_a_value_without_an_exact_form_is_refused_naming_where_it_is(value: Any) -> None:
    with pytest.raises(Unarchivable, match=r"mine"):
        dumps(value, path="mine")


def test_unknown_or_corrupt_tags_are_errors_not_guesses() -> None:
    with pytest.raises(ValueError, match="unknown tag"):
        loads('{"$nope": 1}')
    with pytest.raises(ValueError, match="alone"):
        loads('{"$date": "2020-01-01", "x": 1}')


@pytest.fixture
def sql_store(engine: sa.Engine) -> Iterator[ConflictStore]:
    store = ConflictStore(engine, "occ_t9_fidelity")
    store.drop()
    store.create()
    yield store
    store.drop()


def test_sql_store_restores_every_value(sql_store: ConflictStore, backend: Backend) -> None:
    @FEW
    @given(
        records(SQL_VALUES),
        records(SQL_VALUES),
        st.one_of(st.integers(), st.text(), st.tuples(st.integers(), st.dates())),
    )
    def check(base: dict[str, Any], mine: dict[str, Any], key: Any) -> None:
        original = conflict_of(base, mine, key)
        cid = sql_store.add(original, status="pending", decision="raised", details={"m": mine})
        assert_restored(sql_store.get(cid).conflict, original)

    check()


@pytest.fixture
def mongo_store(mongodb_uri: str) -> Iterator[MongoStore]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongodb_uri)
    collection = client.get_database("occ_t9")["fidelity"]
    collection.drop()
    yield MongoStore(collection)
    collection.drop()
    client.close()


def test_mongo_store_restores_every_value(mongo_store: MongoStore) -> None:
    @FEW
    @given(records(MONGO_VALUES), records(MONGO_VALUES))
    def check(base: dict[str, Any], mine: dict[str, Any]) -> None:
        original = conflict_of(base, mine, "k")
        cid = mongo_store.add(original, status="pending", decision="raised", details={})
        assert_restored(mongo_store.get(cid).conflict, original)

    check()


def test_a_conflict_holding_an_unarchivable_value_is_refused_whole(
    sql_store: ConflictStore,
) -> None:
    original = conflict_of({"note": "a"}, {"note": object()})
    with pytest.raises(ArchiveError) as info:
        sql_store.add(original, status="pending", decision="raised", details={})
    assert info.value.conflict is original
    assert info.value.path == "changes.note" or info.value.path == "mine.note"
    assert sql_store.count() == 0


def test_times_keep_their_zone_and_fold() -> None:
    from zoneinfo import ZoneInfo

    value = dt.datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris"))
    back = loads(dumps(value))
    assert same(back, value)
    assert back.utcoffset() == dt.timedelta(hours=1)


class Opaque:
    """A value only pickle can keep (a ``PickleType`` column holds it)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.n == self.n

    def __hash__(self) -> int:
        return self.n


def test_a_write_whose_conflict_cannot_be_archived_fails_whole_and_writes_nothing(
    tmp_path: Any,
) -> None:
    from occ import resolvers

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pickles.db'}")
    table = sa.Table(
        "jar",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("thing", sa.PickleType),
        sa.Column("version", sa.Integer),
    )
    table.create(engine)
    store = ConflictStore(engine)
    store.create()
    repo = occ.sql.Repository(
        engine, table, policy=resolvers.Alert(store, then=resolvers.Overwrite())
    )
    repo.insert({"id": 1, "thing": Opaque(1)})
    repo.update(1, {"thing": Opaque(2)}, expected_version=1)
    with pytest.raises(ArchiveError) as info:
        repo.update(1, {"thing": Opaque(3)}, expected_version=1)
    assert isinstance(info.value, occ.ConflictError)
    assert info.value.conflict.changes == {"thing": Opaque(3)}  # the conflict is not lost
    stored = repo.get(1)
    assert (stored.value["thing"], stored.version) == (Opaque(2), 2)  # nothing overwritten
    assert store.count() == 0
    occ.sql.dispose(engine)
