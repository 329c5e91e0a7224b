"""Version schemes: how a version is checked, advanced and what "unversioned" reads as."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Protocol

from occ._core.model import Version
from occ.errors import ValidationError

__all__ = ["IntVersions", "TimestampVersions", "VersionScheme"]

_ONE_MICROSECOND = _dt.timedelta(microseconds=1)


class VersionScheme(Protocol):
    """How one kind of version column behaves."""

    name: str
    #: what a stored NULL reads as; writes expecting it match NULL (and this value).
    unversioned: Version

    #: the version of a freshly inserted row.
    def initial(self) -> Version: ...
    def next(self, expected: Version) -> Version: ...
    def check(self, expected: Any, *, what: str = "expected_version") -> Version: ...


class IntVersions:
    """Integer versions: 1 on insert, +1 on every write.

    A NULL stored version (a column added to a table that already had rows)
    reads as 0, and a write expecting 0 matches NULL: such rows are protected
    like any other and get version 1 on their first write. Any version the
    column can hold is accepted as expected (a negative one another program
    stored included): what can be read can be written.

    Args:
        bits: width of the version column (a signed integer; 64 by default).
    """

    name = "int"
    unversioned: Version = 0

    def __init__(self, bits: int = 64) -> None:
        self.low = -(2 ** (bits - 1))
        self.high = 2 ** (bits - 1) - 1

    def initial(self) -> Version:
        return 1

    def next(self, expected: Version) -> Version:
        assert isinstance(expected, int)
        return expected + 1

    def check(self, expected: Any, *, what: str = "expected_version") -> Version:
        # bool is an int subclass: True must not pass for version 1.
        if type(expected) is not int:
            raise ValidationError(
                f"{what} must be an int (the version you read), got "
                f"{type(expected).__name__} {expected!r}"
            )
        if not self.low <= expected < self.high:
            raise ValidationError(
                f"{what} {expected} is outside what the version column holds "
                f"({self.low} to {self.high - 1}, so that it can advance)"
            )
        return expected


class TimestampVersions:
    """Timestamp versions, strictly increasing for each row.

    The next version is ``max(now, expected + 1 µs)``: even two writes in the
    same microsecond, or a clock that stepped back, never store the same value
    twice for one row. ``aware`` selects timezone-aware UTC datetimes.
    """

    name = "timestamp"

    def __init__(self, *, aware: bool = False, clock: Any = None) -> None:
        self.aware = aware
        self._clock = clock or (lambda: _dt.datetime.now(_dt.UTC))
        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
        self.unversioned: Version = epoch if aware else epoch.replace(tzinfo=None)

    def _now(self) -> _dt.datetime:
        now: _dt.datetime = self._clock()
        return now if self.aware else now.replace(tzinfo=None)

    def initial(self) -> Version:
        return self._now()

    def next(self, expected: Version) -> Version:
        assert isinstance(expected, _dt.datetime)
        return max(self._now(), expected + _ONE_MICROSECOND)

    def check(self, expected: Any, *, what: str = "expected_version") -> Version:
        if not isinstance(expected, _dt.datetime):
            raise ValidationError(
                f"{what} must be a datetime (the version you read), got "
                f"{type(expected).__name__} {expected!r}"
            )
        if (expected.tzinfo is not None) != self.aware:
            kind = "timezone-aware" if self.aware else "naive (UTC)"
            raise ValidationError(f"{what} must be a {kind} datetime, got {expected!r}")
        return expected
