"""Hot keys: resolved writes never give up at default settings, increments never conflict,
and a retrying transaction keeps several entities consistent (issue 15)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import occ
import occ.sql
from occ import Versioned
from occ.conflicts.sql import ConflictStore
from occ.resolvers import Alert, Discard, Merge, Overwrite
from occ.resolvers.rules import Counter
from occ.sql import Repository
from occ.sql._dberrors import is_lock_timeout
from tests.backends import servers_only
from tests.sql.models import Account

WRITERS = 16
OPS = 6


def _writers(db: sa.Engine) -> int:
    """16 on the servers; SQLite (one writer at a time, no lock fallback by default): 3."""
    return 3 if db.dialect.name == "sqlite" else WRITERS


def _hammer(work: Callable[[int], None], writers: int = WRITERS) -> list[BaseException]:
    """Run ``work(i)`` for each writer, all at once; the errors they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers, timeout=30)

    def body(me: int) -> None:
        barrier.wait()
        try:
            work(me)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(me,)) for me in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return errors


def _think_and_add(account: Account) -> None:
    time.sleep(0.002)
    account.balance += 1


def _stale_saves(repo: Repository[Account]) -> Callable[[int], None]:
    """Each writer reads, thinks, adds one to the balance and saves: every save races."""

    def work(me: int) -> None:
        for _ in range(OPS):
            snap = repo.get(1)
            snap.value.balance += 1
            time.sleep(0.002)  # think: the others read the same version meanwhile
            repo.save(snap)

    return work


@pytest.mark.parametrize(
    "policy",
    ["merge", "overwrite", "discard", "alert"],
)
def test_resolved_writes_never_give_up_under_16_writers_at_default_settings(
    db: sa.Engine, policy: str
) -> None:
    store = ConflictStore(db, "occ_t15_conflicts")
    store.create()
    resolver = {
        "merge": Merge(fields={"balance": Counter()}),
        "overwrite": Overwrite(),
        "discard": Discard(),
        "alert": Alert(store, then=Merge(fields={"balance": Counter()})),
    }[policy]
    repo = Repository(db, Account, policy=resolver)
    repo.insert(Account(id=1, owner="hot", balance=0))
    writers = _writers(db)
    errors = _hammer(_stale_saves(repo), writers=writers)
    assert errors == []  # no RetryExhaustedError, nothing else
    stats = repo.stats.snapshot()
    assert stats["conflicts"] > 0, "the writers never collided: nothing was tested"
    if policy != "discard" and db.dialect.name != "sqlite":  # Discard settles at once
        assert stats["fallbacks"] > 0, "the lock fallback never engaged"
    final = repo.get(1)
    if policy in ("merge", "alert"):
        assert final.value.balance == writers * OPS  # every increment kept
    if policy == "alert":
        assert store.count(status="pending") == stats["decisions"].get("merged", 0)
    store.drop()


def test_modify_never_gives_up_under_16_writers_and_loses_nothing(db: sa.Engine) -> None:
    repo = Repository(db, Account)
    repo.insert(Account(id=1, owner="hot", balance=0))

    def work(me: int) -> None:
        for _ in range(OPS):
            repo.modify(1, _think_and_add)

    writers = _writers(db)
    assert _hammer(work, writers=writers) == []
    final = repo.get(1)
    assert final.value.balance == writers * OPS
    assert final.version == 1 + writers * OPS
    assert repo.stats.conflicts > 0


def test_increment_is_one_statement_that_never_conflicts(db: sa.Engine) -> None:
    repo = Repository(db, Account)
    repo.insert(Account(id=1, owner="hot", balance=0))

    def work(me: int) -> None:
        for _ in range(OPS):
            assert repo.increment(1, balance=2).outcome == "commutative"

    writers = _writers(db)
    assert _hammer(work, writers=writers) == []
    final = repo.get(1)
    assert final.value.balance == 2 * writers * OPS
    assert final.version == 1 + writers * OPS  # the version moved with every increment
    if db.dialect.name != "sqlite":  # SQLite may refuse a writer the database lock: retried
        assert repo.stats.conflicts == 0


def test_increment_refuses_what_is_not_a_number_and_writes_nothing(db: sa.Engine) -> None:
    repo = Repository(db, Account)
    repo.insert(Account(id=1, owner="a", balance=5))
    for bad in ({"balance": "1"}, {"balance": True}, {"owner": None}, {"version": 1}, {}):
        with pytest.raises(occ.ValidationError):
            repo.increment(1, **bad)
    assert (repo.get(1).value.balance, repo.get(1).version) == (5, 1)
    with pytest.raises(occ.NotFoundError):
        repo.increment(2, balance=1)


