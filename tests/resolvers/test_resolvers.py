"""Resolvers and field rules as pure functions of a Conflict (no database)."""

from __future__ import annotations

from typing import Any

import pytest

import occ
from occ import Conflict
from occ._core.merge import MISSING, three_way
from occ.resolvers import Decision, Discard, Merge, Overwrite, Raise
from occ.resolvers.rules import Counter, Max, Min, Mine, Theirs, Union, Unresolved


def raises(decision: Decision) -> bool:
    return decision.raises


def keeps_theirs(decision: Decision) -> bool:
    return not decision.raises and decision.values is None


def conflict(
    base: Any, changes: dict[str, Any], theirs: Any, *, action: str = "update"
) -> Conflict:
    return Conflict(
        entity="Doc",
        key=7,
        action=action,
        kind="version",
        base=base,  # type: ignore[arg-type]
        mine={**(base or {}), **changes},
        changes=changes,
        theirs=theirs,
        expected_version=1,
        actual_version=2,
        attempt=1,
    )


def test_raise_discard_overwrite_decide_without_effects() -> None:
    c = conflict({"a": 1}, {"a": 2}, {"a": 3})
    assert raises(Raise()(c))
    assert keeps_theirs(Discard()(c))
    assert Discard()(c).outcome == "discarded"
    assert Overwrite()(c) == Decision("overwritten", {"a": 2})
    assert Discard()(c).effects == ()


@pytest.mark.parametrize(
    ("rule", "base", "mine", "theirs", "merged"),
    [
        (Counter(), 10, 13, 15, 18),
        (Counter(), None, 2, 5, 7),
        (Max(), 1, 5, 7, 7),
        (Max(), 1, 9, None, 9),
        (Min(), 5, 3, 4, 3),
        (Mine(), 1, 2, 3, 2),
        (Theirs(), 1, 2, 3, 3),
        (Union(), ["a", "b"], ["a", "b", "c"], ["b", "d"], ["b", "d", "c"]),
        (Union(), {"a", "b"}, {"b"}, {"a", "b", "x"}, {"b", "x"}),
        (lambda b, m, t: f"{t}+{m}", "x", "m", "t", "t+m"),
    ],
)
def test_field_rules_decide_overlaps(
    rule: Any, base: Any, mine: Any, theirs: Any, merged: Any
) -> None:
    result = three_way({"f": base}, {"f": mine}, {"f": theirs}, {"f": rule})
    assert result.ok
    assert result.merged == {"f": merged}


def test_counter_adds_equal_increments_instead_of_settling_them() -> None:
    result = three_way({"n": 0}, {"n": 1}, {"n": 1}, {"n": Counter()})
    assert result.merged == {"n": 2}
    assert [e.action for e in result.entries] == ["counter"]


def test_overlap_without_rule_escalates_to_fallback_with_recorded_entries() -> None:
    c = conflict({"a": 1, "b": 1}, {"a": 2, "b": 5}, {"a": 1, "b": 9})
    decision = Merge()(c)
    assert raises(decision)
    assert decision.details["unresolved"] == ["b"]
    entries = {e["path"]: e for e in decision.details["merge"]}
    assert entries["a"] == {
        "path": "a",
        "base": 1,
        "mine": 2,
        "theirs": 1,
        "action": "mine",
        "result": 2,
    }
    assert entries["b"]["action"] == "unresolved"
    kept = Merge(fallback=Discard())(c)
    assert keeps_theirs(kept)
    assert kept.details["unresolved"] == ["b"]


def test_merge_records_every_decision_in_details() -> None:
    c = conflict({"n": 1, "t": "x", "u": 0}, {"n": 4, "t": "y"}, {"n": 2, "t": "x", "u": 5})
    decision = Merge(fields={"n": Counter()})(c)
    assert decision == Decision("merged", {"n": 5, "t": "y"}, details=decision.details)
    assert [(e["path"], e["action"], e["result"]) for e in decision.details["merge"]] == [
        ("n", "counter", 5),
        ("t", "mine", "y"),
    ]


def test_nested_paths_merge_and_take_rules_by_dotted_path() -> None:
    base = {"stats": {"views": 1, "likes": 0}, "tags": {"a": 1}}
    mine = {"stats": {"views": 3, "likes": 0}, "tags": {"a": 1, "b": 2}}
    theirs = {"stats": {"views": 2, "likes": 4}, "tags": {}}
    decision = Merge(fields={"stats.views": Counter()})(conflict(base, mine, theirs))
    assert decision.outcome == "merged"
    assert decision.values == {"stats": {"views": 4, "likes": 4}, "tags": {"b": 2}}


def test_update_without_base_escalates_what_needs_one() -> None:
    c = conflict(None, {"n": 5, "hi": 3}, {"n": 9, "hi": 7})
    decision = Merge(fields={"n": Counter(), "hi": Max()})(c)
    assert raises(decision)
    assert decision.details["unresolved"] == ["n"]
    assert Merge(fields={"hi": Max()})(conflict(None, {"hi": 3}, {"hi": 7})) == Decision(
        "merged",
        None,
        details={
            "merge": [
                {"path": "hi", "base": None, "mine": 3, "theirs": 7, "action": "max", "result": 7}
            ],
            "unresolved": [],
        },
    )


def test_a_rule_may_decline_with_unresolved() -> None:
    def picky(base: Any, mine: Any, theirs: Any) -> Any:
        raise Unresolved("ask a human")

    decision = Merge(fields={"a": picky})(conflict({"a": 1}, {"a": 2}, {"a": 3}))
    assert raises(decision)
    assert decision.details["merge"][0]["reason"] == "ask a human"


def test_delete_conflict_is_never_merged() -> None:
    c = conflict(None, {}, {"a": 1}, action="delete")
    assert keeps_theirs(Merge(fallback=Discard())(c))
    assert raises(Merge()(c))


def test_deleted_keys_inside_a_dict_merge() -> None:
    result = three_way({"d": {"a": 1, "b": 2}}, {"d": {"b": 2}}, {"d": {"a": 1, "b": 3}})
    assert result.merged == {"d": {"b": 3}}
    assert MISSING not in result.merged["d"].values()


def test_registry_declares_policies_in_one_place() -> None:
    policy = Merge(fields={"n": Counter()})
    occ.policies.declare({"Doc": policy, "Other": Discard()})
    assert occ.policies.policy_for(object, "Doc") is policy
    assert isinstance(occ.policies.policy_for(object, "Other"), Discard)
    assert isinstance(occ.policies.policy_for(object, "Nope"), Raise)
    with pytest.raises(TypeError):
        occ.policies.register("Doc", "not a resolver")  # type: ignore[arg-type]
