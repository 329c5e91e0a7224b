"""check_history and unknown outcomes: each may apply at most once, and the checker proves it.

Property tests draw the truth about a key (what applied, in order) and what
its writers recorded (:mod:`tests.testing.histories`): correct histories pass
whatever the order of records, token shape or unknown outcomes; a write
applied twice, acknowledged writes lost and versions nobody wrote are each
reported as what they are.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import pstats
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from occ.errors import UnknownOutcomeError
from occ.testing import (
    ANOMALIES,
    History,
    HistoryAnomalyError,
    State,
    Workload,
    Written,
    check_history,
    hammer,
)
from tests.testing.histories import World, worlds

SETTINGS = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(world: World) -> Any:
    history, final = world.history()
    return check_history(history, {"k": final}, counters=["count"], raise_on_anomaly=False)


@SETTINGS
@given(worlds())
def test_correct_histories_pass_and_count_each_applied_unknown_once(world: World) -> None:
    report = check(world)
    assert report.ok, str(report)
    applied = [world.ops[i] for i in world.applied if i is not None]
    unknown = [op for op in world.ops if op.outcome == "unknown"]
    assert report.committed == len(applied)
    assert report.unknown == len(unknown)
    assert report.unknown_applied == sum(op.outcome == "unknown" for op in applied)


@SETTINGS
@given(worlds(min_writes=1, rivals=False), st.data())
def test_an_unknown_write_applied_twice_is_a_duplicate_apply_naming_it(
    world: World, data: st.DataObject
) -> None:
    candidates = world.applied_unknown()
    assume(candidates)
    at = data.draw(st.sampled_from(candidates))
    doubled = world.ops[world.applied[at]]  # type: ignore[index]
    report = check(world.applied_twice(at))
    assert report.kinds == {"duplicate-apply"}, str(report)
    (anomaly,) = report.anomalies
    # the most suspect come first: the writes on either side of the version nobody wrote
    assert doubled.token in [op.token for op in anomaly.ops[:2]]


@SETTINGS
@given(worlds(min_writes=1), st.data())
def test_acknowledged_writes_missing_from_the_final_state_are_lost_writes(
    world: World, data: st.DataObject
) -> None:
    committed = [
        at
        for at, i in enumerate(world.applied)
        if i is not None and world.ops[i].outcome == "committed"
    ]
    assume(committed)
    at = data.draw(st.sampled_from(committed))
    lost = world.ops[world.applied[at]]  # type: ignore[index]
    report = check(world.lost_from(at))
    assert "lost-write" in report.kinds, str(report)
    assert "duplicate-apply" not in report.kinds
    assert any(op.token == lost.token for a in report.anomalies for op in a.ops)


@SETTINGS
@given(worlds(), st.data())
def test_versions_nobody_wrote_are_a_version_gap_not_a_duplicate(
    world: World, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(world.applied)))
    steps = data.draw(st.integers(1, 3))
    report = check(world.nobody_wrote(at, steps))
    assert report.kinds == {"version-gap"}, str(report)


# -- examples ----------------------------------------------------------------


def record(
    h: History, writer: str, read: Any, outcome: str, *, written: Any = ..., **kw: Any
) -> None:
    """Record ``writer``'s operation on key ``k`` (its token is its name)."""
    if written is ...:
        written = read + 1 if outcome == "committed" else None
    h.record(
        writer,
        "k",
        read_version=read,
        written_version=written,
        outcome=outcome,
        token=writer,
        **kw,
    )


def test_a_retried_write_that_read_its_own_lost_write_is_named_as_the_duplicate() -> None:
    """modify() re-ran after a lost reply: its first attempt 2->3 applied, its retry 3->4."""
    h = History()
    h.initial("k", 1, {"count": 0, "token": ""})
    record(h, "a", 1, "committed", values={"count": 1, "token": "a"}, deltas={"count": 1})
    record(h, "r", 3, "committed", values={"count": 5, "token": "r"}, deltas={"count": 2})
    with pytest.raises(HistoryAnomalyError) as info:
        check_history(h, {"k": State(4, {"count": 5, "token": "r"})}, counters=["count"])
    assert info.value.kinds == {"duplicate-apply"}
    (anomaly,) = info.value.report.anomalies
    assert [op.writer for op in anomaly.ops] == ["r"]
    assert "only adds up if this write applied twice" in str(info.value)


