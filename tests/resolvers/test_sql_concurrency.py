"""Writers hammering one hot row under each policy, on every SQL backend (threads and tasks).

Bounded: 8 writers x 25 operations each; each test prints the repository's
conflict/retry counts (run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from occ import RetryPolicy
from occ.conflicts import ConflictEvent
from occ.conflicts.sql import AsyncConflictStore
from occ.resolvers import Alert, Counter, Discard, Merge
from occ.sql import AsyncRepository, Repository
from tests.resolvers.models import STORE_TABLE, fresh
from tests.resolvers.models import Counter as Row

WRITERS, OPS = 8, 25
TOTAL = WRITERS * OPS
PATIENT = RetryPolicy(attempts=200, base_delay=0.001, max_delay=0.02)


def hammer(op: Callable[[int, int], None]) -> None:
    """Run ``op(writer, n)`` OPS times in each of WRITERS threads, started together."""
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(w: int) -> None:
        start.wait()
        try:
            for n in range(OPS):
                op(w, n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    assert not errors, errors[0]


async def ahammer(op: Callable[[int, int], Awaitable[None]]) -> None:
    async def writer(w: int) -> None:
        for n in range(OPS):
            await op(w, n)

    await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(WRITERS))), 90)


def report(name: str, repo: Any, **extra: Any) -> None:
    print(f"\n[{name}] {repo.engine.dialect.name}: {repo.stats.snapshot()} {extra}")


def test_merge_counter_with_8_writers_ends_exact(engine: sa.Engine) -> None:
    fresh(engine)
    repo = Repository(engine, Row, policy=Merge(fields={"hits": Counter()}), retry=PATIENT)
    repo.insert(Row(id=1, hits=0))

    def increment(w: int, n: int) -> None:
        snap = repo.get(1)
        snap.value.hits += 1
        repo.save(snap)

    hammer(increment)
    final = repo.get(1)
    report("merge", repo)
    assert (final.value.hits, final.version) == (TOTAL, TOTAL + 1)
    assert repo.stats.conflicts > 0 or engine.dialect.name == "sqlite"


def test_discard_with_archive_applied_plus_archived_equals_attempted(engine: sa.Engine) -> None:
    store = fresh(engine)
    repo = Repository(engine, Row, policy=Discard(archive=store))
    repo.insert(Row(id=1, note="start"))
    applied: list[str] = []

    def write(w: int, n: int) -> None:
        snap = repo.get(1)
        token = f"{w}-{n}"
        result = repo.update(1, {"note": token}, expected_version=snap.version, base=snap)
        if result.value.note == token:
            applied.append(token)

    hammer(write)
    archived = [c.conflict.mine["note"] for c in store.list(status="discarded", limit=None)]
    report("discard", repo, applied=len(applied), archived=len(archived))
    assert len(applied) + len(archived) == TOTAL
    assert set(applied) | set(archived) == {f"{w}-{n}" for w in range(WRITERS) for n in range(OPS)}
    assert repo.get(1).version == 1 + len(applied)


def test_alert_with_raising_sink_keeps_every_conflict_in_the_store(engine: sa.Engine) -> None:
    store = fresh(engine)

    def boom(event: ConflictEvent) -> None:
        raise RuntimeError("pager down")

    policy = Alert(store, boom, then=Merge(fields={"hits": Counter()}))
    repo = Repository(engine, Row, policy=policy, retry=PATIENT)
    repo.insert(Row(id=1, hits=0))

    def increment(w: int, n: int) -> None:
        snap = repo.get(1)
        snap.value.hits += 1
        repo.save(snap)

    hammer(increment)
    stats = repo.stats.snapshot()
    report("alert", repo, stored=store.count())
    assert repo.get(1).value.hits == TOTAL
    assert store.count(status="pending") == stats["decisions"].get("merged", 0)
    assert stats["conflicts"] == sum(stats["decisions"].values())


def test_fast_path_with_8_writers_never_conflicts(engine: sa.Engine) -> None:
    fresh(engine)
    policy = Merge(fields={"hits": Counter()}, fast_path=True)
    repo = Repository(engine, Row, policy=policy)
    stale = repo.insert(Row(id=1, hits=0))

    def increment(w: int, n: int) -> None:
        # Always the first snapshot: stale, yet it never conflicts.
        repo.update(1, {"hits": 1}, expected_version=stale.version, base={"hits": 0})

    hammer(increment)
    final = repo.get(1)
    report("fast path", repo)
    assert (final.value.hits, final.version) == (TOTAL, TOTAL + 1)
    assert repo.stats.snapshot() == {"conflicts": 0, "retries": 0, "fallbacks": 0, "decisions": {}}


async def test_async_merge_counter_with_8_tasks_ends_exact(
    engine: sa.Engine, async_engine: AsyncEngine
) -> None:
    fresh(engine)
    policy = Merge(fields={"hits": Counter()})
    repo = AsyncRepository(async_engine, Row, policy=policy, retry=PATIENT)
    await repo.insert(Row(id=1, hits=0))

    async def increment(w: int, n: int) -> None:
        snap = await repo.get(1)
        snap.value.hits += 1
        await repo.save(snap)

    await ahammer(increment)
    final = await repo.get(1)
    report("async merge", repo)
    assert (final.value.hits, final.version) == (TOTAL, TOTAL + 1)


async def test_async_fast_path_with_8_tasks_never_conflicts(
    engine: sa.Engine, async_engine: AsyncEngine
) -> None:
    fresh(engine)
    policy = Merge(fields={"hits": Counter()}, fast_path=True)
    repo = AsyncRepository(async_engine, Row, policy=policy)
    await repo.insert(Row(id=1, hits=0))

    async def increment(w: int, n: int) -> None:
        await repo.update(1, {"hits": 1}, expected_version=1, base={"hits": 0})

    await ahammer(increment)
    final = await repo.get(1)
    report("async fast path", repo)
    assert (final.value.hits, final.version) == (TOTAL, TOTAL + 1)
    assert repo.stats.conflicts == 0


async def test_async_alert_persists_every_conflict_with_failing_and_hung_sinks(
    engine: sa.Engine, async_engine: AsyncEngine
) -> None:
    fresh(engine)
    store = AsyncConflictStore(async_engine, STORE_TABLE)

    async def boom(event: ConflictEvent) -> None:
        raise RuntimeError("pager down")

    async def hang(event: ConflictEvent) -> None:
        await asyncio.sleep(60)

    policy = Alert(store, boom, hang, then=Merge(fields={"hits": Counter()}), timeout=0.05)
    repo = AsyncRepository(async_engine, Row, policy=policy, retry=PATIENT)
    await repo.insert(Row(id=1, hits=0))

    async def increment(w: int, n: int) -> None:
        snap = await repo.get(1)
        snap.value.hits += 1
        await repo.save(snap)

    await ahammer(increment)
    stats = repo.stats.snapshot()
    report("async alert", repo, stored=await store.count())
    assert (await repo.get(1)).value.hits == TOTAL
    assert await store.count(status="pending") == stats["decisions"].get("merged", 0)
