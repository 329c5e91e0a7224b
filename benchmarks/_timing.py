"""Interleaved timing: A B C, then B C A, ... so machine drift hits every system alike."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["Measured", "interleave", "percentile", "record", "runner", "timed_round"]


@dataclass
class Measured:
    """What the timed rounds of one system added up to."""

    ops: int = 0
    seconds: float = 0.0
    #: CPU time of the timing thread: steadier than wall time on a busy machine.
    cpu_ns: int = 0
    latencies_ns: list[int] = field(default_factory=list)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_op(self) -> float | None:
        return self.cpu_ns / self.ops / 1e3 if self.ops and self.cpu_ns else None


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted nanoseconds, in milliseconds (nearest rank)."""
    if not sorted_ns:
        return 0.0
    index = min(len(sorted_ns) - 1, max(0, round(q * len(sorted_ns)) - 1))
    return sorted_ns[index] / 1e6


def timed_round(
    op: Callable[[int], None], keys: Iterator[int], seconds: float, max_ops: int, into: Measured
) -> None:
    """Run ``op`` on successive keys for ``seconds`` (or ``max_ops``), timing each call."""
    clock = time.perf_counter_ns
    lat = into.latencies_ns
    deadline = clock() + int(seconds * 1e9)
    cpu = time.thread_time_ns()
    start = clock()
    n = 0
    now = start
    while n < max_ops and now < deadline:
        key = next(keys)
        t0 = clock()
        op(key)
        now = clock()
        lat.append(now - t0)
        n += 1
    into.cpu_ns += time.thread_time_ns() - cpu
    into.ops += n
    into.seconds += (now - start) / 1e9


def runner(
    op: Callable[[int], None], keys: Iterator[int]
) -> Callable[[float, int, Measured], None]:
    """A runner for :func:`interleave`: :func:`timed_round` of ``op`` over ``keys``."""

    def run(seconds: float, max_ops: int, into: Measured) -> None:
        timed_round(op, keys, seconds, max_ops, into)

    return run


def interleave(
    runners: dict[str, Callable[[float, int, Measured], None]],
    *,
    rounds: int,
    seconds: float,
    max_ops: int,
    warmup: bool = True,
) -> dict[str, Measured]:
    """Time every runner ``rounds`` times, rotating the order each round.

    A runner is ``fn(seconds, max_ops, measured)``. One untimed warm-up round
    first fills caches and pools.
    """
    names = list(runners)
    results = {name: Measured() for name in names}
    if warmup:
        for name in names:
            runners[name](min(seconds, 0.2), max(1, max_ops // 5), Measured())
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            runners[name](seconds, max_ops, results[name])
    return results


def record(
    workload: str,
    backend: str,
    system: str,
    *,
    writers: int,
    rows: int,
    measured: Measured | None,
    round_trips: float | None,
    conflicts: int = 0,
    retries: int = 0,
    peak_rss_mb: float | None = None,
    note: str | None = None,
    **extra: float | None,
) -> dict[str, object]:
    """One result record (the shape of ``latest.json``)."""
    lat = sorted(measured.latencies_ns) if measured is not None else []
    return {
        "workload": workload,
        "backend": backend,
        "system": system,
        "writers": writers,
        "rows": rows,
        "ops_per_s": round(measured.ops_per_s, 1) if measured is not None else None,
        "round_trips_per_op": None if round_trips is None else round(round_trips, 3),
        "p50_ms": round(percentile(lat, 0.50), 4) if lat else None,
        "p99_ms": round(percentile(lat, 0.99), 4) if lat else None,
        "conflicts": conflicts,
        "retries": retries,
        "peak_rss_mb": peak_rss_mb,
        "ops": measured.ops if measured is not None else 0,
        "cpu_us_per_op": (
            None
            if measured is None or measured.cpu_us_per_op is None
            else round(measured.cpu_us_per_op, 1)
        ),
        "note": note,
        **extra,
    }