def test_an_unknown_outcome_that_applied_is_counted_once_and_one_that_did_not_is_not() -> None:
    h = History()
    h.initial("k", 1, {"count": 0, "token": ""})
    record(h, "u1", 1, "unknown", deltas={"count": 5})  # applied: the version moved on from it
    record(h, "a", 2, "committed", values={"count": 6, "token": "a"}, deltas={"count": 1})
    record(h, "u2", 3, "unknown", deltas={"count": 7})  # never reached the server
    report = check_history(h, {"k": State(3, {"count": 6, "token": "a"})}, counters=["count"])
    assert (report.committed, report.unknown, report.unknown_applied) == (2, 2, 1)
    assert "1 of 2 unknown outcomes applied" in str(report)


def test_a_failed_write_whose_token_is_stored_is_a_phantom_write() -> None:
    """occ reported ConflictError, but the write applied (its reply was lost)."""
    h = History()
    h.initial("k", 1, {"n": 0, "token": ""})
    record(h, "a", 1, "committed", values={"n": 1, "token": "a"})
    record(h, "c", 2, "conflict")
    report = check_history(h, {"k": State(3, {"n": 2, "token": "c"})}, raise_on_anomaly=False)
    assert "phantom-write" in report.kinds
    phantom = next(a for a in report.anomalies if a.kind == "phantom-write")
    assert [op.writer for op in phantom.ops] == ["c"]
    assert "reported conflict" in phantom.message


def test_a_token_no_operation_wrote_is_a_phantom_write() -> None:
    h = History()
    h.initial("k", 1, {"token": ""})
    record(h, "a", 1, "committed", values={"token": "a"})
    report = check_history(h, {"k": State(2, {"token": "zz"})}, raise_on_anomaly=False)
    assert "phantom-write" in report.kinds
    assert "'zz', which no operation wrote" in str(report)


def test_a_token_log_holding_a_token_twice_names_the_duplicate_without_counters() -> None:
    h = History()
    h.initial("k", 1, {"log": []})
    record(h, "a", 1, "committed", values={"log": ["a"]})
    record(h, "u", 2, "unknown")
    record(h, "b", 4, "committed", values={"log": ["a", "u", "u", "b"]})
    report = check_history(
        h, {"k": State(5, {"log": ["a", "u", "u", "b"]})}, raise_on_anomaly=False
    )
    assert report.kinds == {"duplicate-apply"}
    assert [op.writer for a in report.anomalies for op in a.ops] == ["u"]


def test_a_token_log_missing_an_acknowledged_write_is_a_lost_write() -> None:
    h = History()
    h.initial("k", 1, {"log": []})
    record(h, "a", 1, "committed", values={"log": ["a"]})
    record(h, "b", 2, "committed", values={"log": ["a", "b"]})
    record(h, "c", 3, "committed", values={"log": ["a", "b", "c"]})
    report = check_history(h, {"k": State(4, {"log": ["a", "c"]})}, raise_on_anomaly=False)
    assert "lost-write" in report.kinds
    assert any(op.writer == "b" for a in report.anomalies for op in a.ops)


def test_a_timestamp_version_written_by_an_unknown_outcome_is_recognised_by_its_token() -> None:
    t = [dt.datetime(2024, 1, 1, 12, 0, 0, i) for i in range(3)]
    h = History()
    h.initial("k", t[0], {"n": 0, "token": ""})
    record(h, "a", t[0], "committed", written=t[1], values={"n": 1, "token": "a"}, deltas={"n": 1})
    record(h, "u", t[1], "unknown", deltas={"n": 1})  # it cannot say which timestamp it wrote
    report = check_history(h, {"k": State(t[2], {"n": 2, "token": "u"})}, counters=["n"])
    assert (report.committed, report.unknown_applied) == (2, 1)


def test_every_anomaly_kind_is_documented() -> None:
    assert {"duplicate-apply", "phantom-write", "lost-write", "version-gap"} <= set(ANOMALIES)


# -- the runner --------------------------------------------------------------


