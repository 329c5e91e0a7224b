"""Batch reads and writes in the core, on the in-memory repository (issue 16).

The in-memory repository runs the same batch flows as SQL and MongoDB
(:mod:`occ._core.lockstep`); its store performs each ``WriteMany`` and
``ReadMany`` step in one call, which :class:`Counted` records, so these tests
see how many batched steps a batch needs as well as what each item became.
The backends' own round trips are counted in tests/sql and tests/mongo.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import occ
from occ._core.steps import Lost, ReadMany, WriteMany
from occ.conflicts.sinks import CallbackSink
from occ.resolvers import Alert, Discard, Merge, Overwrite
from occ.resolvers.rules import Counter
from occ.testing import AsyncInMemoryRepository, InMemoryRepository


class Counted(InMemoryRepository):
    """Records every batched step it performs; ``lose`` loses the reply of chosen writes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.steps: list[tuple[str, int]] = []
        self.lose: set[Any] = set()

    def _read_many(self, step: ReadMany) -> list[Any]:
        self.steps.append(("read", len(step.keys)))
        return super()._read_many(step)

    def _write_many(self, step: WriteMany) -> list[Any]:
        self.steps.append((step.writes[0].action, len(step.writes)))
        out = super()._write_many(step)
        for i, write in enumerate(step.writes):
            if write.key in self.lose:  # applied, but the reply is lost
                self.lose.discard(write.key)
                out[i] = Lost()
        return out


def seeded(n: int = 5, **options: Any) -> Counted:
    repo = Counted(**options)
    for key in range(1, n + 1):
        repo.insert({"id": key, "n": 0})
    repo.steps.clear()
    return repo


def test_update_many_reports_each_item_in_input_order_and_writes_only_the_good_ones() -> None:
    repo = seeded()
    repo.update(2, {"n": 7}, expected_version=1)  # item 1 below is stale
    result = repo.update_many(
        [
            (1, {"n": 1}, 1),
            (2, {"n": 2}, 1),
            (99, {"n": 3}, 1),
            (1, {"n": 4}, 1),  # the same key again
            (3, {"n": 5}, "1"),  # a version of the wrong type
            (4, {"id": 40}, 1),  # the key cannot change
            ("just a key",),
            (5, {"n": 6}, 1),
        ]
    )
    assert [item.outcome for item in result] == [
        "written",
        "conflict",
        "not_found",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "written",
    ]
    assert [item.index for item in result] == list(range(8))
    assert [item.key for item in result][:6] == [1, 2, 99, 1, 3, 4]
    assert result[1].conflict is not None
    assert result[1].conflict.actual_version == 2
    assert isinstance(result[4].error, occ.ValidationError)
    assert "more than once" in str(result[3].error)
    assert not result.ok
    assert len(result.failed) == 6
    stored = {v.key: (v.value["n"], v.version) for v in repo.get_many([1, 2, 3, 4, 5])}
    assert stored == {1: (1, 2), 2: (7, 2), 3: (0, 1), 4: (0, 1), 5: (6, 2)}
    with pytest.raises(occ.ConflictError):
        result.raise_for_errors()


def test_a_batch_is_one_write_step_and_a_conflict_round_one_read_and_one_write_step() -> None:
    repo = seeded(50, policy=Overwrite())
    for key in (3, 17, 40):
        repo.update(key, {"n": -1}, expected_version=1)
    repo.steps.clear()
    result = repo.update_many([(key, {"n": key}, 1) for key in range(1, 51)])
    assert repo.steps == [("update", 50), ("read", 3), ("update", 3)]
    assert result.outcomes == {"written": 47, "overwritten": 3}
    assert all(repo.get(key).value["n"] == key for key in range(1, 51))


def test_conflicting_items_are_each_merged_by_the_policy() -> None:
    repo = seeded(3, policy=Merge(fields={"n": Counter()}))
    snapshots = repo.get_many([1, 2, 3])
    repo.update(2, {"n": 10}, expected_version=1)  # another writer added 10 to item 2
    for snap in snapshots:
        snap.value["n"] += 1
    result = repo.save_many(snapshots)
    assert [item.outcome for item in result] == ["written", "merged", "written"]
    assert [repo.get(key).value["n"] for key in (1, 2, 3)] == [1, 11, 1]
    assert result[1].value is not None
    assert result[1].value.value["n"] == 11


