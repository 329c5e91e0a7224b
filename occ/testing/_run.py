"""What a run of writers produced, and how each operation is recorded (pure).

The runners themselves (:func:`~occ.testing.run_schedule`,
:func:`~occ.testing.hammer` and their async twins) live in
:mod:`occ.testing._async.runner` and its generated sync twin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from occ.errors import ConflictError, NotFoundError, UnknownOutcomeError
from occ.testing._check import HistoryAnomalyError, Report, check_history
from occ.testing._history import History, State
from occ.testing._schedule import Schedule, ScheduleTimeoutError, Turn
from occ.testing._workload import Written

__all__ = ["GRACE", "Run", "initial", "pick", "recording"]

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
            An :class:`~occ.UnknownOutcomeError` is expected, not one of them: its
            operation is recorded ``unknown`` with the version it expected, and the
            checker proves it applied at most once.
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
    deltas: Mapping[str, Any],
) -> None:
    read: Any = None
    if isinstance(exc, ConflictError):
        conflict = exc.conflict
        outcome = "not-found" if conflict.deleted else "conflict"
        read = conflict.expected_version
    elif isinstance(exc, NotFoundError):
        outcome = "not-found"
    elif isinstance(exc, UnknownOutcomeError):
        outcome, read = "unknown", exc.expected_version
    else:
        outcome = "unknown"
        errors.append(exc)
    history.record(
        me,
        key,
        read_version=read,
        written_version=None,
        outcome=outcome,
        token=token,
        deltas=deltas if outcome == "unknown" else None,
        start=start,
    )


@contextmanager
def recording(
    history: History,
    me: int,
    key: Any,
    token: str,
    errors: list[BaseException],
    deltas: Mapping[str, Any] | None = None,
) -> Iterator[list[Written]]:
    """Record the operation the block runs: committed with what it appends, or failed.

    ``deltas`` is what the operation would add to counters, recorded when its
    outcome is unknown.
    """
    start = history.clock()
    written: list[Written] = []
    try:
        yield written
    except ScheduleTimeoutError:
        raise
    except Exception as exc:
        _failed(history, me, key, token, start, exc, errors, deltas or {})
    else:
        _committed(history, me, key, token, start, written[0])


def initial(history: History, key: Any, state: State | None) -> None:
    """Record ``key``'s state before the run (it must exist)."""
    if state is None:
        raise ValueError(f"key {key!r} does not exist before the run; give the workload a reset")
    history.initial(key, state.version, state.values)


def pick(keys: Sequence[Any], index: int) -> Any:
    """The key a plan's key index names."""
    return keys[index % len(keys)]
