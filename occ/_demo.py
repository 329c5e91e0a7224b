"""``occ demo``: N writers increment hot counters through occ, then a naive writer does the same.

occ's writers read (``get``), think, and write conditionally (``update`` with
the version they read): a conflict goes to the chosen policy. The naive
writer reads, thinks, and writes what it computed unconditionally. Both
record every attempt in a :class:`~occ.testing.History`, and
:func:`~occ.testing.check_history` judges each: occ's must be clean, the naive
writer's shows the updates it lost.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from occ._cli._targets import COUNTER, NAIVE, START, MongoTarget, SqlTarget, Target
from occ._core.model import Versioned
from occ.errors import ConflictError
from occ.testing import History, State, check_history

__all__ = ["DemoOptions", "DemoReport", "SideReport", "default_url", "run_demo"]

#: app-level attempts per increment under ``--policy raise`` before giving up.
MAX_ATTEMPTS = 1000


def default_url() -> str:
    """An embedded SQLite file under the system temp directory."""
    return "sqlite:///" + os.path.join(tempfile.gettempdir(), "occ-demo.sqlite3")


@dataclass(frozen=True)
class DemoOptions:
    """What to run: where, how many writers, which policy.

    Attributes:
        url: SQLAlchemy URL or ``mongodb://`` URI (``None``: embedded SQLite).
        writers: concurrent writers (threads, or tasks with ``use_async``).
        ops: increments per writer.
        rows: hot keys the writers share.
        policy: ``raise``, ``merge``, ``discard`` or ``alert``.
        use_async: tasks on an event loop instead of threads.
        think: seconds a writer spends between its read and its write.
        naive: also run the naive writer.
    """

    url: str | None = None
    writers: int = 8
    ops: int = 50
    rows: int = 3
    policy: str = "merge"
    use_async: bool = False
    think: float = 0.001
    naive: bool = True


@dataclass
class SideReport:
    """What one side (occ, or the naive writer) did, and the checker's verdict."""

    name: str
    attempts: int = 0
    conflicts: int = 0
    retries: int = 0
    merges: int = 0
    discards: int = 0
    alerts: int = 0
    committed: int = 0
    gave_up: int = 0
    total: int = 0
    lost_updates: int = 0
    checker_ok: bool = False
    anomalies: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "attempts": self.attempts,
            "conflicts": self.conflicts,
            "retries": self.retries,
            "merges": self.merges,
            "discards": self.discards,
            "alerts": self.alerts,
            "committed": self.committed,
            "gave_up": self.gave_up,
            "total": self.total,
            "lost_updates": self.lost_updates,
            "checker_ok": self.checker_ok,
            "anomalies": dict(self.anomalies),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class DemoReport:
    """A demo run: options, occ's side, the naive writer's side, notes."""

    url: str
    backend: str
    options: DemoOptions
    occ: SideReport
    naive: SideReport | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when occ lost no update and its history checks clean."""
        return self.occ.checker_ok and self.occ.lost_updates == 0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``occ demo --json``)."""
        o = self.options
        return {
            "url": self.url,
            "backend": self.backend,
            "mode": "async" if o.use_async else "threads",
            "policy": o.policy,
            "writers": o.writers,
            "ops": o.ops,
            "rows": o.rows,
            "increments": o.writers * o.ops,
            **self.occ.as_dict(),
            "ok": self.ok,
            "naive": None if self.naive is None else self.naive.as_dict(),
            "notes": list(self.notes),
        }


class _Side:
    """A side's live tally while writers run (thread-safe)."""

    def __init__(self, name: str, rows: int) -> None:
        self.report = SideReport(name)
        self.history = History()
        for key in range(1, rows + 1):
            self.history.initial(key, 1, START)
        self.done = 0
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                if name == "done":
                    self.done += n
                else:
                    setattr(self.report, name, getattr(self.report, name) + n)

    def conflict(self, me: int, key: int, token: str, read: Any, start: int) -> None:
        self.history.record(
            me,
            key,
            read_version=read,
            written_version=None,
            outcome="conflict",
            token=token,
            start=start,
        )

    def settle(
        self, me: int, key: int, token: str, snap: Versioned[Any], result: Any, start: int
    ) -> None:
        """Record the outcome of occ's write: committed (maybe merged) or discarded."""
        if result.value["token"] != token:  # the policy kept theirs
            self.conflict(me, key, token, snap.version, start)
            self.add(done=1)
            return
        self.committed(
            me, key, token, result.version - 1, result.version, result.value["hits"], start
        )

    def committed(
        self, me: int, key: int, token: str, read: int, written: int, hits: int, start: int
    ) -> None:
        self.history.record(
            me,
            key,
            read_version=read,
            written_version=written,
            outcome="committed",
            token=token,
            values={"hits": hits, "token": token},
            deltas={"hits": 1},
            start=start,
        )
        self.add(committed=1, done=1)

    def judge(self, final: dict[Any, State], seconds: float) -> SideReport:
        report = self.report
        report.seconds = seconds
        report.total = sum(int(s.values["hits"]) for s in final.values())
        report.lost_updates = max(0, report.committed - report.total)
        checked = check_history(self.history, final, counters=("hits",), raise_on_anomaly=False)
        report.checker_ok = checked.ok
        for anomaly in checked.anomalies:
            report.anomalies[anomaly.kind] = report.anomalies.get(anomaly.kind, 0) + 1
        return report


