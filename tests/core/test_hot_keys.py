"""HotKeys: a key that met a conflict lately is hot for a while, then cools down."""

from __future__ import annotations

from occ._core.hot import HotKeys


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_hot_from_its_conflict_until_it_stays_quiet_long_enough() -> None:
    clock = Clock()
    hot = HotKeys(seconds=1.0, clock=clock)
    assert not hot.is_hot(1)
    hot.mark(1)
    assert hot.is_hot(1)
    assert not hot.is_hot(2)
    clock.now += 0.9
    assert hot.is_hot(1)
    hot.mark(1)  # another conflict: hot again for a full second
    clock.now += 0.9
    assert hot.is_hot(1)
    clock.now += 1.1
    assert not hot.is_hot(1)
    assert len(hot) == 0  # cooled keys are forgotten


def test_it_remembers_a_bounded_number_of_keys_the_latest_first() -> None:
    hot = HotKeys(size=3, clock=Clock())
    for key in range(5):
        hot.mark(key)
    assert len(hot) == 3
    assert [hot.is_hot(k) for k in range(5)] == [False, False, True, True, True]
    hot.mark(2)  # marked again: the newest, so 3 goes first next
    hot.mark(5)
    assert [hot.is_hot(k) for k in (2, 3, 4, 5)] == [True, False, True, True]


def test_keys_of_every_shape_a_repository_takes() -> None:
    hot = HotKeys(clock=Clock())
    for key in (1, "a", ("north", "bolt"), b"\x01"):
        hot.mark(key)
        assert hot.is_hot(key)
    hot.mark({"id": 1})  # unhashable: never hot, never an error
    assert not hot.is_hot({"id": 1})
