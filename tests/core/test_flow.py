"""The sans-IO flows, driven step by step without any database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import occ
from occ._core.flow import FlowConfig, Stats, write_flow
from occ._core.modify import modify_flow
from occ._core.retry import RetryPolicy
from occ._core.steps import Applied, Backoff, Call, Missed, Point, Read, Stored, Write
from occ._core.versions import IntVersions
from occ.resolvers import Discard, Overwrite, Raise


class Store:
    """One row, and a queue of other writers who get in just before each of our writes."""

    def __init__(self, version: int, record: dict[str, Any], interlopers: int) -> None:
        self.version = version
        self.record = dict(record)
        self.interlopers = interlopers
        self.log: list[str] = []

    def run(self, flow: Any) -> Applied:
        result: Any = None
        try:
            step = next(flow)
            while True:
                self.log.append(type(step).__name__)
                if isinstance(step, Write):
                    if self.interlopers:
                        self.interlopers -= 1
                        self.version += 1
                        self.record["n"] = self.record.get("n", 0) + 100
                    if step.expected_version == self.version:
                        self.version = int(step.new_version)  # type: ignore[arg-type]
                        self.record.update(step.changes)
                        result = Applied(step.key, self.version, dict(self.record))
                    else:
                        result = Missed()
                elif isinstance(step, Read):
                    result = Stored(step.key, self.version, dict(self.record))
                elif isinstance(step, Call):
                    result = step.fn(step.arg)
                elif isinstance(step, Backoff | Point):
                    result = None
                step = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def config(resolver: Callable[..., Any], attempts: int = 5) -> FlowConfig:
    return FlowConfig(
        entity="Thing",
        versions=IntVersions(),
        retry=RetryPolicy(attempts=attempts, base_delay=0, max_delay=0),
        resolver=resolver,
        stats=Stats(),
    )


def update(cfg: FlowConfig, expected: int = 1) -> Any:
    return write_flow(
        cfg,
        action="update",
        key=1,
        expected=expected,
        changes={"s": "mine"},
        base={"n": 0, "s": "base"},
        returning=True,
    )


def test_matching_version_is_one_write() -> None:
    store = Store(1, {"n": 0, "s": "base"}, interlopers=0)
    applied = store.run(update(config(Raise())))
    assert (applied.version, applied.attempts, store.log) == (2, 1, ["Write"])


@given(interlopers=st.integers(0, 8), attempts=st.integers(1, 8))
def test_overwrite_retries_once_per_interloper_within_the_budget(
    interlopers: int, attempts: int
) -> None:
    store = Store(1, {"n": 0, "s": "base"}, interlopers)
    cfg = config(Overwrite(), attempts)
    if interlopers + 1 > attempts:
        with pytest.raises(occ.RetryExhaustedError) as info:
            store.run(update(cfg))
        assert info.value.attempts == attempts
        assert store.record["s"] == "base"
    else:
        applied = store.run(update(cfg))
        assert applied.attempts == interlopers + 1
        assert store.record == {"n": 100 * interlopers, "s": "mine"}
        assert applied.version == 2 + interlopers
    # every write after a miss was preceded by exactly one classifying read
    exhausted = interlopers + 1 > attempts
    assert store.log.count("Read") == store.log.count("Write") - (0 if exhausted else 1)
    assert cfg.stats is not None
    assert cfg.stats.conflicts == min(interlopers, attempts)


@given(interlopers=st.integers(1, 5))
def test_raise_reports_the_first_conflict_with_everything(interlopers: int) -> None:
    store = Store(1, {"n": 0, "s": "base"}, interlopers)
    with pytest.raises(occ.ConflictError) as info:
        store.run(update(config(Raise())))
    c = info.value.conflict
    assert (c.expected_version, c.actual_version, c.attempt, c.kind) == (1, 2, 1, "version")
    assert c.base == {"n": 0, "s": "base"}
    assert c.mine == {"n": 0, "s": "mine"}
    assert c.theirs == {"n": 100, "s": "base"}


def test_discard_returns_theirs_without_writing() -> None:
    store = Store(1, {"n": 0, "s": "base"}, interlopers=1)
    applied = store.run(update(config(Discard())))
    assert (applied.outcome, applied.version, applied.record) == (
        "discarded",
        2,
        {"n": 100, "s": "base"},
    )


@given(interlopers=st.integers(0, 6))
def test_modify_is_one_read_and_one_write_per_attempt(interlopers: int) -> None:
    store = Store(1, {"n": 0}, interlopers)

    def bump(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "n": value["n"] + 1}

    flow = modify_flow(
        config(Raise(), attempts=10),
        key=1,
        fn=bump,
        to_value=lambda s: dict(s.record),
        diff=lambda v, s: {k: x for k, x in v.items() if s.record.get(k) != x},
        attempts=10,
    )
    applied = store.run(flow)
    assert applied.attempts == interlopers + 1
    assert store.log.count("Read") == store.log.count("Write") == interlopers + 1
    # the increment applied once, on top of every interloper's write
    assert store.record["n"] == 100 * interlopers + 1


def test_modify_without_a_change_writes_nothing() -> None:
    store = Store(1, {"n": 0}, interlopers=0)
    flow = modify_flow(
        config(Raise()),
        key=1,
        fn=lambda v: v,
        to_value=lambda s: dict(s.record),
        diff=lambda v, s: {},
        attempts=3,
    )
    assert store.run(flow).outcome == "unchanged"
    assert store.log == ["Read", "Call"]


@given(
    attempt=st.integers(1, 40),
    base=st.floats(0, 1),
    cap=st.floats(0, 5),
    mult=st.floats(1, 4),
    seed=st.integers(0, 2**32),
)
def test_backoff_is_jittered_within_a_capped_exponential_ceiling(
    attempt: int, base: float, cap: float, mult: float, seed: int
) -> None:
    policy = RetryPolicy(attempts=50, base_delay=base, max_delay=cap, multiplier=mult, seed=seed)
    assert 0 <= policy.delay(attempt) <= policy.ceiling(attempt) <= cap
    assert policy.ceiling(attempt) <= policy.ceiling(attempt + 1) or policy.ceiling(attempt) == cap
    assert policy.ceiling(1) == 0


@given(
    st.one_of(
        st.booleans(), st.text(), st.floats(), st.none(), st.dictionaries(st.text(), st.integers())
    )
)
def test_int_versions_refuse_anything_but_an_int(value: Any) -> None:
    with pytest.raises(occ.ValidationError):
        IntVersions().check(value)


def test_retry_policy_refuses_a_zero_budget() -> None:
    with pytest.raises(occ.ValidationError):
        RetryPolicy(attempts=0)