def test_every_conflicting_item_is_alerted_once() -> None:
    seen: list[Any] = []
    repo = seeded(4, policy=Alert(CallbackSink(seen.append), then=Discard()))
    repo.update(1, {"n": 5}, expected_version=1)
    repo.update(3, {"n": 5}, expected_version=1)
    result = repo.update_many([(key, {"n": 9}, 1) for key in (1, 2, 3, 4)])
    assert [item.outcome for item in result] == ["discarded", "written", "discarded", "written"]
    assert sorted(event.conflict.key for event in seen) == [1, 3]
    assert [item.value.alerted for item in result if item.value is not None] == [
        True,
        False,
        True,
        False,
    ]


def test_all_or_nothing_batch_with_a_conflict_writes_nothing_and_names_the_conflict() -> None:
    repo = seeded(3, policy=Overwrite())  # a policy does not resolve inside it: it must fail
    repo.update(2, {"n": 5}, expected_version=1)
    result = repo.update_many([(key, {"n": 9}, 1) for key in (1, 2, 3)], atomic=True)
    assert [item.outcome for item in result] == ["aborted", "conflict", "aborted"]
    assert result.atomic
    assert not result.ok
    assert isinstance(result[0].error, occ.BatchAbortedError)
    assert result[0].error.index == 1
    assert [repo.get(key).value["n"] for key in (1, 2, 3)] == [0, 5, 0]
    assert [repo.get(key).version for key in (1, 2, 3)] == [1, 2, 1]


def test_all_or_nothing_batch_with_an_invalid_item_sends_nothing() -> None:
    repo = seeded(3)
    result = repo.update_many([(1, {"n": 9}, 1), (2, {"n": 9}, True)], atomic=True)
    assert [item.outcome for item in result] == ["aborted", "invalid"]
    assert repo.steps == []
    assert repo.get(1).version == 1


def test_all_or_nothing_batch_that_succeeds_writes_everything() -> None:
    repo = seeded(3)
    result = repo.update_many([(key, {"n": key}, 1) for key in (1, 2, 3)], atomic=True)
    assert result.ok
    assert result.outcomes == {"written": 3}
    assert [repo.get(key).version for key in (1, 2, 3)] == [2, 2, 2]


def test_a_batch_above_max_batch_is_refused_before_anything_is_written() -> None:
    repo = seeded(3)
    repo.max_batch = 2
    with pytest.raises(occ.ValidationError, match="max_batch"):
        repo.update_many([(key, {"n": 9}, 1) for key in (1, 2, 3)])
    with pytest.raises(occ.ValidationError, match="iterable"):
        repo.delete_many({"key": 1})
    with pytest.raises(occ.ValidationError, match="atomic"):
        repo.insert_many([], atomic="yes")
    assert repo.steps == []
    assert [repo.get(key).version for key in (1, 2, 3)] == [1, 1, 1]


def test_an_empty_batch_has_no_items_and_sends_nothing() -> None:
    repo = seeded(1)
    for method in (repo.insert_many, repo.save_many, repo.update_many, repo.delete_many):
        result = method([])
        assert len(result) == 0
        assert result.ok
    assert len(repo.get_many([])) == 0
    assert repo.steps == []


