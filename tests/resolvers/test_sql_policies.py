"""Policies applied by the SQL repositories: merges, archives, alerts, the store, the fast path."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import sqlalchemy as sa

import occ
from occ import RetryPolicy
from occ.conflicts import CallbackSink, ConflictEvent, LoggingSink, MetricsSink
from occ.resolvers import Alert, Counter, Discard, Max, Merge, Overwrite
from occ.sql import Repository
from tests.resolvers.models import Counter as Row
from tests.resolvers.models import fresh


def stale_pair(repo: Repository[Row]) -> tuple[Any, Any]:
    repo.insert(Row(id=1, hits=0, best=0, note="start"))
    return repo.get(1), repo.get(1)


def test_merge_adds_both_increments_and_keeps_other_fields(engine: sa.Engine) -> None:
    fresh(engine)
    repo = Repository(engine, Row, policy=Merge(fields={"hits": Counter(), "best": Max()}))
    a, b = stale_pair(repo)
    a.value.hits, a.value.best = 1, 7
    b.value.hits, b.value.best, b.value.note = 1, 5, "b"
    repo.save(a)
    saved = repo.save(b)
    assert (saved.version, saved.value.hits, saved.value.best, saved.value.note) == (3, 2, 7, "b")
    assert repo.stats.snapshot() == {
        "conflicts": 1,
        "retries": 1,
        "fallbacks": 0,
        "decisions": {"merged": 1},
    }


def test_update_without_base_escalates_a_counter_to_the_fallback(engine: sa.Engine) -> None:
    fresh(engine)
    repo = Repository(engine, Row, policy=Merge(fields={"hits": Counter()}))
    repo.insert(Row(id=1, hits=0))
    repo.update(1, {"hits": 1}, expected_version=1)
    with pytest.raises(occ.ConflictError) as info:
        repo.update(1, {"hits": 1}, expected_version=1)
    assert info.value.conflict.base is None
    merged = repo.update(1, {"hits": 1}, expected_version=1, base={"hits": 0})
    assert merged.value.hits == 2


def test_discard_archives_mine_with_status_discarded(engine: sa.Engine) -> None:
    store = fresh(engine)
    repo = Repository(engine, Row, policy=Discard(archive=store))
    a, b = stale_pair(repo)
    a.value.note = "first"
    b.value.note = "second"
    repo.save(a)
    kept = repo.save(b)
    assert kept.value.note == "first"
    (archived,) = store.list(status="discarded")
    assert archived.conflict.mine["note"] == "second"
    assert (archived.entity, archived.key, archived.decision) == ("Counter", 1, "discarded")
    assert store.get(archived.id) == archived


def test_overwrite_archives_theirs_with_status_overwritten(engine: sa.Engine) -> None:
    store = fresh(engine)
    repo = Repository(engine, Row, policy=Overwrite(archive=store))
    a, b = stale_pair(repo)
    a.value.note, b.value.note = "first", "second"
    repo.save(a)
    assert repo.save(b).value.note == "second"
    (archived,) = store.list(status="overwritten")
    assert archived.conflict.theirs is not None
    assert archived.conflict.theirs["note"] == "first"


def test_alert_persists_before_sinks_and_a_failing_or_hung_sink_never_fails_the_write(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = fresh(engine)
    seen: list[tuple[str | None, int]] = []

    def check(event: ConflictEvent) -> None:
        assert event.conflict_id is not None
        seen.append((event.conflict_id, store.count()))

    def boom(event: ConflictEvent) -> None:
        raise RuntimeError("sink down")

    release = threading.Event()
    hung = threading.Event()

    def hang(event: ConflictEvent) -> None:
        hung.set()
        release.wait(30)  # blocks until the test lets it go

    policy = Alert(
        store,
        check,
        boom,
        hang,
        LoggingSink(),
        MetricsSink(),
        then=Merge(fields={"hits": Counter()}),
        timeout=0.2,
    )
    repo = Repository(engine, Row, policy=policy)
    a, b = stale_pair(repo)
    a.value.hits = b.value.hits = 1
    repo.save(a)
    with caplog.at_level(logging.WARNING, logger="occ.conflicts"):
        assert repo.save(b).value.hits == 2
        # the write returned while the hung sink was still blocked
        assert hung.is_set()
        assert not release.is_set()
        release.set()
    (stored,) = store.list(status="pending")
    assert seen == [(stored.id, 1)]
    assert stored.decision == "merged"
    assert stored.details["merge"][0]["action"] == "counter"
    messages = [r.getMessage() for r in caplog.records]
    assert any("failed" in m for m in messages)
    assert any("timed out" in m for m in messages)
    logged = next(r for r in caplog.records if r.getMessage().startswith("conflict on"))
    assert (logged.occ_entity, logged.occ_outcome, logged.occ_conflict_id) == (  # type: ignore[attr-defined]
        "Counter",
        "merged",
        stored.id,
    )


def test_alert_then_raise_persists_and_raises(engine: sa.Engine) -> None:
    store = fresh(engine)
    events: list[ConflictEvent] = []
    repo = Repository(engine, Row, policy=Alert(store, CallbackSink(events.append)))
    a, b = stale_pair(repo)
    a.value.note, b.value.note = "x", "y"
    repo.save(a)
    with pytest.raises(occ.ConflictError):
        repo.save(b)
    assert [e.outcome for e in events] == ["raised"]
    assert store.count(status="pending", entity="Counter") == 1


def test_resolve_takes_mine_through_a_versioned_write(engine: sa.Engine) -> None:
    store = fresh(engine)
    repo = Repository(engine, Row, policy=Discard(archive=store))
    a, b = stale_pair(repo)
    a.value.note, b.value.note = "first", "second"
    repo.save(a)
    repo.save(b)
    (archived,) = store.list()
    resolved = store.resolve(archived.id, repo, take="mine")
    assert (resolved.version, resolved.value.note) == (3, "second")
    again = store.get(archived.id)
    assert (again.status, again.resolution) == ("resolved", "mine")
    assert again.resolved_at is not None
    with pytest.raises(occ.ValidationError):
        store.resolve(archived.id, repo, take="theirs")


def test_a_stale_resolution_is_itself_a_conflict(engine: sa.Engine) -> None:
    store = fresh(engine)
    repo = Repository(engine, Row, policy=Discard(archive=store))
    a, b = stale_pair(repo)
    a.value.note, b.value.note = "first", "second"
    repo.save(a)
    repo.save(b)
    current = repo.get(1)
    repo.update(1, {"note": "third"}, expected_version=current.version)
    (archived,) = store.list()
    with pytest.raises(occ.ConflictError):
        store.resolve(archived.id, repo, take="values", values={"note": "reviewed"})
    assert store.get(archived.id).status == "discarded"
    assert store.count() == 1  # the strict write was not archived again
    assert store.resolve(archived.id, repo, take="theirs").value.note == "third"
    assert store.get(archived.id).resolution == "theirs"


def test_exhaustion_hands_over_to_on_exhausted_else_raises(engine: sa.Engine) -> None:
    store = fresh(engine)
    once = RetryPolicy(attempts=1)
    merge = Merge(fields={"hits": Counter()}, on_exhausted=Discard(archive=store))
    repo = Repository(engine, Row, policy=merge, retry=once)
    a, b = stale_pair(repo)
    a.value.hits = b.value.hits = 1
    repo.save(a)
    kept = repo.save(b)
    assert kept.value.hits == 1
    assert store.count(status="discarded") == 1
    plain = Repository(engine, Row, policy=Merge(fields={"hits": Counter()}), retry=once)
    c = plain.get(1)
    plain.update(1, {"hits": 5}, expected_version=c.version)
    c.value.hits = 2
    with pytest.raises(occ.RetryExhaustedError):
        plain.save(c)


def test_fast_path_writes_without_version_predicate_and_bumps_version(engine: sa.Engine) -> None:
    fresh(engine)
    policy = Merge(fields={"hits": Counter(), "best": Max()}, fast_path=True)
    repo = Repository(engine, Row, policy=policy)
    a, b = stale_pair(repo)
    a.value.hits, a.value.best = 3, 9
    b.value.hits, b.value.best = 2, 4
    assert repo.save(a).version == 2
    saved = repo.save(b)
    assert (saved.version, saved.value.hits, saved.value.best) == (3, 5, 9)
    updated = repo.update(1, {"hits": 10}, expected_version=1, base={"hits": 0})
    assert (updated.version, updated.value.hits) == (4, 15)
    assert repo.stats.snapshot()["conflicts"] == 0
    # A change without a commutative rule takes the versioned path (and merges).
    noted = repo.update(1, {"note": "x"}, expected_version=1, base={"note": "start"})
    assert (noted.version, noted.value.note, noted.value.hits) == (5, "x", 15)
    assert repo.stats.snapshot()["conflicts"] == 1
    with pytest.raises(occ.NotFoundError):
        repo.update(2, {"hits": 1}, expected_version=1, base={"hits": 0})


def test_registry_policy_applies_to_repositories_built_without_one(engine: sa.Engine) -> None:
    fresh(engine)
    occ.policies.declare({Row: Merge(fields={"hits": Counter()})})
    repo = Repository(engine, Row)
    a, b = stale_pair(repo)
    a.value.hits = b.value.hits = 1
    repo.save(a)
    assert repo.save(b).value.hits == 2
