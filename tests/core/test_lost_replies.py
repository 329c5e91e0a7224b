"""Nothing lost, nothing applied twice, after a lost reply (issue 12, items 1 and 2).

The driver of each repository is made to lose the reply of its next write at
the boundary where a dropped connection would: the write really runs on the
real database first (``applied=True``) or never reaches it, then another
writer may slip in (``meanwhile``), then the driver reports the reply lost.
occ must establish the outcome itself: return the write that applied, send
again one that did not, report an ordinary conflict, or — only when it cannot
know — raise ``UnknownOutcomeError``. ``modify`` never runs its function twice
for one applied write. (tests/faults drive the same paths through a real TCP
proxy that drops replies.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pymongo
import pytest
import sqlalchemy as sa

import occ
import occ.mongo
import occ.sql
from occ._core.steps import Lost
from occ.resolvers import Merge
from occ.resolvers.rules import Counter
from tests.backends import SQL_BACKENDS
from tests.conftest import make_engine
from tests.sql.models import clear_tombstones

md = sa.MetaData()
counters = sa.Table(
    "occ_t12_lost",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("note", sa.String(40)),
    sa.Column("version", sa.Integer),
    sa.Column("occ_tokens", sa.String(135)),
)


class Lose:
    """Makes ``repo`` lose the reply of its next ``count`` writes (see the module doc)."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self.real = repo._write
        self.pending: list[tuple[bool, Callable[[], Any] | None]] = []
        self.lost = 0
        repo._write = self._write

    def next(self, *, applied: bool, meanwhile: Callable[[], Any] | None = None) -> Lose:
        self.pending.append((applied, meanwhile))
        return self

    def _write(self, step: Any) -> Any:
        if not self.pending:
            return self.real(step)
        applied, meanwhile = self.pending.pop(0)
        if applied:
            self.real(step)
        if meanwhile is not None:
            meanwhile()
        self.lost += 1
        return Lost()


# -- backends -------------------------------------------------------------------


KINDS = [
    *(f"{b.name}-{t}" for b in SQL_BACKENDS for t in ("tokens", "plain")),
    "mongo",
]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """The repository under test: each SQL backend with and without a token column, MongoDB."""
    return (
        "sql-tokens"
        if request.param.endswith("-tokens")
        else ("sql-plain" if request.param != "mongo" else "mongo")
    )


@pytest.fixture
def make(kind: str, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Callable[..., Any]]:
    """``make(**options)``: a fresh repository of the kind under test, seeded with key 1."""
    if kind.startswith("sql"):
        backend = next(b for b in SQL_BACKENDS if request.node.callspec.id.startswith(b.name))
        backend = request.getfixturevalue("private_databases").require(backend)
        if backend.name == "sqlite":
            backend = backend.sqlite_file(str(tmp_path))
        engine = make_engine(backend)
        md.drop_all(engine)
        md.create_all(engine)
        clear_tombstones(engine)
        tokens = "occ_tokens" if kind == "sql-tokens" else None

        def sql(**options: Any) -> Any:
            return occ.sql.Repository(engine, counters, token_column=tokens, **options)

        sql().insert({"id": 1, "n": 0, "note": "start"})
        yield sql
        md.drop_all(engine)
        occ.sql.dispose(engine)
        return
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        request.getfixturevalue("mongodb_uri"), retryWrites=False
    )
    coll = client["occ_test_lost"][f"c{id(request)}"]

    def mongo(**options: Any) -> Any:
        return occ.mongo.Repository(coll, key="id", **options)

    mongo().insert({"id": 1, "n": 0, "note": "start"})
    yield mongo
    coll.drop()
    client.close()


def _n(make: Callable[..., Any]) -> tuple[int, Any]:
    got = make().get(1)
    return got.value["n"], got.version


def _bump(make: Callable[..., Any], by: int = 100) -> Callable[[], None]:
    """Another writer adds ``by``."""

    def other() -> None:
        make().modify(1, lambda v: v.update(n=v["n"] + by))

    return other


# -- update / save ----------------------------------------------------------------


def test_an_applied_write_whose_reply_was_lost_is_returned_not_sent_again(
    make: Any, kind: str
) -> None:
    repo = make()
    lose = Lose(repo).next(applied=True)
    if kind == "sql-plain":
        # Version 2 is stored: ours, or another writer's with the same base? No token tells.
        with pytest.raises(occ.UnknownOutcomeError, match="no write tokens"):
            repo.update(1, {"n": 1}, expected_version=1)
    else:
        result = repo.update(1, {"n": 1}, expected_version=1)
        assert (result.value["n"], result.version, result.outcome) == (1, 2, "written")
    assert lose.lost == 1
    assert _n(make) == (1, 2)


def test_a_write_that_never_arrived_is_sent_again_once(make: Any) -> None:
    repo = make()
    Lose(repo).next(applied=False)
    snap = repo.get(1)
    snap.value["n"] = 5
    saved = repo.save(snap)
    assert saved.version == 2
    assert _n(make) == (5, 2)