def test_modify_takes_the_fast_path_the_policy_declares(db: sa.Engine) -> None:
    repo = Repository(db, Account, policy=Merge(fields={"balance": Counter()}, fast_path=True))
    repo.insert(Account(id=1, owner="a", balance=0))

    def work(me: int) -> None:
        for _ in range(OPS):
            repo.modify(1, lambda a: setattr(a, "balance", a.balance + 1))

    assert _hammer(work, writers=8) == []
    assert repo.get(1).value.balance == 8 * OPS
    assert repo.stats.conflicts == 0


def test_sqlite_takes_its_database_lock_when_asked(tmp_path: Any) -> None:
    from tests.sql.models import create_all

    db = sa.create_engine(f"sqlite:///{tmp_path}/hot.db", connect_args={"timeout": 30})
    create_all(db)
    repo = Repository(db, Account, policy=Merge(fields={"balance": Counter()}), lock_after=2)
    repo.insert(Account(id=1, owner="hot", balance=0))
    try:
        assert _hammer(_stale_saves(repo), writers=8) == []
        assert repo.get(1).value.balance == 8 * OPS
        assert repo.stats.fallbacks > 0
    finally:
        occ.sql.dispose(db)


def test_without_the_fallback_nothing_is_lost_either(db: sa.Engine) -> None:
    repo = Repository(db, Account, policy=Merge(fields={"balance": Counter()}), lock_after=None)
    repo.insert(Account(id=1, owner="hot", balance=0))
    gave_up: list[BaseException] = []

    def work(me: int) -> None:
        for _ in range(OPS):
            snap = repo.get(1)
            snap.value.balance += 1
            try:
                repo.save(snap)
            except occ.RetryExhaustedError as exc:
                gave_up.append(exc)

    assert _hammer(work, writers=8) == []
    assert all("lock_after" in str(e) for e in gave_up)  # the message names the knob
    assert repo.get(1).value.balance == 8 * OPS - len(gave_up)  # a give-up wrote nothing
    assert repo.stats.fallbacks == 0


# -- a transaction over several entities ---------------------------------------------


def _transfer(frm: int, to: int, amount: int, calls: list[int]) -> Callable[[sa.Connection], None]:
    def work(conn: sa.Connection) -> None:
        calls.append(1)
        accounts = Repository(conn, Account)
        a, b = accounts.get(frm), accounts.get(to)
        a.value.balance -= amount
        b.value.balance += amount
        accounts.save(a)
        accounts.save(b)

    return work


def test_concurrent_transfers_keep_the_sum_constant(db: sa.Engine) -> None:
    repo = Repository(db, Account)
    for key in range(1, 5):
        repo.insert(Account(id=key, owner=f"o{key}", balance=100))
    calls: list[int] = []

    def work(me: int) -> None:
        for i in range(4):
            frm = 1 + (me + i) % 4
            to = 1 + (me + i + 1) % 4
            occ.sql.transaction(db, _transfer(frm, to, 5, calls))

    assert _hammer(work, writers=8) == []
    with db.connect() as conn:
        balances = conn.execute(sa.select(Account.balance)).scalars().all()
    assert sum(balances) == 400
    assert len(calls) > 8 * 4, "no transfer ever had to run again: nothing was tested"


@servers_only  # SQLite has no row locks, so no deadlock between two rows
def test_opposite_transfers_that_deadlock_are_run_again_and_both_complete(
    db: sa.Engine,
) -> None:
    repo = Repository(db, Account)
    repo.insert(Account(id=1, owner="a", balance=100))
    repo.insert(Account(id=2, owner="b", balance=100))
    barrier = threading.Barrier(2, timeout=20)
    calls: list[int] = []

    def crossing(frm: int, to: int) -> Callable[[sa.Connection], None]:
        def work(conn: sa.Connection) -> None:
            calls.append(frm)
            accounts = Repository(conn, Account)
            first = accounts.get(frm)
            first.value.balance -= 10
            accounts.save(first)  # holds the row lock of `frm`
            if len(calls) <= 2:
                barrier.wait()  # both hold their first row: the next save deadlocks
            second = accounts.get(to)
            second.value.balance += 10
            accounts.save(second)

        return work

    errors = _hammer(lambda me: occ.sql.transaction(db, crossing(1 + me, 2 - me)), writers=2)
    assert errors == []
    assert len(calls) >= 3  # one of them was run again
    assert [repo.get(1).value.balance, repo.get(2).value.balance] == [100, 100]


