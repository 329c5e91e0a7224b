"""Read routing on a PostgreSQL primary with a streaming hot standby held back in time.

The repository takes the standby as ``replica=``: ``get``/``find`` and
``modify``'s first read go there; writes and every read that must see the
latest version go to the primary. Inside :meth:`Standby.lagging` the standby
applies no commit (``recovery_min_apply_delay``), so what it returns is
provably stale — and ``modify`` still succeeds at its second attempt,
because its re-read after the conflict goes to the primary.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import occ
import occ.sql
from occ.resolvers import Counter, Merge
from occ.sql import AsyncRepository, Repository
from tests.backends import Backend
from tests.cluster.standby import Standby
from tests.sql.models import Account, create_all


@pytest.fixture
def accounts(standby: Standby) -> Repository[Account]:
    """A repository reading the standby; account 1 at version 1 on both, then 2 on the primary."""
    create_all(standby.primary)
    repo = Repository(standby.primary, Account, replica=standby.replica)
    repo.insert(Account(id=1, owner="ada", balance=10, note=""))
    standby.catch_up()
    return repo


def test_reads_go_to_the_standby_and_writes_to_the_primary(
    standby: Standby, accounts: Repository[Account]
) -> None:
    primary_only = Repository(standby.primary, Account)
    with standby.lagging():
        written = accounts.update(1, {"balance": 20}, expected_version=1)
        assert (written.version, written.value.balance) == (2, 20)
        # The standby has not applied it: the repository's read shows version 1.
        assert (accounts.get(1).version, accounts.get(1).value.balance) == (1, 10)
        assert primary_only.get(1).version == 2
        assert accounts.find(2) is None
    assert accounts.get(1).version == 2


def test_modify_rereads_the_primary_after_a_conflict_so_lag_never_starves_it(
    standby: Standby, accounts: Repository[Account]
) -> None:
    seen: list[int] = []

    def add_five(account: Account) -> Account:
        seen.append(account.balance)
        account.balance += 5
        return account

    with standby.lagging():
        accounts.update(1, {"balance": 20}, expected_version=1)
        result = accounts.modify(1, add_five)
        # Control: re-reading the lagging standby would conflict every time.
        naive = Repository(standby.replica, Account)
        stale = [naive.get(1).version for _ in range(3)]
    assert seen == [10, 20]  # the standby's stale value, then the primary's
    assert (result.version, result.value.balance, result.outcome) == (3, 25, "retried")
    assert stale == [1, 1, 1]
    assert accounts.get(1).value.balance == 25


def test_a_stale_snapshot_conflicts_with_the_primarys_version_and_merges_there(
    standby: Standby, accounts: Repository[Account]
) -> None:
    with standby.lagging():
        accounts.update(1, {"balance": 20}, expected_version=1)
        snap = accounts.get(1)  # version 1, from the standby
        snap.value.balance += 1
        with pytest.raises(occ.ConflictError) as info:
            accounts.save(snap)
        conflict = info.value.conflict
        # Classified by a read of the primary: the standby still says version 1.
        assert (conflict.expected_version, conflict.actual_version) == (1, 2)
        assert conflict.theirs is not None
        assert conflict.theirs["balance"] == 20
        merging = Repository(
            standby.primary,
            Account,
            replica=standby.replica,
            policy=Merge(fields={"balance": Counter()}),
        )
        merged = merging.save(snap)
    assert (merged.version, merged.value.balance, merged.outcome) == (3, 21, "merged")


def test_async_modify_reads_the_standby_then_the_primary(
    standby: Standby, accounts: Repository[Account], standby_backends: tuple[Backend, Backend]
) -> None:
    primary, replica = (create_async_engine(b.async_url) for b in standby_backends)

    async def run() -> Any:
        repo = AsyncRepository(primary, Account, replica=replica)
        try:
            stale = await repo.get(1)
            done = await repo.modify(1, lambda a: setattr(a, "balance", a.balance + 1))
            return stale, done
        finally:
            await occ.sql.adispose(primary)
            await occ.sql.adispose(replica)

    with standby.lagging():
        accounts.update(1, {"balance": 20}, expected_version=1)
        stale, done = asyncio.run(run())
    assert stale.version == 1
    assert (done.version, done.value.balance, done.outcome) == (3, 21, "retried")


def test_the_standby_refuses_writes_so_none_went_there(standby: Standby) -> None:
    with pytest.raises(sa.exc.InternalError, match="read-only"), standby.replica.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE occ_never (id int)")