class LossyCounter:
    """A versioned counter in a dict whose replies get lost (the write applying, or not).

    ``fates[n]`` says what happens to the ``n``-th write (from 0): ``lost``
    (applied, then UnknownOutcomeError), ``dropped`` (not applied,
    UnknownOutcomeError) or ``twice`` (a buggy retry: applied two times, then
    reported committed); any other write succeeds.
    """

    def __init__(self, fates: dict[int, str]) -> None:
        self.fates = fates
        self.calls = 0
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()
        self.rows: dict[Any, tuple[int, int, str]] = {}

    def write(self, key: Any, token: str) -> Written:
        with self.lock:
            version, count, _ = self.rows[key]
            fate = self.fates.get(self.calls, "ok")
            self.calls += 1
            self.tokens[token] = fate
            if fate == "dropped":
                raise UnknownOutcomeError("counter", key, version, "request lost")
            self.rows[key] = (version + 1, count + 1, token)
            if fate == "lost":
                raise UnknownOutcomeError("counter", key, version, "reply lost")
            if fate == "twice":  # the first attempt applied; the retry re-read it and applied again
                version, count = version + 1, count + 1
                self.rows[key] = (version + 1, count + 1, token)
            values = {"count": count + 1, "token": token}
            return Written(version, version + 1, values, {"count": 1})

    def read(self, key: Any) -> State | None:
        with self.lock:
            version, count, token = self.rows[key]
            return State(version, {"count": count, "token": token})

    def reset(self, key: Any) -> None:
        with self.lock:
            self.rows[key] = (1, 0, "")

    def workload(self) -> Workload:
        return Workload(
            write=self.write,
            read=self.read,
            reset=self.reset,
            counters=("count",),
            deltas={"count": 1},
        )

    def fated(self, fate: str) -> list[str]:
        return sorted(token for token, f in self.tokens.items() if f == fate)


def test_the_runner_records_unknown_outcome_errors_as_unknown_and_the_run_checks_clean() -> None:
    counter = LossyCounter({3: "lost", 7: "dropped", 11: "lost"})
    run = hammer(counter.workload(), [1, 2], writers=3, ops=30, seconds=10)
    assert run.errors == []
    unknown = [op for op in run.history if op.outcome == "unknown"]
    assert sorted(op.token for op in unknown) == sorted(
        counter.fated("lost") + counter.fated("dropped")
    )
    assert len(unknown) == 3
    assert all(op.read_version is not None and op.deltas == {"count": 1} for op in unknown)
    report = run.check()
    assert (report.unknown, report.unknown_applied) == (3, 2)


def test_a_run_whose_retry_applied_twice_fails_with_duplicate_apply() -> None:
    counter = LossyCounter({5: "twice"})
    run = hammer(counter.workload(), [1], writers=2, ops=12, seconds=10)
    with pytest.raises(HistoryAnomalyError) as info:
        run.check()
    assert info.value.kinds == {"duplicate-apply"}
    (anomaly,) = info.value.report.anomalies
    assert [anomaly.ops[0].token] == counter.fated("twice")  # named first: its retry read a
    assert "the most suspect first" in anomaly.message  # version nobody recorded writing


def test_the_checker_stays_linear_with_unknown_outcomes_and_a_duplicate() -> None:
    def calls(n: int) -> int:
        """Python function calls the checker makes for n operations (deterministic)."""
        h = History()
        h.initial("k", 1, {"count": 0, "token": ""})
        version = 1
        for i in range(n):
            outcome = "unknown" if i % 4 == 0 else "committed"
            record(
                h,
                f"w{i}",
                version,
                outcome,
                values={"count": i + 1, "token": f"w{i}"},
                deltas={"count": 1},
            )
            if i % 4 == 1:  # a rival that lost to it
                record(h, f"x{i}", version, "unknown", deltas={"count": 1})
            version += 1
        # one more application of the last write nobody recorded: a duplicate
        final = {"k": State(version + 1, {"count": n + 1, "token": f"w{n - 1}"})}
        profiler = cProfile.Profile()
        report = profiler.runcall(
            check_history, h, final, counters=["count"], raise_on_anomaly=False
        )
        assert report.kinds == {"duplicate-apply"}
        return int(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]

    small, large = calls(2_000), calls(8_000)
    assert large < 4.2 * small  # 4x the operations, ~4x the work (quadratic would be 16x)
