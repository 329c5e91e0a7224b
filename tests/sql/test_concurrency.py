"""Real concurrency: 8 writers x 100 modify increments over 3 hot rows, every backend.

The totals must be exact and each row's committed versions must form a gapless
chain: no two writers ever committed over the same version (no lost update).
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from occ.sql import AsyncRepository, Repository
from tests.sql.models import Account

WRITERS = 8
OPS = 100
KEYS = (1, 2, 3)


def _check(
    versions: dict[int, list[int]], totals: dict[int, int], final: dict[int, tuple[int, int]]
) -> None:
    assert sum(totals.values()) == WRITERS * OPS
    for key in KEYS:
        balance, version = final[key]
        assert balance == totals[key], f"row {key}: stored {balance}, committed {totals[key]}"
        chain = sorted(versions[key])
        assert chain == list(range(2, totals[key] + 2)), f"row {key}: versions {chain}"
        assert version == totals[key] + 1


def _deposit(acct: Account) -> Account:
    acct.balance += 1
    return acct


def test_threads_modify_hot_rows_without_losing_updates(db: sa.Engine) -> None:
    repo = Repository(db, Account)
    for key in KEYS:
        repo.insert(Account(id=key, owner=f"o{key}", balance=0))
    versions: dict[int, list[int]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(OPS):
                key = KEYS[(n + i) % len(KEYS)]
                result = repo.modify(key, _deposit, attempts=200)
                with lock:
                    versions[key].append(int(result.version))
                    totals[key] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "writers did not finish in time"
    assert errors == []
    final = {k: (repo.get(k).value.balance, int(repo.get(k).version)) for k in KEYS}
    _check(versions, totals, final)
    assert repo.stats.conflicts == repo.stats.retries


async def test_tasks_modify_hot_rows_without_losing_updates(adb: AsyncEngine) -> None:
    repo = AsyncRepository(adb, Account)
    for key in KEYS:
        await repo.insert(Account(id=key, owner=f"o{key}", balance=0))
    versions: dict[int, list[int]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)

    async def writer(n: int) -> None:
        for i in range(OPS):
            key = KEYS[(n + i) % len(KEYS)]
            result = await repo.modify(key, _deposit, attempts=200)
            versions[key].append(int(result.version))
            totals[key] += 1

    await asyncio.wait_for(asyncio.gather(*(writer(n) for n in range(WRITERS))), timeout=120)
    final = {}
    for key in KEYS:
        got = await repo.get(key)
        final[key] = (got.value.balance, int(got.version))
    _check(versions, totals, final)
