"""check_history: each anomaly is found and named; bad input is refused, never passed."""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any

import pytest

from occ.testing import (
    History,
    HistoryAnomalyError,
    HistoryError,
    State,
    check_history,
)


def committed(
    h: History, writer: Any, key: Any, read: int, wrote: int, *, count: int = 0, delta: int = 1
) -> None:
    h.record(
        writer,
        key,
        read_version=read,
        written_version=wrote,
        outcome="committed",
        token=f"{writer}-{read}",
        values={"count": count},
        deltas={"count": delta},
        start=h.clock(),
    )


def serial_history(n: int = 3) -> History:
    h = History()
    h.initial("k", 1, {"count": 0})
    for i in range(n):
        committed(h, f"w{i % 2}", "k", 1 + i, 2 + i, count=i + 1)
    return h


def test_clean_serial_history_passes_with_counts() -> None:
    report = check_history(serial_history(3), {"k": State(4, {"count": 3})}, counters=["count"])
    assert report.ok
    assert (report.keys, report.operations, report.committed) == (1, 3, 3)


def test_two_committed_writes_on_one_version_are_a_lost_update_naming_both() -> None:
    h = History()
    h.initial("k", 1, {"count": 0})
    committed(h, "a", "k", 1, 2, count=1)
    committed(h, "b", "k", 1, 2, count=1)
    with pytest.raises(HistoryAnomalyError) as info:
        check_history(h, {"k": (2, {"count": 1})}, counters=["count"])
    assert {"lost-update", "version-repeat", "counter-mismatch"} <= info.value.kinds
    lost = next(a for a in info.value.report.anomalies if a.kind == "lost-update")
    assert [op.writer for op in lost.ops] == ["a", "b"]
    assert "lost-update on key 'k'" in str(info.value)
    assert "writer 'a'" in str(info.value)
    assert "writer 'b'" in str(info.value)


def test_version_skip_and_unreached_final_version_are_gaps() -> None:
    h = History()
    h.initial("k", 1, {"count": 0})
    committed(h, "a", "k", 1, 3, count=1)
    report = check_history(h, {"k": (5, {"count": 1})}, raise_on_anomaly=False)
    assert report.kinds == {"version-gap"}
    assert len(report.anomalies) == 2


def test_write_reading_a_version_nobody_produced_is_a_gap() -> None:
    h = History()
    h.initial("k", 1, {"count": 0})
    committed(h, "a", "k", 1, 2, count=1)
    committed(h, "b", "k", 7, 8, count=2)
    report = check_history(h, {"k": (2, {"count": 1})}, raise_on_anomaly=False)
    assert "version-gap" in report.kinds
    assert any(op.writer == "b" for a in report.anomalies for op in a.ops)


def test_acknowledged_write_missing_from_final_state_is_a_lost_write() -> None:
    h = serial_history(2)
    report = check_history(h, {"k": (3, {"count": 99})}, raise_on_anomaly=False)
    assert report.kinds == {"lost-write"}
    assert report.anomalies[0].ops[0].seq == 1


def test_counter_total_that_does_not_add_up_is_reported() -> None:
    h = History()
    h.initial("k", 1, {"count": 0})
    for i in range(3):
        # Each write says it added 2, yet the final count is 3: 3 was lost.
        committed(h, "a", "k", 1 + i, 2 + i, count=3, delta=2)
    with pytest.raises(HistoryAnomalyError, match="count is 3, but it started at 0") as info:
        check_history(h, {"k": (4, {"count": 3})}, counters=["count"])
    assert info.value.kinds == {"counter-mismatch"}


def test_conflicts_and_unneeded_unknowns_do_not_count() -> None:
    h = serial_history(1)
    h.record("c", "k", read_version=1, written_version=None, outcome="conflict", token="t1")
    h.record(
        "u",
        "k",
        read_version=2,
        written_version=3,
        outcome="unknown",
        token="t2",
        values={"count": 5},
        deltas={"count": 1},
    )
    report = check_history(h, {"k": (2, {"count": 1})}, counters=["count"])
    assert report.committed == 1


def test_unknown_outcome_joins_the_chain_when_a_later_write_read_its_version() -> None:
    h = History()
    h.initial("k", 1, {"count": 0})
    h.record(
        "u",
        "k",
        read_version=1,
        written_version=2,
        outcome="unknown",
        token="t",
        values={"count": 1},
        deltas={"count": 1},
    )
    committed(h, "a", "k", 2, 3, count=2)
    report = check_history(h, {"k": (3, {"count": 2})}, counters=["count"])
    assert report.committed == 2


