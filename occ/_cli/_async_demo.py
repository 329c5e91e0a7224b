"""``occ demo --async``: the same writers as tasks on one event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from occ._cli._async_targets import AsyncWriters, async_writers
from occ._cli._targets import COUNTER, NAIVE, Target
from occ.errors import ConflictError

__all__ = ["run_async"]


async def _occ_increment(repo: Any, side: Any, me: int, key: int, token: str, think: float) -> None:
    from occ._demo import MAX_ATTEMPTS

    for attempt in range(1, MAX_ATTEMPTS + 1):
        start = side.history.clock()
        snap = await repo.get(key)
        await asyncio.sleep(think)
        changes = {"hits": snap.value["hits"] + 1, "token": token}
        side.add(attempts=1)
        try:
            result = await repo.update(key, changes, expected_version=snap.version, base=snap.base)
        except ConflictError:  # the policy raised: read again and retry
            side.conflict(me, key, token, snap.version, start)
            if attempt < MAX_ATTEMPTS:
                side.add(retries=1)
            continue
        side.settle(me, key, token, snap, result, start)
        return
    side.add(gave_up=1, done=1)


async def _naive_increment(
    writers: AsyncWriters, side: Any, me: int, key: int, token: str, think: float
) -> None:
    start = side.history.clock()
    hits, version = await writers.naive_read(key)
    await asyncio.sleep(think)
    side.add(attempts=1)
    await writers.naive_write(key, hits + 1, token, version + 1)
    side.committed(me, key, token, version, version + 1, hits + 1, start)


async def _tasks(
    side: Any,
    opts: Any,
    increment: Callable[[int, int, str], Awaitable[None]],
    progress: Callable[[int], None],
) -> float:
    from occ._demo import _key

    async def writer(me: int) -> None:
        for i in range(opts.ops):
            await increment(me, _key(me, i, opts.rows), f"w{me}.{i}")

    async def watch() -> None:
        while True:
            progress(side.done)
            await asyncio.sleep(0.05)

    started = time.perf_counter()
    watcher = asyncio.create_task(watch())
    try:
        await asyncio.gather(*(writer(me) for me in range(opts.writers)))
    finally:
        watcher.cancel()
    progress(side.done)
    return time.perf_counter() - started


async def run_async(
    target: Target, opts: Any, policy: Any, retry: Any, alerts: Any, tick: Any
) -> tuple[Any, Any]:
    """Run occ's writers, then the naive writer's, as tasks; their judged reports."""
    from occ._demo import _fill_stats, _Side

    writers = async_writers(target)
    total = opts.writers * opts.ops
    try:
        repo = writers.repository(policy, retry)
        occ_side = _Side("occ", opts.rows)
        seconds = await _tasks(
            occ_side,
            opts,
            lambda me, key, token: _occ_increment(repo, occ_side, me, key, token, opts.think),
            tick(f"occ ({opts.policy}, async)", total),
        )
        _fill_stats(occ_side, repo, alerts)
        occ_report = occ_side.judge(target.final(COUNTER, opts.rows), seconds)
        naive_report = None
        if opts.naive:
            naive = _Side("naive", opts.rows)
            seconds = await _tasks(
                naive,
                opts,
                lambda me, key, token: _naive_increment(writers, naive, me, key, token, opts.think),
                tick("naive writer (async)", total),
            )
            naive_report = naive.judge(target.final(NAIVE, opts.rows), seconds)
        return occ_report, naive_report
    finally:
        await writers.close()
