"""Hypothesis strategies for every value a model can hold, and exact comparison.

The values are bounded (depth 3, a few items per container) and include
dicts that look like the archive's own tags (``{"$date": "2020-01-01"}``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import ipaddress
import math
import uuid
import zoneinfo
from typing import Any

import bson
from hypothesis import strategies as st


class Colour(enum.Enum):
    """A plain enum."""

    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    """An int enum: equal to ints, but not the same value."""

    S = 1
    M = 2


class Mood(enum.StrEnum):
    """A str enum."""

    CALM = "calm"


TAGS = ["$date", "$set", "$repr", "$datetime", "$tuple", "$dict", "$enum", "$oid", "$float", "$x"]

zones = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=-3, minutes=-30)),
        zoneinfo.ZoneInfo("Europe/Paris"),
    ]
)
datetimes = st.builds(
    lambda naive, tz, fold: naive.replace(tzinfo=tz, fold=fold),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    zones,
    st.integers(0, 1),
)
times = st.builds(
    lambda t, tz: t.replace(tzinfo=tz),
    st.times(),
    st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=5))]),
)

#: what a SQL model can hold (column values, JSON documents).
sql_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.dates(),
    datetimes,
    times,
    st.timedeltas(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.uuids(),
    st.binary(max_size=8),
    st.sampled_from([Colour.RED, Colour.GREEN, Size.S, Size.M, Mood.CALM]),
    st.sampled_from([ipaddress.ip_address("10.0.0.1"), ipaddress.ip_network("2001:db8::/32")]),
)

#: what a MongoDB document can hold besides: BSON values.
bson_scalars = st.one_of(
    st.builds(bson.ObjectId),
    st.integers(-(2**63), 2**63 - 1).map(bson.Int64),
    st.decimals(allow_nan=False, places=3, min_value=-(10**6), max_value=10**6).map(
        bson.Decimal128
    ),
    st.builds(bson.Binary, st.binary(max_size=6), st.sampled_from([0, 4, 128])),
    st.builds(bson.Regex, st.text(max_size=5), st.integers(0, 8)),
    st.builds(bson.Timestamp, st.integers(0, 2**31), st.integers(0, 2**31)),
)

keys = st.one_of(st.text(max_size=6), st.sampled_from(TAGS))
hashables = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.dates())


def nested(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Scalars inside lists, tuples, sets and dicts (tag-like keys included), depth <= 3."""

    def grow(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(inner, max_size=3),
            st.tuples(inner, inner),
            st.frozensets(hashables, max_size=3),
            st.sets(hashables, max_size=3),
            st.dictionaries(keys, inner, max_size=3),
            st.dictionaries(st.integers(), inner, max_size=2),
            st.builds(lambda tag, v: {tag: v}, st.sampled_from(TAGS), inner),
        )

    return st.recursive(scalars, grow, max_leaves=8)


def records(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A record: field names to values."""
    return st.dictionaries(st.text(min_size=1, max_size=5), values, max_size=4)


def same(a: Any, b: Any) -> bool:
    """Exactly the same value: same types all the way down, dict order, NaN, signed zeros."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, dt.datetime | dt.time):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold and str(a) == str(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, set | frozenset):
        return a == b
    if isinstance(a, bson.Binary):
        return bytes(a) == bytes(b) and a.subtype == b.subtype
    if isinstance(a, uuid.UUID | bson.Regex):
        return (
            a == b
            if not isinstance(a, bson.Regex)
            else (a.pattern, a.flags) == (b.pattern, b.flags)
        )
    return bool(a == b)