async def test_async_transaction_runs_again_on_a_conflict(adb: Any) -> None:
    from occ.sql import AsyncRepository

    outside = AsyncRepository(adb, Account)
    await outside.insert(Account(id=1, owner="a", balance=0))
    calls: list[int] = []

    async def work(conn: Any) -> Versioned[Account]:
        calls.append(1)
        accounts = AsyncRepository(conn, Account)
        snap = await accounts.get(1)
        if len(calls) == 1:
            await outside.update(1, {"balance": 50}, expected_version=1)  # slips in
        snap.value.balance += 1
        return await accounts.save(snap)

    saved = await occ.sql.atransaction(adb, work)
    assert len(calls) == 2
    assert saved.value.balance == 51


# -- the transaction helper's lock wait (PostgreSQL) --------------------------------


class Held:
    """Row 1 of ``occ_account``, its lock held by another transaction until ``let_go()``."""

    def __init__(self, db: sa.Engine) -> None:
        self.repo = Repository(db, Account)
        self.repo.insert(Account(id=1, owner="a", balance=0))
        locked, self._release = threading.Event(), threading.Event()

        def hold() -> None:
            with db.begin() as conn:
                conn.execute(sa.select(Account).where(Account.id == 1).with_for_update())
                locked.set()
                self._release.wait(20)

        self._holder = threading.Thread(target=hold, daemon=True)
        self._holder.start()
        assert locked.wait(20)

    def let_go(self) -> None:
        self._release.set()
        self._holder.join()


@pytest.fixture
def held(pg_db: sa.Engine) -> Iterator[Held]:
    made = Held(pg_db)
    yield made
    made.let_go()


def test_a_row_locked_elsewhere_bounds_the_wait_then_runs_again(
    pg_db: sa.Engine, held: Held
) -> None:
    """Each attempt waits ``lock_timeout`` at most, then starts over from a fresh transaction."""
    calls: list[int] = []

    def work(conn: sa.Connection) -> None:
        calls.append(1)
        if len(calls) == 2:
            held.let_go()
        accounts = Repository(conn, Account)
        snap = accounts.get(1)
        snap.value.balance += 1
        accounts.save(snap)  # the first attempt waits on the lock here

    occ.sql.transaction(pg_db, work, lock_timeout=0.05)
    # Had the first attempt waited until the holder let go, it would have been the only one.
    assert len(calls) == 2
    assert held.repo.get(1).value.balance == 1


def test_lock_timeouts_on_every_attempt_raise_the_servers_error_and_write_nothing(
    pg_db: sa.Engine, held: Held
) -> None:
    calls: list[int] = []

    def work(conn: sa.Connection) -> None:
        calls.append(1)
        Repository(conn, Account).update(1, {"balance": 9}, expected_version=1)

    with pytest.raises(sa.exc.OperationalError) as raised:
        occ.sql.transaction(pg_db, work, retry=occ.RetryPolicy(attempts=3), lock_timeout=0.02)
    held.let_go()
    assert is_lock_timeout(raised.value)
    assert len(calls) == 3
    stored = held.repo.get(1)
    assert (stored.value.balance, stored.version) == (0, 1)


@pytest.mark.parametrize("bad", [0, -1, "0.1", True, float("nan")])
def test_a_bad_lock_timeout_is_refused_before_anything_runs(db: sa.Engine, bad: Any) -> None:
    calls: list[int] = []
    with pytest.raises(occ.ConfigurationError, match="lock_timeout"):
        occ.sql.transaction(db, lambda conn: calls.append(1), lock_timeout=bad)
    assert calls == []  # nothing ran, so nothing was written


# -- hot keys: the first attempt of a key that conflicted lately takes the lock -----


