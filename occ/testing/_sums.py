"""Which totals counter deltas can add up to, when some writes may or may not have applied.

A :class:`Sums` is the set of totals reachable by picking one value per
*slot* (one of several writes that may have produced a version) or by
taking each *optional* value (a write whose outcome is unknown) at most once.
Integer totals are kept exactly, as the bits of one Python ``int`` (bit ``i``
set: ``low + i`` is reachable), so each step is one shift-and-or over the
span of totals, not a search over subsets. A span beyond :data:`MAX_SPAN`,
or a value that is not an ``int``, keeps only the bounds: membership then
means "between the least and the greatest reachable total".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_SPAN", "Sums"]

#: widest span of integer totals kept exactly (bits of one int).
MAX_SPAN = 1 << 22


class Sums:
    """The totals reachable so far (starting with just 0)."""

    def __init__(self) -> None:
        self.low: Any = 0
        self.high: Any = 0
        self.exact = True
        self._bits = 1

    def choose(self, options: Iterable[Any]) -> None:
        """Add one of ``options`` (at least one) to every total."""
        values = set(options)
        low, high = min(values), max(values)
        self.low += low
        self.high += high
        if not self.exact:
            return
        if not all(type(v) is int for v in values) or self.high - self.low > MAX_SPAN:
            self.exact = False
            self._bits = 0
            return
        bits = 0
        for value in values:
            bits |= self._bits << (value - low)
        self._bits = bits

    def optional(self, value: Any, count: int = 1) -> None:
        """Add ``value`` to every total 0 to ``count`` times.

        ``count`` equal values cost O(log count) steps (binary splitting:
        chunks of 1, 2, 4, ... copies, each taken or not).
        """
        chunk = 1
        while count > 0:
            take = min(chunk, count)
            self.choose((0, value * take))
            count -= take
            chunk *= 2

    def __contains__(self, total: Any) -> bool:
        try:
            if not self.low <= total <= self.high:
                return False
        except TypeError:
            return False
        if not self.exact:
            return True
        if type(total) is not int:
            try:
                whole = int(total)
            except (TypeError, ValueError, OverflowError):
                return False
            if whole != total:
                return False
            total = whole
        return bool(self._bits >> (total - self.low) & 1)
