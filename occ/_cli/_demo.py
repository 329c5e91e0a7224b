"""``occ demo``: N writers increment hot counters through occ, then a naive writer does the same.

Each side runs under :func:`~occ.testing.hammer` (threads) or
:func:`~occ.testing.ahammer` (tasks), which records every increment in a
:class:`~occ.testing.History`; :meth:`~occ.testing.Run.check` judges it:
occ's must be clean, the naive writer's shows the updates it lost.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from occ import RetryPolicy
from occ._cli._policies import build_policy
from occ._cli._report import DemoOptions, DemoReport, Progress, SideReport, default_url
from occ._cli._targets import COUNTER, NAIVE, Target, Writers, open_target
from occ._cli._writers import Side, naive_side, occ_side
from occ.resolvers import Resolver
from occ.testing import Run, ahammer, hammer

__all__ = ["run_demo"]

#: occ's own retries of a resolved write (``merge``): bounded, short backoff.
RETRY = RetryPolicy(attempts=50, max_delay=0.02)


def _no_progress(label: str, total: int) -> Callable[[], None]:
    return lambda: None


@dataclass
class _Demo:
    """One run: its options and policy, the bars, the notes; the same for threads and tasks."""

    opts: DemoOptions
    policy: Resolver
    events: list[str]
    progress: Progress
    notes: list[str] = field(default_factory=list)

    @property
    def bounds(self) -> dict[str, Any]:
        """``hammer``'s arguments: the hot keys, writers, the increments they share, time."""
        o = self.opts
        keys = list(range(1, o.rows + 1))
        return {"keys": keys, "writers": o.writers, "ops": o.increments, "seconds": o.seconds}

    def sides(self, writers: Writers) -> Iterator[tuple[str, Side, Callable[[], None]]]:
        """occ's side, then the naive writer's (unless ``--no-naive``), each with its tick."""
        o, mode = self.opts, ", async" if self.opts.use_async else ""
        label = f"occ ({o.policy}{mode})"
        repo = writers.repository(COUNTER, policy=self.policy, retry=RETRY)
        yield label, occ_side(repo, self.events, o.think), self.progress(label, o.increments)
        if o.naive:
            label = f"naive writer{' (async)' if mode else ''}"
            naive = naive_side(writers.repository(NAIVE), writers.overwrite, o.think)
            yield label, naive, self.progress(label, o.increments)

    def judge(self, label: str, side: Side, run: Run) -> SideReport:
        """What the side did, and what the history checker says of it."""
        if len(run.history) < self.opts.increments:
            self.notes.append(
                f"{label}: stopped after {self.opts.seconds:g}s, "
                f"{len(run.history)} of {self.opts.increments} increments ran"
            )
        checked = run.check(raise_on_anomaly=False)
        total = sum(int(state.values["hits"]) for state in run.final.values())
        stats, events = side.repo.stats.snapshot(), Counter(side.events)
        decisions: dict[str, int] = stats["decisions"]
        return SideReport(
            attempts=events["attempts"] + stats["retries"],
            conflicts=stats["conflicts"],
            retries=events["retries"] + stats["retries"],
            merges=decisions.get("merged", 0),
            discards=decisions.get("discarded", 0),
            alerts=events["alerts"],
            committed=checked.committed,
            gave_up=events["gave_up"],
            total=total,
            lost_updates=max(0, checked.committed - total),
            checker_ok=checked.ok,
            anomalies=dict(Counter(anomaly.kind for anomaly in checked.anomalies)),
            seconds=run.seconds,
        )


def _threads(demo: _Demo, target: Target) -> list[SideReport]:
    bounds = demo.bounds
    return [
        demo.judge(label, side, hammer(side.workload(tick), **bounds))
        for label, side, tick in demo.sides(target.writers(use_async=False))
    ]


async def _tasks(demo: _Demo, target: Target) -> list[SideReport]:
    bounds, writers = demo.bounds, target.writers(use_async=True)
    try:
        return [
            demo.judge(label, side, await ahammer(side.async_workload(tick), **bounds))
            for label, side, tick in demo.sides(writers)
        ]
    finally:
        await writers.close()


def run_demo(opts: DemoOptions, progress: Progress | None = None) -> DemoReport:
    """Run occ's side, then the naive writer's, on fresh tables; judge both.

    Args:
        opts: what to run.
        progress: draws a progress bar per side (none by default).

    Raises:
        CliError: the URL is unusable (see :mod:`occ._cli._common`).
    """
    target = open_target(opts.url or default_url())
    try:
        target.reset(opts.rows)
        events: list[str] = []
        policy = build_policy(opts.policy, target.store, lambda event: events.append("alerts"))
        demo = _Demo(opts, policy, events, progress or _no_progress)
        sides = asyncio.run(_tasks(demo, target)) if opts.use_async else _threads(demo, target)
        if sides[0].alerts:
            demo.notes.append(f"review them: occ conflicts list --url {target.shown}")
            demo.notes.append(
                f"or in a browser: occ conflicts serve --url {target.shown} "
                "(then open http://127.0.0.1:8765/)"
            )
        naive = sides[1] if opts.naive else None
        return DemoReport(target.shown, target.backend, opts, sides[0], naive, tuple(demo.notes))
    finally:
        target.close()
