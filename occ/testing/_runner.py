"""Run a workload under a schedule (lockstep) or for real (threads / tasks), and record it.

Every run resets its keys, records the initial states, records one operation
per write into a :class:`~occ.testing.History`, reads the final states and
returns a :class:`Run` whose :meth:`Run.check` proves nothing was lost.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from occ.errors import ConflictError, NotFoundError
from occ.testing._check import HistoryAnomalyError, Report, check_history
from occ.testing._history import History, State
from occ.testing._schedule import (
    Schedule,
    ScheduleTimeoutError,
    TaskScheduler,
    ThreadScheduler,
    Turn,
)
from occ.testing._workload import AsyncWorkload, Workload, Written

__all__ = ["Run", "ahammer", "arun_schedule", "hammer", "run_schedule"]

#: extra time a real-concurrency run allows writers to finish their last operation.
GRACE = 30.0


@dataclass
class Run:
    """The outcome of a run: its history, the final states and how it went.

    Attributes:
        history: every operation recorded.
        final: each key's state after the run.
        counters: the workload's counter fields.
        schedule: the schedule it followed (``None`` for real concurrency).
        turns: the points the writers reached, in order (scheduled runs).
        errors: unexpected errors writers met (their operations are ``unknown``).
        seconds: wall time of the run.
    """

    history: History
    final: dict[Any, State]
    counters: tuple[str, ...] = ()
    schedule: Schedule | None = None
    turns: tuple[Turn, ...] = ()
    errors: list[BaseException] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, *, raise_on_anomaly: bool = True) -> Report:
        """Check the history (see :func:`~occ.testing.check_history`).

        Raises:
            HistoryAnomalyError: with the schedule to replay and the turns taken.
            BaseException: the first unexpected error a writer met.
        """
        if self.errors:
            raise self.errors[0]
        try:
            return check_history(
                self.history,
                self.final,
                counters=self.counters,
                raise_on_anomaly=raise_on_anomaly,
            )
        except HistoryAnomalyError as exc:
            if self.schedule is not None:
                exc.add_note(f"replay exactly with: {self.schedule!r}")
                exc.add_note("turns: " + ", ".join(f"w{t.writer}:{t.point}" for t in self.turns))
            raise


def _committed(history: History, me: int, key: Any, token: str, start: int, w: Written) -> None:
    history.record(
        me,
        key,
        read_version=w.read_version,
        written_version=w.written_version,
        outcome="committed",
        token=token,
        values=w.values,
        deltas=w.deltas,
        start=start,
    )


def _failed(
    history: History,
    me: int,
    key: Any,
    token: str,
    start: int,
    exc: Exception,
    errors: list[BaseException],
) -> None:
    if isinstance(exc, ConflictError):
        conflict = exc.conflict
        outcome = "not-found" if conflict.deleted else "conflict"
        read = conflict.expected_version
    elif isinstance(exc, NotFoundError):
        outcome, read = "not-found", None
    else:
        outcome, read = "unknown", None
        errors.append(exc)
    history.record(
        me, key, read_version=read, written_version=None, outcome=outcome, token=token, start=start
    )


@contextmanager
def _recording(
    history: History, me: int, key: Any, token: str, errors: list[BaseException]
) -> Iterator[list[Written]]:
    """Record the operation the block runs: committed with what it appends, or failed."""
    start = history.clock()
    written: list[Written] = []
    try:
        yield written
    except ScheduleTimeoutError:
        raise
    except Exception as exc:
        _failed(history, me, key, token, start, exc, errors)
    else:
        _committed(history, me, key, token, start, written[0])


def _op(
    workload: Workload, history: History, me: int, key: Any, token: str, errors: list[BaseException]
) -> None:
    with _recording(history, me, key, token, errors) as written:
        written.append(workload.write(key, token))


async def _aop(
    workload: AsyncWorkload,
    history: History,
    me: int,
    key: Any,
    token: str,
    errors: list[BaseException],
) -> None:
    with _recording(history, me, key, token, errors) as written:
        written.append(await workload.write(key, token))


def _initial(history: History, key: Any, state: State | None) -> None:
    if state is None:
        raise ValueError(f"key {key!r} does not exist before the run; give the workload a reset")
    history.initial(key, state.version, state.values)


def _prepare(workload: Workload, keys: Sequence[Any]) -> History:
    history = History()
    for key in keys:
        if workload.reset is not None:
            workload.reset(key)
        _initial(history, key, workload.read(key))
    return history


async def _aprepare(workload: AsyncWorkload, keys: Sequence[Any]) -> History:
    history = History()
    for key in keys:
        if workload.reset is not None:
            await workload.reset(key)
        _initial(history, key, await workload.read(key))
    return history


def _final(workload: Workload, keys: Sequence[Any]) -> dict[Any, State]:
    return {key: state for key in keys if (state := workload.read(key)) is not None}


async def _afinal(workload: AsyncWorkload, keys: Sequence[Any]) -> dict[Any, State]:
    return {key: state for key in keys if (state := await workload.read(key)) is not None}


def _key(keys: Sequence[Any], index: int) -> Any:
    return keys[index % len(keys)]


def run_schedule(
    workload: Workload, schedule: Schedule, keys: Sequence[Any], *, timeout: float = 10.0
) -> Run:
    """Run writer threads in lockstep, switching where ``schedule`` says.

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
    history = _prepare(workload, keys)
    scheduler = ThreadScheduler(schedule, timeout=timeout)
    errors: list[BaseException] = []
    timeouts: list[BaseException] = []

    def body(me: int) -> None:
        scheduler.bind(me)
        try:
            scheduler.wait_turn(me)
            plan = schedule.plans[me]
            for i, index in enumerate(plan):
                key = _key(keys, index)
                _op(workload, history, me, key, f"w{me}.{i}", errors)
                if i + 1 < len(plan):
                    scheduler.point(me, "op_done", key)
        except ScheduleTimeoutError as exc:
            timeouts.append(exc)
        finally:
            scheduler.finish(me)

    began = time.perf_counter()
    threads = [
        threading.Thread(target=body, args=(me,), daemon=True) for me in range(schedule.writers)
    ]
    for thread in threads:
        thread.start()
    scheduler.start()
    for thread in threads:
        thread.join(timeout * 2)
    if timeouts or any(t.is_alive() for t in threads):
        raise timeouts[0] if timeouts else ScheduleTimeoutError("a writer thread did not finish")
    seconds = time.perf_counter() - began
    return Run(
        history,
        _final(workload, keys),
        workload.counters,
        schedule,
        tuple(scheduler.chooser.turns),
        errors,
        seconds,
    )