def test_operations_out_of_order_are_refused_naming_the_record() -> None:
    text = serial_history(3).to_jsonl()
    lines = text.splitlines()
    shuffled = History.from_jsonl([lines[0], lines[1], lines[3], lines[2]])
    with pytest.raises(HistoryError, match="out of order") as info:
        check_history(shuffled, {"k": (4, {"count": 3})})
    assert "op #1" in str(info.value)
    assert info.value.record.seq == 1


def test_an_operation_starting_before_its_writers_previous_one_ended_is_refused() -> None:
    h = History()
    h.initial("k", 1, {})
    early = h.clock()
    committed(h, "a", "k", 1, 2)
    h.record(
        "a", "k", read_version=2, written_version=3, outcome="committed", token="x", start=early
    )
    with pytest.raises(HistoryError, match="writer 'a'"):
        check_history(h, {"k": (3, {})})


def test_an_unknown_outcome_word_is_refused_on_record_and_on_load() -> None:
    h = History()
    with pytest.raises(HistoryError, match="'maybe'"):
        h.record("a", "k", read_version=1, written_version=2, outcome="maybe", token="t")
    text = serial_history(1).to_jsonl().replace('"committed"', '"maybe"')
    with pytest.raises(HistoryError, match=r"unknown outcome 'maybe'.*op #0"):
        check_history(History.from_jsonl(text), {"k": (2, {"count": 1})})


def test_a_key_absent_from_the_final_state_is_refused_not_passed() -> None:
    with pytest.raises(HistoryError, match=r"key 'k' is missing from the final state.*op #0"):
        check_history(serial_history(2), {})


def test_a_key_without_initial_state_or_counter_field_is_refused() -> None:
    h = History()
    committed(h, "a", "k", 1, 2)
    with pytest.raises(HistoryError, match="no initial state"):
        check_history(h, {"k": (2, {})})
    with pytest.raises(HistoryError, match="counter field 'count' is missing"):
        check_history(serial_history(1), {"k": (2, {})}, counters=["count"])


def test_a_committed_write_without_versions_is_refused() -> None:
    h = History()
    h.initial("k", 1, {})
    h.record("a", "k", read_version=None, written_version=None, outcome="committed", token="t")
    with pytest.raises(HistoryError, match="does not say which version"):
        check_history(h, {"k": (1, {})})


def test_jsonl_export_round_trips_tuple_keys_and_datetime_versions(tmp_path: Any) -> None:
    import datetime as dt

    t0 = dt.datetime(2024, 1, 1, 12, 0, 0, 1)
    t1 = t0 + dt.timedelta(microseconds=1)
    h = History()
    h.initial(("wh", "sku"), t0, {"qty": 1})
    h.record(
        "a",
        ("wh", "sku"),
        read_version=t0,
        written_version=t1,
        outcome="committed",
        token="t",
        values={"qty": 2},
    )
    path = tmp_path / "history.jsonl"
    text = h.to_jsonl(path)
    assert path.read_text() == text
    assert len(text.splitlines()) == 2
    buffer = io.StringIO()
    h.to_jsonl(buffer)
    loaded = History.from_jsonl(buffer.getvalue())
    assert loaded.operations == h.operations
    assert loaded.initial_states == h.initial_states
    assert check_history(loaded, {("wh", "sku"): (t1, {"qty": 2})}).ok


def test_a_line_that_is_not_a_record_is_refused_with_its_number() -> None:
    with pytest.raises(HistoryError, match="line 2"):
        History.from_jsonl('{"type": "initial", "key": 1, "version": 1}\n{"nope": 1}\n')


def test_the_checker_is_linear_in_the_number_of_operations() -> None:
    def calls(n: int) -> int:
        """Python function calls the checker makes for n operations (deterministic)."""
        h = History()
        for key in range(10):
            h.initial(key, 1, {"count": 0})
        for i in range(n):
            version = 1 + i // 10
            committed(h, f"w{i % 7}", i % 10, version, version + 1, count=version)
        final = {key: (1 + n // 10, {"count": n // 10}) for key in range(10)}
        profiler = cProfile.Profile()
        profiler.runcall(check_history, h, final, counters=["count"])
        return int(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]

    small, large = calls(2_000), calls(8_000)
    assert large < 4.2 * small  # 4x the operations, ~4x the work (quadratic would be 16x)
