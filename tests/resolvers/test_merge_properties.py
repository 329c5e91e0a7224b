"""Hypothesis properties of the three-way merge (pure: no database)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from occ import Conflict
from occ._core.merge import Counter, three_way
from occ.resolvers import Decision, Merge

FIELDS = [f"f{i}" for i in range(6)]
values = st.integers(-1000, 1000)
records = st.fixed_dictionaries(dict.fromkeys(FIELDS, values))


@st.composite
def disjoint_edits(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """A base, my edits and their edits on disjoint fields."""
    base = draw(records)
    owners = draw(st.lists(st.sampled_from(["me", "them", "nobody"]), min_size=6, max_size=6))
    mine = {
        f: draw(values.filter(lambda v, f=f: v != base[f]))
        for f, o in zip(FIELDS, owners, strict=True)
        if o == "me"
    }
    theirs = {
        f: draw(values.filter(lambda v, f=f: v != base[f]))
        for f, o in zip(FIELDS, owners, strict=True)
        if o == "them"
    }
    return base, mine, theirs


def conflict(base: Any, changes: dict[str, Any], theirs: dict[str, Any]) -> Conflict:
    return Conflict(
        entity="Doc",
        key=1,
        action="update",
        kind="version",
        base=base,
        mine={**(base or {}), **changes},
        changes=changes,
        theirs=theirs,
        expected_version=1,
        actual_version=2,
        attempt=1,
    )


def apply(decision: Any, theirs: dict[str, Any]) -> dict[str, Any]:
    assert not decision.raises, decision
    if decision.values is None:
        return dict(theirs)
    return {**theirs, **decision.values}


@given(disjoint_edits())
def test_non_overlapping_changes_merge_to_applying_both(edits: Any) -> None:
    base, mine, their_changes = edits
    theirs = {**base, **their_changes}
    decision = Merge()(conflict(base, mine, theirs))
    assert decision.outcome == "merged"
    assert apply(decision, theirs) == {**base, **mine, **their_changes}


@given(
    st.dictionaries(st.sampled_from("abcd"), values, max_size=4),
    st.dictionaries(st.sampled_from("abcd"), values, max_size=4),
    st.dictionaries(st.sampled_from("abcd"), values, max_size=4),
)
def test_different_nested_keys_merge_without_a_rule(
    base: dict[str, int], mine_add: dict[str, int], their_add: dict[str, int]
) -> None:
    mine_add = {f"m{k}": v for k, v in mine_add.items()}
    their_add = {f"t{k}": v for k, v in their_add.items()}
    b = {"doc": base}
    theirs = {"doc": {**base, **their_add}}
    decision = Merge()(conflict(b, {"doc": {**base, **mine_add}}, theirs))
    assert apply(decision, theirs) == {"doc": {**base, **mine_add, **their_add}}


@given(st.integers(-(10**6), 10**6), st.lists(st.tuples(st.integers(0, 50), values), max_size=30))
def test_counter_merges_sum_every_delta(start: int, writers: list[tuple[int, int]]) -> None:
    """Writers read the counter at various points; each merges its delta into what is stored."""
    history = [start]
    for read_at, delta in writers:
        seen = history[min(read_at, len(history) - 1)]
        stored = history[-1]
        result = three_way({"n": seen}, {"n": seen + delta}, {"n": stored}, {"n": Counter()})
        assert result.ok
        history.append(result.merged["n"])
    assert history[-1] == start + sum(d for _, d in writers)


@given(records, records, records)
def test_merging_is_deterministic(
    base: dict[str, int], mine: dict[str, int], theirs: dict[str, int]
) -> None:
    policy = Merge(fields={"f0": Counter()}, fallback=lambda c: Decision.keep_theirs("gave-up"))
    changes = {k: v for k, v in mine.items() if v != base[k]}
    first = policy(conflict(base, changes, theirs))
    second = policy(conflict(dict(base), dict(changes), dict(theirs)))
    assert first == second
    assert first.details == second.details


@given(values, values, st.lists(values, min_size=1, max_size=10))
def test_retries_recompute_the_delta_from_base_never_twice(
    base: int, mine: int, others: list[int]
) -> None:
    """Each retry merges the same (base, mine) into a newer theirs: the delta lands once."""
    policy = Merge(fields={"n": Counter()})
    stored = base
    for other_delta in others:  # someone else writes before each of my attempts
        stored += other_delta
        decision = policy(conflict({"n": base}, {"n": mine}, {"n": stored}))
        merged = apply(decision, {"n": stored})["n"]
        assert merged - stored == mine - base