def _pause(seconds: float) -> None:
    time.sleep(seconds)  # 0 still yields the GIL: writers interleave


def _occ_increment(repo: Any, side: _Side, me: int, key: int, token: str, think: float) -> None:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        start = side.history.clock()
        snap = repo.get(key)
        _pause(think)
        changes = {"hits": snap.value["hits"] + 1, "token": token}
        side.add(attempts=1)
        try:
            result = repo.update(key, changes, expected_version=snap.version, base=snap.base)
        except ConflictError:  # the policy raised: read again and retry
            side.conflict(me, key, token, snap.version, start)
            if attempt < MAX_ATTEMPTS:
                side.add(retries=1)
            continue
        side.settle(me, key, token, snap, result, start)
        return
    side.add(gave_up=1, done=1)


def _naive_increment(
    target: Target, side: _Side, me: int, key: int, token: str, think: float
) -> None:
    start = side.history.clock()
    hits, version = target.naive_read(key)
    _pause(think)
    side.add(attempts=1)
    target.naive_write(key, hits + 1, token, version + 1)
    side.committed(me, key, token, version, version + 1, hits + 1, start)


def _key(me: int, i: int, rows: int) -> int:
    return (me + i) % rows + 1


def _threads(
    side: _Side,
    opts: DemoOptions,
    increment: Callable[[int, int, str], None],
    progress: Callable[[int], None],
) -> float:
    failures: list[BaseException] = []

    def writer(me: int) -> None:
        try:
            for i in range(opts.ops):
                increment(me, _key(me, i, opts.rows), f"w{me}.{i}")
        except BaseException as exc:  # reported after the run
            failures.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(opts.writers)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        progress(side.done)
        time.sleep(0.05)
    progress(side.done)
    if failures:
        raise failures[0]
    return time.perf_counter() - started


def _fill_stats(side: _Side, repo: Any, alerts: Any) -> None:
    stats = repo.stats.snapshot()
    decisions: dict[str, int] = stats["decisions"]
    side.add(
        conflicts=stats["conflicts"],
        retries=stats["retries"],
        attempts=stats["retries"],
        merges=decisions.get("merged", 0),
        discards=decisions.get("discarded", 0),
        alerts=alerts.count,
    )


def make_target(url: str) -> Target:
    """The target for ``url`` (SQL or MongoDB)."""
    from occ._cli._common import kind_of

    return MongoTarget(url) if kind_of(url) == "mongo" else SqlTarget(url)


def run_demo(opts: DemoOptions, progress: Any = None) -> DemoReport:
    """Run the demo and judge both sides.

    Args:
        opts: what to run.
        progress: ``progress(side_name, total) -> update(done)`` for a progress bar.

    Raises:
        CliError: the URL is unusable (see :mod:`occ._cli._common`).
    """
    from occ import RetryPolicy
    from occ._cli._policies import build_policy

    url = opts.url or default_url()
    target = make_target(url)
    try:
        target.reset(opts.rows)
        policy, alerts, notes = build_policy(opts.policy, target.store)
        retry = RetryPolicy(attempts=50, max_delay=0.02)
        report = DemoReport(url, _backend(target), opts, SideReport("occ"), notes=notes)
        total = opts.writers * opts.ops
        tick = progress or (lambda name, n: lambda done: None)
        if opts.use_async:
            import asyncio

            from occ._cli._async_demo import run_async

            report.occ, report.naive = asyncio.run(
                run_async(target, opts, policy, retry, alerts, tick)
            )
        else:
            repo = target.repository(policy, retry)
            occ_side = _Side("occ", opts.rows)
            seconds = _threads(
                occ_side,
                opts,
                lambda me, key, token: _occ_increment(repo, occ_side, me, key, token, opts.think),
                tick(f"occ ({opts.policy})", total),
            )
            _fill_stats(occ_side, repo, alerts)
            report.occ = occ_side.judge(target.final(COUNTER, opts.rows), seconds)
            if opts.naive:
                naive = _Side("naive", opts.rows)
                seconds = _threads(
                    naive,
                    opts,
                    lambda me, key, token: _naive_increment(
                        target, naive, me, key, token, opts.think
                    ),
                    tick("naive writer", total),
                )
                report.naive = naive.judge(target.final(NAIVE, opts.rows), seconds)
        if opts.policy == "alert" and report.occ.alerts and target.store() is not None:
            report.notes.append(f"review them: occ conflicts list --url {_shown(target)}")
        return report
    finally:
        target.close()


def _backend(target: Target) -> str:
    if isinstance(target, MongoTarget):
        return "mongodb"
    return str(target.engine.dialect.name)


def _shown(target: Target) -> str:
    from occ._cli._common import safe_uri

    if isinstance(target, SqlTarget):
        return str(target.engine.url.render_as_string(hide_password=True))
    return safe_uri(target.url)
