"""Run a workload under a schedule (lockstep) or for real (concurrent writers), and record it.

Every run resets its keys, records the initial states, records one operation
per write into a :class:`~occ.testing.History`, reads the final states and
returns a :class:`~occ.testing.Run` whose ``check()`` proves nothing was lost.
Writers are tasks on the running event loop here, threads in the generated
sync twin.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from occ._modes import agather
from occ.testing._history import History, State
from occ.testing._run import GRACE, Run, initial, pick, recording
from occ.testing._schedule import AsyncScheduler, Schedule, ScheduleTimeoutError
from occ.testing._workload import AsyncWorkload

__all__ = ["ahammer", "arun_schedule"]


async def _op(
    workload: AsyncWorkload,
    history: History,
    me: int,
    key: Any,
    token: str,
    errors: list[BaseException],
) -> None:
    with recording(history, me, key, token, errors, workload.deltas) as written:
        written.append(await workload.write(key, token))


async def _prepare(workload: AsyncWorkload, keys: Sequence[Any]) -> History:
    history = History()
    for key in keys:
        if workload.reset is not None:
            await workload.reset(key)
        initial(history, key, await workload.read(key))
    return history


async def _final(workload: AsyncWorkload, keys: Sequence[Any]) -> dict[Any, State]:
    return {key: state for key in keys if (state := await workload.read(key)) is not None}


async def arun_schedule(
    workload: AsyncWorkload, schedule: Schedule, keys: Sequence[Any], *, timeout: float = 10.0
) -> Run:
    """Run writers in lockstep, switching where ``schedule`` says.

    The repository behind the workload must be built with
    ``on_point=occ.testing.on_point`` (a hand-written writer calls
    :func:`~occ.testing.checkpoint` itself). Writer ``i`` runs the operations
    of ``schedule.plans[i]``, each on ``keys[k % len(keys)]``.

    Args:
        workload: what each operation does.
        schedule: the plans and the order of turns.
        keys: the keys, reset before the run.
        timeout: how long a writer may wait for its turn before the run fails.

    Raises:
        ScheduleTimeoutError: a writer never reached its next point (deadlock).
    """
    history = await _prepare(workload, keys)
    scheduler = AsyncScheduler(schedule, timeout=timeout)
    errors: list[BaseException] = []
    timeouts: list[BaseException] = []

    def writer(me: int) -> Any:
        async def body() -> None:
            scheduler.bind(me)
            try:
                await scheduler.wait_turn(me)
                plan = schedule.plans[me]
                for i, index in enumerate(plan):
                    key = pick(keys, index)
                    await _op(workload, history, me, key, f"w{me}.{i}", errors)
                    if i + 1 < len(plan):
                        await scheduler.point(me, "op_done", key)
            except ScheduleTimeoutError as exc:
                timeouts.append(exc)
            finally:
                scheduler.finish(me)

        return body

    began = time.perf_counter()
    scheduler.start()
    stuck = await agather([writer(me) for me in range(schedule.writers)], timeout * 2)
    if timeouts or stuck:
        raise timeouts[0] if timeouts else ScheduleTimeoutError(f"writers {stuck} did not finish")
    seconds = time.perf_counter() - began
    return Run(
        history,
        await _final(workload, keys),
        workload.counters,
        schedule,
        tuple(scheduler.chooser.turns),
        errors,
        seconds,
    )


async def ahammer(
    workload: AsyncWorkload,
    keys: Sequence[Any],
    *,
    writers: int = 4,
    ops: int = 200,
    seconds: float = 10.0,
    seed: int = 0,
) -> Run:
    """Real concurrency: ``writers`` concurrent writers write random ``keys`` until ``ops``
    or ``seconds``.

    The run stops by itself when the operation budget or the time runs out,
    whichever comes first; writers then finish the operation they are in.

    Raises:
        TimeoutError: a writer was still stuck ``GRACE`` seconds after the deadline.
    """
    history = await _prepare(workload, keys)
    errors: list[BaseException] = []
    budget = iter(range(ops))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def writer(me: int) -> Any:
        async def body() -> None:
            rng = random.Random(f"{seed}/{me}")
            i = 0
            while time.monotonic() < deadline:
                with lock:
                    if next(budget, None) is None:
                        return
                await _op(workload, history, me, rng.choice(keys), f"w{me}.{i}", errors)
                i += 1

        return body

    began = time.perf_counter()
    stuck = await agather([writer(me) for me in range(writers)], seconds + GRACE)
    if stuck:
        raise TimeoutError(f"writers {stuck} were still running {GRACE}s after the deadline")
    elapsed = time.perf_counter() - began
    return Run(
        history, await _final(workload, keys), workload.counters, seconds=elapsed, errors=errors
    )