async def arun_schedule(
    workload: AsyncWorkload, schedule: Schedule, keys: Sequence[Any], *, timeout: float = 10.0
) -> Run:
    """:func:`run_schedule` for async repositories: writer tasks on the running loop."""
    history = await _aprepare(workload, keys)
    scheduler = TaskScheduler(schedule, timeout=timeout)
    errors: list[BaseException] = []

    async def body(me: int) -> None:
        scheduler.bind(me)
        try:
            await scheduler.wait_turn(me)
            plan = schedule.plans[me]
            for i, index in enumerate(plan):
                key = _key(keys, index)
                await _aop(workload, history, me, key, f"w{me}.{i}", errors)
                if i + 1 < len(plan):
                    await scheduler.point(me, "op_done", key)
        finally:
            scheduler.finish(me)

    began = time.perf_counter()
    tasks = [asyncio.create_task(body(me)) for me in range(schedule.writers)]
    scheduler.start()
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - began
    return Run(
        history,
        await _afinal(workload, keys),
        workload.counters,
        schedule,
        tuple(scheduler.chooser.turns),
        errors,
        seconds,
    )


def hammer(
    workload: Workload,
    keys: Sequence[Any],
    *,
    writers: int = 4,
    ops: int = 200,
    seconds: float = 10.0,
    seed: int = 0,
) -> Run:
    """Real concurrency: ``writers`` threads write random ``keys`` until ``ops`` or ``seconds``.

    The run stops by itself when the operation budget or the time runs out,
    whichever comes first; writers then finish the operation they are in.

    Raises:
        TimeoutError: a writer was still stuck ``GRACE`` seconds after the deadline.
    """
    history = _prepare(workload, keys)
    errors: list[BaseException] = []
    budget = iter(range(ops))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def body(me: int) -> None:
        rng = random.Random(f"{seed}/{me}")
        i = 0
        while time.monotonic() < deadline:
            with lock:
                if next(budget, None) is None:
                    return
            _op(workload, history, me, rng.choice(keys), f"w{me}.{i}", errors)
            i += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=body, args=(me,), daemon=True) for me in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + GRACE)
    stuck = [i for i, t in enumerate(threads) if t.is_alive()]
    if stuck:
        raise TimeoutError(f"writers {stuck} were still running {GRACE}s after the deadline")
    elapsed = time.perf_counter() - began
    return Run(history, _final(workload, keys), workload.counters, seconds=elapsed, errors=errors)


async def ahammer(
    workload: AsyncWorkload,
    keys: Sequence[Any],
    *,
    writers: int = 4,
    ops: int = 200,
    seconds: float = 10.0,
    seed: int = 0,
) -> Run:
    """:func:`hammer` with ``writers`` tasks on the running event loop."""
    history = await _aprepare(workload, keys)
    errors: list[BaseException] = []
    budget = iter(range(ops))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def body(me: int) -> None:
        rng = random.Random(f"{seed}/{me}")
        i = 0
        while loop.time() < deadline and next(budget, None) is not None:
            await _aop(workload, history, me, rng.choice(keys), f"w{me}.{i}", errors)
            i += 1

    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(body(me) for me in range(writers))), seconds + GRACE)
    elapsed = time.perf_counter() - began
    return Run(
        history, await _afinal(workload, keys), workload.counters, seconds=elapsed, errors=errors
    )
