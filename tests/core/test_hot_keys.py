"""HotKeys: a key whose optimistic attempts keep losing runs hot for a while, then cools."""

from __future__ import annotations

from occ._core.hot import HotKeys


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_occasional_conflicts_never_make_a_key_hot() -> None:
    hot = HotKeys(clock=Clock())
    hot.attempted(1, lost=True)  # starts the watch, not counted
    for n in range(40):
        hot.attempted(1, lost=n % 5 == 0)  # 1 lost in 5
    assert not hot.is_hot(1)


def test_a_key_whose_attempts_keep_losing_runs_hot_then_cools_and_is_measured_afresh() -> None:
    clock = Clock()
    hot = HotKeys(seconds=1.0, ratio=1 / 3, least=4, clock=clock)
    hot.attempted(1, lost=True)  # the watch starts
    for lost in (True, False, True, False):  # 2 of 4 lost
        assert not hot.is_hot(1)
        hot.attempted(1, lost=lost)
    assert hot.is_hot(1)
    assert not hot.is_hot(2)
    hot.attempted(1, lost=True)  # an attempt begun before it ran hot: not counted
    clock.now += 0.9
    assert hot.is_hot(1)
    clock.now += 0.2
    assert not hot.is_hot(1)  # cooled: optimistic again
    for lost in (False, False, False, True):
        hot.attempted(1, lost=lost)
    assert not hot.is_hot(1)  # 1 lost of 4 in the new count


def test_attempts_further_apart_than_the_window_start_a_new_count() -> None:
    clock = Clock()
    hot = HotKeys(seconds=1.0, least=4, clock=clock)
    hot.attempted(1, lost=True)
    for _ in range(6):
        clock.now += 0.6  # the count restarts every other attempt
        hot.attempted(1, lost=True)
    assert not hot.is_hot(1)


def test_keys_never_in_conflict_are_not_counted() -> None:
    hot = HotKeys(clock=Clock())
    for key in range(100):
        hot.attempted(key, lost=False)
    assert len(hot) == 0


def test_it_remembers_a_bounded_number_of_keys() -> None:
    hot = HotKeys(size=3, least=1, clock=Clock())
    for key in range(5):
        hot.attempted(key, lost=True)
        hot.attempted(key, lost=True)
    assert len(hot) == 3
    assert [hot.is_hot(k) for k in range(5)] == [False, False, True, True, True]


def test_keys_of_every_shape_a_repository_takes() -> None:
    hot = HotKeys(least=1, clock=Clock())
    for key in (1, "a", ("north", "bolt"), b"\x01"):
        hot.attempted(key, lost=True)
        hot.attempted(key, lost=True)
        assert hot.is_hot(key)
    hot.attempted({"id": 1}, lost=True)  # unhashable: never hot, never an error
    assert not hot.is_hot({"id": 1})