def test_another_writer_slipping_in_after_an_applied_lost_write(make: Any, kind: str) -> None:
    repo = make()
    Lose(repo).next(applied=True, meanwhile=_bump(make))
    if kind == "sql-plain":
        with pytest.raises(occ.UnknownOutcomeError, match="no write tokens"):
            repo.update(1, {"n": 1}, expected_version=1)
    else:
        result = repo.update(1, {"n": 1}, expected_version=1)
        assert result.based_on == 1
        assert result.version == 3  # ours (2), then the other writer's (3): what is stored
    assert _n(make) == (101, 3)  # applied exactly once, nothing lost


def test_another_writer_slipping_in_before_a_lost_write_arrived(make: Any, kind: str) -> None:
    repo = make()
    Lose(repo).next(applied=False, meanwhile=_bump(make))
    if kind == "sql-plain":
        with pytest.raises(occ.UnknownOutcomeError):
            repo.update(1, {"n": 1}, expected_version=1)
    else:
        with pytest.raises(occ.ConflictError) as raised:  # the truth: an ordinary conflict
            repo.update(1, {"n": 1}, expected_version=1)
        assert raised.value.conflict.actual_version == 2
    assert _n(make) == (100, 2)


def test_modify_never_runs_its_function_again_for_a_write_that_applied(
    make: Any, kind: str
) -> None:
    repo = make()
    calls: list[int] = []

    def add_one(value: dict[str, Any]) -> None:
        calls.append(value["n"])
        value["n"] += 1

    Lose(repo).next(applied=True, meanwhile=_bump(make))
    if kind == "sql-plain":
        with pytest.raises(occ.UnknownOutcomeError):
            repo.modify(1, add_one)
    else:
        repo.modify(1, add_one)
    assert calls == [0]  # one call, never re-run
    assert _n(make) == (101, 3)  # one increment and the other writer's


def test_modify_runs_again_only_when_its_write_surely_did_not_apply(make: Any, kind: str) -> None:
    repo = make()
    calls: list[int] = []

    def add_one(value: dict[str, Any]) -> None:
        calls.append(value["n"])
        value["n"] += 1

    Lose(repo).next(applied=False, meanwhile=_bump(make))
    if kind == "sql-plain":
        with pytest.raises(occ.UnknownOutcomeError):
            repo.modify(1, add_one)
        assert _n(make) == (100, 2)
    else:
        result = repo.modify(1, add_one)
        assert calls == [0, 100]  # the first write surely lost: run again on the fresh value
        assert result.value["n"] == 101
        assert _n(make) == (101, 3)


def test_more_writers_than_the_tokens_remember_is_an_unknown_outcome(make: Any, kind: str) -> None:
    repo = make()

    def nine() -> None:
        for _ in range(9):
            _bump(make, 1)()

    Lose(repo).next(applied=True, meanwhile=nine)
    with pytest.raises(occ.UnknownOutcomeError):
        repo.update(1, {"n": 1000}, expected_version=1)
    assert _n(make) == (1009, 11)  # applied once, never twice


# -- insert, delete, the fast path -----------------------------------------------------


def test_an_insert_whose_reply_was_lost_is_its_own_not_already_exists(make: Any, kind: str) -> None:
    repo = make()
    other = make()
    Lose(repo).next(applied=True, meanwhile=lambda: other.update(2, {"n": 7}, expected_version=1))
    if kind == "sql-plain":
        with pytest.raises(occ.UnknownOutcomeError):
            repo.insert({"id": 2, "n": 1, "note": "mine"})
    else:
        created = repo.insert({"id": 2, "n": 1, "note": "mine"})
        assert created.based_on is None
        assert created.version == 2  # what is stored now: the other writer's update on ours
    assert make().get(2).value["n"] == 7


def test_a_lost_insert_that_never_arrived_is_sent_again(make: Any) -> None:
    repo = make()
    Lose(repo).next(applied=False)
    assert repo.insert({"id": 3, "n": 3, "note": "x"}).version == 1
    with pytest.raises(occ.AlreadyExistsError):
        make().insert({"id": 3, "n": 4, "note": "y"})


def test_a_delete_whose_reply_was_lost(make: Any) -> None:
    repo = make()
    Lose(repo).next(applied=True)
    repo.delete(1, expected_version=1)
    assert make().find(1) is None


def test_a_lost_atomic_increment_is_recognised_or_reported_never_repeated(
    make: Any, kind: str
) -> None:
    policy = Merge(fields={"n": Counter()}, fast_path=True)
    repo = make(policy=policy)
    snap = repo.get(1)
    snap.value["n"] += 5
    Lose(repo).next(applied=True, meanwhile=_bump(make))
    if kind == "sql-plain":
        with pytest.raises(occ.UnknownOutcomeError):
            repo.save(snap)
    else:
        assert repo.save(snap).outcome == "commutative"
    assert _n(make)[0] == 105  # the increment applied once