def test_insert_many_reports_taken_and_repeated_keys_and_starts_past_tombstones() -> None:
    repo = seeded(2)
    repo.update(2, {"n": 1}, expected_version=1)
    repo.delete(2, expected_version=2)
    result = repo.insert_many(
        [{"id": 1}, {"id": 2, "n": 1}, {"id": 3}, {"id": 3}, {"id": 4, "version": 2}, "x"]
    )
    assert [item.outcome for item in result] == [
        "already_exists",
        "written",
        "written",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert result[1].version == 3  # past the deleted key's last version, 2
    assert repo.steps == [("insert", 3)]


def test_delete_many_outcomes() -> None:
    repo = seeded(3)
    repo.update(2, {"n": 1}, expected_version=1)
    result = repo.delete_many([(1, 1), (2, 1), (9, 1), (3, 1)])
    assert [item.outcome for item in result] == ["deleted", "conflict", "not_found", "deleted"]
    assert result[0].version == 1
    assert result[0].value is None
    assert repo.get_many([1, 2, 3]).missing == (1, 3)


def test_save_many_skips_unchanged_snapshots() -> None:
    repo = seeded(2)
    first, second = repo.get_many([1, 2])
    second.value["n"] = 5
    result = repo.save_many([first, second, "not a snapshot"])
    assert [item.outcome for item in result] == ["unchanged", "written", "invalid"]
    assert repo.steps == [("read", 2), ("update", 1)]


def test_upsert_inserts_updates_and_a_taken_key_is_a_conflict_for_the_policy() -> None:
    for policy, outcome, stored in (
        (None, "conflict", 0),
        (Overwrite(), "overwritten", 9),
        (Discard(), "discarded", 0),
    ):
        repo = seeded(2, policy=policy)
        result = repo.upsert_many(
            [
                {"id": 1, "n": 9},  # no version: expected absent, but it is taken
                {"id": 3, "n": 3},  # absent: inserted
                {"id": 2, "n": 2, "version": 1},  # a version: an update of every field
                {"id": 4, "n": 4, "version": 1},  # a version, but nothing stored there
            ]
        )
        assert [item.outcome for item in result] == [outcome, "written", "written", "not_found"]
        assert repo.get(1).value["n"] == stored
        assert (repo.get(3).version, repo.get(2).version) == (1, 2)
        assert result[0].ok == (policy is not None)
    repo = seeded(1, policy=Overwrite())
    assert repo.upsert({"id": 1, "n": 5}).outcome == "overwritten"
    with pytest.raises(occ.ConflictError):
        seeded(1).upsert({"id": 1, "n": 5})


def test_get_many_keeps_input_order_reads_a_repeated_key_once_and_reports_missing() -> None:
    repo = seeded(3)
    found = repo.get_many([3, 9, 1, 3, 8])
    assert [v.key for v in found] == [3, 1]
    assert found.missing == (9, 8)
    assert repo.steps == [("read", 4)]
    assert set(found.by_key()) == {1, 3}
    with pytest.raises(occ.ValidationError):
        repo.get_many([1, None])


def test_query_filters_orders_and_limits_and_scan_pages_through_key_order() -> None:
    repo = seeded(0)
    repo.insert_many([{"id": key, "n": key % 3} for key in range(1, 11)])
    assert [v.key for v in repo.query({"n": 1})] == [1, 4, 7, 10]
    assert [v.key for v in repo.query(order_by=["-n", "id"], limit=4)] == [2, 5, 8, 1]
    assert [v.key for v in repo.query(lambda v: v["n"] == 0, order_by="-id")] == [9, 6, 3]
    pages: list[int] = []
    real = repo._query

    def counted(query: Any) -> Any:
        found = real(query)
        pages.append(len(found))
        return found

    repo._query = counted  # type: ignore[method-assign]
    assert [v.key for v in repo.scan(page_size=4)] == list(range(1, 11))
    assert pages == [4, 4, 2]
    assert [v.key for v in repo.scan({"n": 0}, page_size=2, after=3)] == [6, 9]
    with pytest.raises(occ.ValidationError):
        repo.query(limit=-1)
    with pytest.raises(occ.ValidationError):
        list(repo.scan(page_size=0))


def test_a_lost_reply_in_a_batch_is_settled_for_that_item_alone() -> None:
    repo = seeded(3)
    # Item 2 applied but its reply is lost: the in-memory store keeps no write tokens, so
    # once the version moved nothing tells whose write it was (see occ._core.settle).
    repo.lose = {2}
    result = repo.update_many([(key, {"n": key}, 1) for key in (1, 2, 3)])
    assert [item.outcome for item in result] == ["written", "unknown", "written"]
    assert isinstance(result[1].error, occ.UnknownOutcomeError)
    repo.lose = {3}
    result = repo.delete_many([(3, 2)])
    assert [item.outcome for item in result] == ["deleted"]  # gone: the delete applied


def test_the_async_repository_gives_the_same_outcomes() -> None:
    async def run() -> list[str]:
        repo = AsyncInMemoryRepository()
        await repo.insert_many([{"id": key, "n": 0} for key in (1, 2)])
        await repo.update(2, {"n": 1}, expected_version=1)
        result = await repo.update_many([(1, {"n": 1}, 1), (2, {"n": 1}, 1), (3, {}, 1)])
        keys = [v.key async for v in repo.scan(page_size=1)]
        assert keys == [1, 2]
        return [item.outcome for item in result]

    sync = seeded(2)
    sync.update(2, {"n": 1}, expected_version=1)
    expected = [
        i.outcome for i in sync.update_many([(1, {"n": 1}, 1), (2, {"n": 1}, 1), (3, {}, 1)])
    ]
    assert asyncio.run(run()) == expected == ["written", "conflict", "not_found"]