@servers_only  # SQLite has no row lock to take
def test_a_key_whose_writes_keep_losing_is_read_under_the_lock_at_once(
    db: sa.Engine,
) -> None:
    repo = Repository(db, Account)
    assert repo.hot is not None
    now = [0.0]
    repo.hot.clock = lambda: now[0]
    for key in (1, 2):
        repo.insert(Account(id=key, owner="a", balance=0))
    repo.update(1, {"balance": 1}, expected_version=1)
    with pytest.raises(occ.ConflictError):
        repo.update(1, {"balance": 2}, expected_version=1)
    repo.modify(2, _think_and_add)
    assert not repo.hot.is_hot(1)  # one conflict proves nothing
    for _ in range(repo.hot.least):  # every optimistic attempt since lost: key 1 runs hot
        with pytest.raises(occ.ConflictError):
            repo.update(1, {"balance": 2}, expected_version=1)
    assert repo.hot.is_hot(1)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.upper().split()))

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        before = repo.stats.snapshot()["fallbacks"]
        repo.modify(1, _think_and_add)
        hot_reads = [s for s in statements if s.startswith("SELECT")]
        statements.clear()
        repo.modify(2, _think_and_add)  # never conflicted: optimistic
        cool_reads = [s for s in statements if s.startswith("SELECT")]
        now[0] += repo.hot.seconds + 0.1  # key 1 has been quiet long enough: cooled
        statements.clear()
        repo.modify(1, _think_and_add)
        cooled_reads = [s for s in statements if s.startswith("SELECT")]
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert len(hot_reads) == 1
    assert hot_reads[0].endswith("FOR UPDATE")
    assert repo.stats.snapshot()["fallbacks"] == before + 1
    assert len(cool_reads) == 1
    assert "FOR UPDATE" not in cool_reads[0]
    assert len(cooled_reads) == 1
    assert "FOR UPDATE" not in cooled_reads[0]
    assert [repo.get(k).value.balance for k in (1, 2)] == [3, 2]


@servers_only
def test_without_the_fallback_no_key_ever_runs_hot(db: sa.Engine) -> None:
    repo = Repository(db, Account, lock_after=None)
    assert repo.hot is None
    repo.insert(Account(id=1, owner="a", balance=0))
    repo.update(1, {"balance": 1}, expected_version=1)
    with pytest.raises(occ.ConflictError):
        repo.update(1, {"balance": 2}, expected_version=1)
    repo.modify(1, _think_and_add)
    assert repo.stats.snapshot()["fallbacks"] == 0


@servers_only  # SQLite has no row locks
def test_after_an_attempt_lost_the_next_reads_its_rows_under_the_lock(db: sa.Engine) -> None:
    outside = Repository(db, Account)
    for key in (1, 2, 3):
        outside.insert(Account(id=key, owner="a", balance=100))
    reads: list[list[str]] = []
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(" ".join(statement.upper().split()))

    def transfer(conn: sa.Connection) -> None:
        statements.clear()
        accounts = Repository(conn, Account)
        snaps = {key: accounts.get(key) for key in (1, 2)}
        reads.append(list(statements))
        if len(reads) == 1:
            outside.update(2, {"balance": 0}, expected_version=1)  # slips in
        snaps[1].value.balance -= 10
        snaps[2].value.balance += 10
        for snap in snaps.values():
            accounts.save(snap)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        occ.sql.transaction(db, transfer)
        unrelated = Repository(db, Account)
        statements.clear()
        occ.sql.transaction(db, lambda conn: Repository(conn, Account).get(3))
        later_reads = [s for s in statements if "OCC_ACCOUNT" in s]
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert len(reads) == 2  # the first attempt lost on row 2
    assert [s.endswith("FOR UPDATE") for s in reads[0]] == [False, False]
    assert [s.endswith("FOR UPDATE") for s in reads[1]] == [True, True]
    assert [unrelated.get(k).value.balance for k in (1, 2)] == [90, 10]
    assert later_reads
    assert not any(s.endswith("FOR UPDATE") for s in later_reads)  # a new transaction


@servers_only
def test_rows_whose_transactions_keep_losing_are_locked_from_the_first_attempt(
    db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from occ.sql import _attempts

    # However slow this machine, the losing transactions fall within one window.
    monkeypatch.setattr(_attempts._HOT, "seconds", 60.0)
    outside = Repository(db, Account)
    for key in (1, 2):
        outside.insert(Account(id=key, owner="a", balance=100))
    first_reads: list[bool] = []
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(" ".join(statement.upper().split()))

    def losing_once(conn: sa.Connection) -> None:
        accounts = Repository(conn, Account)
        statements.clear()
        snaps = {key: accounts.get(key) for key in (1, 2)}
        calls.append(statements[0].endswith("FOR UPDATE"))
        if len(calls) == 1 and not calls[0]:  # an optimistic first attempt: someone slips in
            current = outside.get(2)
            outside.update(2, {"balance": current.value.balance}, expected_version=current.version)
        for snap in snaps.values():
            snap.value.balance += 1
            accounts.save(snap)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        for _ in range(12):
            calls: list[bool] = []
            occ.sql.transaction(db, losing_once)
            first_reads.append(calls[0])
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    # Each optimistic first attempt lost; once enough had, first attempts lock at once.
    assert first_reads[:9] == [False] * 9
    assert first_reads[-1] is True
    assert [outside.get(k).value.balance for k in (1, 2)] == [112, 112]
