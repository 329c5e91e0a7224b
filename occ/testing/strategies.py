"""Hypothesis strategies for concurrent-writer tests.

``schedules()`` draws a :class:`~occ.testing.Schedule`: how many writers, the
key each of their operations touches, and the order of turns at each named
point. It shrinks towards fewer operations and a serial order, so a failing
example ends as the smallest interleaving that still fails; its ``repr`` is
the exact value to pass to :func:`~occ.testing.run_schedule` to replay it.
"""

from __future__ import annotations

from hypothesis import strategies as st

from occ.testing._schedule import Schedule

__all__ = ["schedules"]

Range = int | tuple[int, int]


def _bounds(value: Range, what: str) -> tuple[int, int]:
    low, high = (value, value) if isinstance(value, int) else value
    if low < 1 or high < low:
        raise ValueError(f"{what} must be >= 1 (or a (low, high) range), got {value!r}")
    return low, high


@st.composite
def _schedules(
    draw: st.DrawFn, writers: tuple[int, int], keys: tuple[int, int], ops: tuple[int, int]
) -> Schedule:
    n = draw(st.integers(*writers), label="writers")
    k = draw(st.integers(*keys), label="keys")
    plans = tuple(
        tuple(draw(st.lists(st.integers(0, k - 1), min_size=ops[0], max_size=ops[1])))
        for _ in range(n)
    )
    # Each operation has a handful of decision points: read, write, conflict, retry.
    points = 4 * sum(len(plan) for plan in plans)
    order = tuple(draw(st.lists(st.integers(0, n - 1), max_size=points), label="order"))
    return Schedule(plans=plans, order=order)


def schedules(
    writers: Range = (2, 3), keys: Range = (1, 2), ops: Range = (1, 2)
) -> st.SearchStrategy[Schedule]:
    """Schedules for ``writers`` writers over ``keys`` keys, ``ops`` operations each.

    Args:
        writers: number of writers, or a ``(low, high)`` range.
        keys: number of keys, or a range; a run maps key ``i`` to ``keys[i % len(keys)]``.
        ops: operations per writer, or a range.
    """
    return _schedules(_bounds(writers, "writers"), _bounds(keys, "keys"), _bounds(ops, "ops"))
