"""Reads of the values that match a filter: what ``query`` and ``scan`` ask a backend (pure).

A :class:`Query` is performed by the backend's ``_query`` in one round trip
(one ``SELECT``, one ``find``). The filter is the backend's own language — a
SQLAlchemy expression, a MongoDB filter document — or, on every backend, a
mapping of field names to values that must be equal. Order is by field
names (``"-name"``: descending), and the key always breaks ties, so that the
order, and every page of it, is deterministic. ``scan`` pages through the
key order with keyset pagination: each page is one query for the keys after
the last one seen, so memory stays bounded by the page size and a page never
skips or repeats a row because others were inserted or deleted meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from occ.errors import ValidationError

__all__ = ["Query", "check_count", "parse_order"]


@dataclass(frozen=True, slots=True)
class Query:
    """One read of the values matching a filter.

    Attributes:
        where: ``None`` (every value), a mapping of field name to value (all
            must be equal), or the backend's native filter.
        order: ``(field name, descending)`` pairs; the backend appends the key.
        limit: at most this many values (``None``: all).
        after: keyset pagination: only keys greater than this one, in key order
            (``order`` is then empty); ``None``: from the first key.
    """

    where: Any = None
    order: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    after: Any = None


def parse_order(order_by: Any) -> tuple[tuple[str, bool], ...]:
    """``"name"``, ``"-name"`` or a sequence of them as ``(name, descending)`` pairs.

    Raises:
        ValidationError: not a field name or a sequence of field names.
    """
    if order_by is None:
        return ()
    names: Sequence[Any] = [order_by] if isinstance(order_by, str) else order_by
    if not isinstance(names, Sequence):
        raise ValidationError(
            f"order_by must be a field name or a sequence of them ('-name' for descending), "
            f"got {type(order_by).__name__}"
        )
    out: list[tuple[str, bool]] = []
    for name in names:
        if not isinstance(name, str) or name in ("", "-"):
            raise ValidationError(f"order_by: {name!r} is not a field name")
        out.append((name[1:], True) if name.startswith("-") else (name, False))
    return tuple(out)


def check_count(value: Any, what: str, *, minimum: int, optional: bool = False) -> int | None:
    """``value`` as a count of at least ``minimum`` (``None`` when ``optional``).

    Raises:
        ValidationError: not an int (a bool is not one), or below ``minimum``.
    """
    if value is None and optional:
        return None
    if type(value) is not int or value < minimum:
        raise ValidationError(f"{what} must be an int >= {minimum}, got {value!r}")
    return value
